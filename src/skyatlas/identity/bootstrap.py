"""First start of an empty store: the domain, the `default` workspace, the admin app and the
admin user.

This is the only way the first credentials come to exist. It runs under the migration lock, so
of several processes starting together exactly one creates the domain; the rest find it.
The admin secret and the admin user's first password go to `<data dir>/bootstrap.json` (0600)
and nowhere else: not the console, not the log, not the store (which keeps only the password's
hash). The admin user must change that password at first sign-in.

A store bootstrapped before users existed gets no admin user: its admin app can create one.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Connection, insert, select

from skyatlas.identity.roles import MANAGED_ROLE_IDS, RoleType
from skyatlas.identity.tokens import create_domain_key, issue_client_secret
from skyatlas.identity.users import generate_password, insert_user
from skyatlas.ids import new_id, utcnow
from skyatlas.runtime import Runtime
from skyatlas.store.tables import apps, domain_keys, domains, role_bindings, workspaces

BOOTSTRAP_FILE = "bootstrap.json"
DOMAIN_NAME = "skyatlas"
ADMIN_APP_LIFETIME = timedelta(days=365)
ADMIN_USER_ID = "admin"


@dataclass(frozen=True)
class BootstrapResult:
    created: bool
    path: Path
    domain_id: str


def _write_private(path: Path, content: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(content, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


def check_master_key(conn: Connection, runtime: Runtime, domain_id: str) -> None:
    """Refuse to start with a master key that does not open the store's secrets, rather than
    start and fail every request that needs them."""
    sealed = conn.execute(
        select(domain_keys.c.private_key_encrypted).where(domain_keys.c.domain_id == domain_id)
    ).scalar_one()
    runtime.sealer.open(sealed, context=f"domain-key:{domain_id}")


def bootstrap(conn: Connection, runtime: Runtime) -> BootstrapResult:
    settings = runtime.settings
    path = Path(settings.data_dir).resolve() / BOOTSTRAP_FILE
    existing = conn.execute(select(domains.c.domain_id).limit(1)).scalar_one_or_none()
    if existing is not None:
        check_master_key(conn, runtime, existing)
        return BootstrapResult(created=False, path=path, domain_id=existing)

    now = utcnow()
    domain_id = new_id("domain")
    workspace_id = new_id("workspace")
    app_id = new_id("app")
    client_id = str(uuid.uuid4())
    expires = now + ADMIN_APP_LIFETIME
    conn.execute(
        insert(domains).values(
            domain_id=domain_id,
            name=DOMAIN_NAME,
            state="ENABLED",
            tags={},
            created_at=now,
            updated_at=now,
        )
    )
    create_domain_key(conn, runtime.sealer, domain_id)
    conn.execute(
        insert(workspaces).values(
            workspace_id=workspace_id,
            domain_id=domain_id,
            name="default",
            state="ENABLED",
            tags={},
            created_at=now,
            updated_at=now,
        )
    )
    conn.execute(
        insert(apps).values(
            app_id=app_id,
            domain_id=domain_id,
            workspace_id=None,
            name="bootstrap-admin",
            state="ENABLED",
            role_id=MANAGED_ROLE_IDS[RoleType.DOMAIN_ADMIN],
            role_type=RoleType.DOMAIN_ADMIN.value,
            resource_group="DOMAIN",
            project_id=None,
            project_group_id=None,
            client_id=client_id,
            expired_at=expires,
            tags={"created_by": "bootstrap"},
            created_at=now,
            updated_at=now,
        )
    )
    admin_password = generate_password()
    insert_user(
        conn,
        domain_id=domain_id,
        user_id=ADMIN_USER_ID,
        password=admin_password,
        name="Administrator",
        email=None,
        tags={"created_by": "bootstrap"},
        now=now,
    )
    conn.execute(
        insert(role_bindings).values(
            role_binding_id=new_id("rb"),
            domain_id=domain_id,
            user_id=ADMIN_USER_ID,
            role_id=MANAGED_ROLE_IDS[RoleType.DOMAIN_ADMIN],
            role_type=RoleType.DOMAIN_ADMIN.value,
            resource_group="DOMAIN",
            workspace_id=None,
            project_id=None,
            project_group_id=None,
            created_at=now,
        )
    )
    secret = issue_client_secret(
        conn,
        runtime.sealer,
        domain_id=domain_id,
        workspace_id=None,
        role_type=RoleType.DOMAIN_ADMIN.value,
        app_id=app_id,
        client_id=client_id,
        expires_at=expires,
        issued_at=now,
    )
    # Written inside the transaction: if the file cannot be written, nothing is committed and
    # the next start tries again instead of leaving a domain nobody can sign in to.
    _write_private(
        path,
        {
            "endpoint": settings.endpoint,
            "domain_id": domain_id,
            "workspace_id": workspace_id,
            "app_id": app_id,
            "client_secret": secret,
            "admin_user_id": ADMIN_USER_ID,
            "admin_password": admin_password,
        },
    )
    return BootstrapResult(created=True, path=path, domain_id=domain_id)
