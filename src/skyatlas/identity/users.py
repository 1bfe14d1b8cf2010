"""Local users: passwords, lockout, the workspaces a user may enter, the caller it acts as, and
its tokens. The web console calls these functions directly; the `identity.user`,
`identity.role-binding` and `identity.token` verbs are built on them.

`authenticate_password` takes the runtime, not a connection. A wrong password must be counted
even though the sign-in fails, and a failing request's transaction is rolled back; so it runs
its own short write transaction, commits the counter (or, on success, the reset and
`last_accessed_at`), and only then raises or returns. Call it while holding no write transaction
on the same store: SQLite has one writer, and it would wait for itself.

Lockout: the 10th wrong password in a row locks the user for 5 minutes. The count is not reset
by the lock expiring, so every further wrong password locks it again at once: after ten misses
an attacker gets one guess per 5 minutes, not ten. A right password, an admin's password reset
or `user.enable` resets it.

Tokens are JWTs signed by the domain key like client secrets. Access tokens live 30 minutes and
name their scope (`wid`: a workspace, or `*` for the domain); refresh tokens live 8 hours and
only buy new access tokens. Both die with the user, when it is disabled, and when its password
changes (`tokens_valid_after`).
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Row, insert, select, update

from skyatlas.crypto import Sealer
from skyatlas.errors import AuthenticationFailed, InvalidParameter, PermissionDenied
from skyatlas.identity.caller import Caller
from skyatlas.identity.roles import RoleType
from skyatlas.identity.tokens import (
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    InvalidToken,
    KeyCache,
    check_user_token,
    issue_user_token,
    verify_token,
)
from skyatlas.ids import utcnow
from skyatlas.store.tables import domains, role_bindings, roles, users, workspaces

if TYPE_CHECKING:
    from skyatlas.runtime import Runtime

UPDATE_PASSWORD = "UPDATE_PASSWORD"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
MAX_FAILED_ATTEMPTS = 10
LOCKOUT = timedelta(minutes=5)
ACCESS_TOKEN_LIFETIME = timedelta(minutes=30)
REFRESH_TOKEN_LIFETIME = timedelta(hours=8)
WRONG_CREDENTIALS = "invalid user_id or password"

_hasher = PasswordHasher()
_dummy_hash: str | None = None


# -- passwords -----------------------------------------------------------------------------------
def check_password_policy(pw: str) -> None:
    """Refuse a weak password, naming everything it lacks at once (one round trip to fix it)."""
    missing = []
    if len(pw) < MIN_PASSWORD_LENGTH:
        missing.append(f"at least {MIN_PASSWORD_LENGTH} characters (it has {len(pw)})")
    if not any(c.isalpha() for c in pw):
        missing.append("at least one letter")
    if not any(c.isdigit() for c in pw):
        missing.append("at least one digit")
    if missing:
        joined = " and ".join([", ".join(missing[:-1]), missing[-1]] if missing[:-1] else missing)
        raise InvalidParameter(f"the password is too weak: it needs {joined}")
    if len(pw) > MAX_PASSWORD_LENGTH:
        raise InvalidParameter(
            f"the password is too long: at most {MAX_PASSWORD_LENGTH} characters (it has {len(pw)})"
        )
    if "\x00" in pw or not _encodable(pw):
        raise InvalidParameter("the password contains characters that cannot be stored")


def _encodable(pw: str) -> bool:
    try:
        pw.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def hash_password(pw: str) -> str:
    if not _encodable(pw):
        raise InvalidParameter("the password contains characters that cannot be stored")
    return _hasher.hash(pw)


def verify_password(password_hash: str, pw: str) -> bool:
    if not _encodable(pw):
        return False
    try:
        return _hasher.verify(password_hash, pw)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A random password that passes the policy (shown once to whoever asked for it)."""
    while True:
        pw = secrets.token_urlsafe(12)
        if any(c.isalpha() for c in pw) and any(c.isdigit() for c in pw):
            return pw


def _waste_a_verification(pw: str) -> None:
    """An unknown user costs as much time as a wrong password, so timing tells them apart no
    better than the (identical) message does."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    verify_password(_dummy_hash, pw)


def _locked_message(locked_until: Any, now: Any) -> str:
    minutes = max(1, math.ceil((locked_until - now).total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (
        f"the user is locked after {MAX_FAILED_ATTEMPTS} failed sign-ins in a row; "
        f"try again in {minutes} {unit}"
    )


def is_locked(row: Any, now: Any = None) -> bool:
    return row.locked_until is not None and row.locked_until > (now or utcnow())


# -- users -----------------------------------------------------------------------------------
def get_user(conn: Connection, domain_id: str, user_id: str) -> Row[Any] | None:
    return conn.execute(
        select(users).where(users.c.domain_id == domain_id, users.c.user_id == user_id)
    ).one_or_none()


def _enabled_user(conn: Connection, domain_id: str, user_id: str) -> Row[Any]:
    row = get_user(conn, domain_id, user_id)
    if row is None:
        raise AuthenticationFailed(f"the user {user_id} does not exist")
    if row.state != "ENABLED":
        raise AuthenticationFailed(f"the user {user_id} is disabled")
    return row


def insert_user(
    conn: Connection,
    *,
    domain_id: str,
    user_id: str,
    password: str,
    name: str | None,
    email: str | None,
    tags: dict[str, str],
    now: datetime,
) -> None:
    """A new, enabled user that must choose its own password at first sign-in (whoever set this
    one — an admin, a generator — should not keep knowing it)."""
    conn.execute(
        insert(users).values(
            domain_id=domain_id,
            user_id=user_id,
            name=name,
            email=email,
            password_hash=hash_password(password),
            state="ENABLED",
            required_actions=[UPDATE_PASSWORD],
            failed_attempts=0,
            locked_until=None,
            tokens_valid_after=now,
            last_accessed_at=None,
            tags=tags,
            created_at=now,
            updated_at=now,
        )
    )


def authenticate_password(
    runtime: Runtime, domain_id: str, user_id: str, password: str
) -> Row[Any]:
    """The user row if the password is right; counts a wrong one and locks after ten in a row.
    See the module docstring for why this takes the runtime and commits on its own.

    The hash is checked outside any transaction (it takes a tenth of a second on purpose, and
    SQLite's one write lock must not wait on it); the outcome is then written in a short write
    transaction that re-reads the row, so concurrent attempts neither lose a count nor slip a
    right password past a lock or a password change that landed meanwhile."""
    with runtime.store.read() as conn:
        seen = get_user(conn, domain_id, user_id)
    now = utcnow()
    if seen is None:
        _waste_a_verification(password)
        raise AuthenticationFailed(WRONG_CREDENTIALS)
    if is_locked(seen, now):
        # Not even checked: a locked account is no oracle for the right password.
        raise AuthenticationFailed(_locked_message(seen.locked_until, now))
    right = verify_password(seen.password_hash, password)
    rehash = (
        hash_password(password)
        if right and _hasher.check_needs_rehash(seen.password_hash)
        else None
    )
    where = (users.c.domain_id == domain_id, users.c.user_id == user_id)
    refusal: AuthenticationFailed | None = None
    with runtime.store.begin(write=True) as conn:
        row = conn.execute(select(users).where(*where).with_for_update()).one_or_none()
        now = utcnow()
        if row is None:
            refusal = AuthenticationFailed(WRONG_CREDENTIALS)
        elif not right:
            attempts = row.failed_attempts + 1
            values: dict[str, Any] = {"failed_attempts": attempts}
            refusal = AuthenticationFailed(WRONG_CREDENTIALS)
            if attempts >= MAX_FAILED_ATTEMPTS:
                values["locked_until"] = now + LOCKOUT
                refusal = AuthenticationFailed(_locked_message(now + LOCKOUT, now))
            conn.execute(update(users).where(*where).values(values))
        elif row.password_hash != seen.password_hash:
            # The password changed while this one was being checked: it proves nothing now.
            refusal = AuthenticationFailed(WRONG_CREDENTIALS)
        elif is_locked(row, now):
            refusal = AuthenticationFailed(_locked_message(row.locked_until, now))
        elif row.state != "ENABLED":
            refusal = AuthenticationFailed(f"the user {user_id} is disabled")
        else:
            values = {"failed_attempts": 0, "locked_until": None, "last_accessed_at": now}
            if rehash is not None:
                values["password_hash"] = rehash
            conn.execute(update(users).where(*where).values(values))
            row = get_user(conn, domain_id, user_id)
    if refusal is not None:
        raise refusal
    assert row is not None
    return row


def change_password(conn: Connection, domain_id: str, user_id: str, current: str, new: str) -> None:
    """The user's own change: it proves the current password, and every token issued before
    the change stops working (a stolen session does not outlive it). A wrong `current` is a
    400 and is not counted toward the lockout (the caller is already signed in)."""
    row = _enabled_user(conn, domain_id, user_id)
    now = utcnow()
    if is_locked(row, now):
        raise AuthenticationFailed(_locked_message(row.locked_until, now))
    if not verify_password(row.password_hash, current):
        raise InvalidParameter("the current password is wrong")
    check_password_policy(new)
    if new == current:
        raise InvalidParameter("the new password must differ from the current one")
    actions = [a for a in (row.required_actions or []) if a != UPDATE_PASSWORD]
    conn.execute(
        update(users)
        .where(users.c.domain_id == domain_id, users.c.user_id == user_id)
        .values(
            password_hash=hash_password(new),
            required_actions=actions,
            failed_attempts=0,
            locked_until=None,
            tokens_valid_after=now,
            updated_at=now,
        )
    )


# -- where a user may act -----------------------------------------------------------------------
def _binding(conn: Connection, domain_id: str, user_id: str, workspace_id: str | None) -> Any:
    """The user's DOMAIN binding (workspace_id None) or its binding in one workspace, with its
    role's current type and permissions."""
    where_ws = (
        role_bindings.c.workspace_id.is_(None)
        if workspace_id is None
        else role_bindings.c.workspace_id == workspace_id
    )
    return conn.execute(
        select(
            role_bindings.c.role_id,
            role_bindings.c.workspace_id,
            role_bindings.c.project_id,
            role_bindings.c.project_group_id,
            roles.c.role_type,
            roles.c.permissions,
        )
        .select_from(role_bindings.join(roles, roles.c.role_id == role_bindings.c.role_id))
        .where(
            role_bindings.c.domain_id == domain_id,
            role_bindings.c.user_id == user_id,
            where_ws,
        )
    ).first()


def is_domain_admin(conn: Connection, domain_id: str, user_id: str) -> bool:
    binding = _binding(conn, domain_id, user_id, None)
    return binding is not None and binding.role_type == RoleType.DOMAIN_ADMIN


def user_workspaces(conn: Connection, domain_id: str, user_id: str) -> list[dict[str, Any]]:
    """The workspaces the user can enter, with the role type it acts with there (a domain
    admin acts as WORKSPACE_OWNER in each). Disabled workspaces are left out: nobody can enter
    them."""
    if is_domain_admin(conn, domain_id, user_id):
        rows = conn.execute(
            select(workspaces.c.workspace_id, workspaces.c.name).where(
                workspaces.c.domain_id == domain_id, workspaces.c.state == "ENABLED"
            )
        ).all()
        found = [
            {"workspace_id": w, "name": n, "role_type": RoleType.WORKSPACE_OWNER.value}
            for w, n in rows
        ]
    else:
        rows = conn.execute(
            select(workspaces.c.workspace_id, workspaces.c.name, roles.c.role_type)
            .select_from(
                role_bindings.join(
                    workspaces, workspaces.c.workspace_id == role_bindings.c.workspace_id
                ).join(roles, roles.c.role_id == role_bindings.c.role_id)
            )
            .where(
                role_bindings.c.domain_id == domain_id,
                role_bindings.c.user_id == user_id,
                workspaces.c.domain_id == domain_id,
                workspaces.c.state == "ENABLED",
            )
        ).all()
        found = [{"workspace_id": w, "name": n, "role_type": t} for w, n, t in rows]
    return sorted(found, key=lambda w: (w["name"], w["workspace_id"]))


def _permissions(value: Any) -> tuple[str, ...] | None:
    return tuple(value) if isinstance(value, list) else None


def caller_for(
    conn: Connection, user: Any, *, workspace_id: str | None, admin_mode: bool
) -> Caller:
    """`user_caller` for a user row already loaded (and checked to be usable)."""
    domain_id, user_id = user.domain_id, user.user_id
    admin = _binding(conn, domain_id, user_id, None)
    if admin is not None and admin.role_type != RoleType.DOMAIN_ADMIN:
        admin = None
    common = {"domain_id": domain_id, "app_id": f"user:{user_id}", "user_id": user_id}
    if admin_mode:
        if workspace_id is not None:
            raise InvalidParameter(
                "admin mode acts on the whole domain: give no workspace_id with it"
            )
        if admin is None:
            raise PermissionDenied(f"user {user_id} is not a domain admin")
        return Caller(
            role_type=RoleType.DOMAIN_ADMIN,
            role_id=admin.role_id,
            permissions=_permissions(admin.permissions),
            **common,
        )
    if workspace_id is None:
        raise InvalidParameter(
            "workspace_id is required: say which workspace to enter (or use admin mode)"
        )
    binding = None if admin is not None else _binding(conn, domain_id, user_id, workspace_id)
    state = conn.execute(
        select(workspaces.c.state).where(
            workspaces.c.workspace_id == workspace_id, workspaces.c.domain_id == domain_id
        )
    ).scalar_one_or_none()
    if state is None or (admin is None and binding is None):
        raise PermissionDenied(f"user {user_id} has no role in workspace {workspace_id}")
    if state != "ENABLED":
        raise PermissionDenied(f"workspace {workspace_id} is disabled")
    if admin is not None:
        # A domain admin entering a workspace acts as its owner, with the admin role's
        # permissions (a custom admin role stays as narrow as it is).
        return Caller(
            role_type=RoleType.WORKSPACE_OWNER,
            role_id=admin.role_id,
            permissions=_permissions(admin.permissions),
            workspace_id=workspace_id,
            **common,
        )
    return Caller(
        role_type=RoleType(binding.role_type),
        role_id=binding.role_id,
        permissions=_permissions(binding.permissions),
        workspace_id=workspace_id,
        project_id=binding.project_id,
        project_group_id=binding.project_group_id,
        **common,
    )


def user_caller(
    conn: Connection,
    domain_id: str,
    user_id: str,
    *,
    workspace_id: str | None,
    admin_mode: bool,
) -> Caller:
    """The caller a signed-in user acts as: in admin mode the domain (domain admins only),
    otherwise one workspace, where its binding decides the role and, for members, the
    projects. Read afresh each time, like an app's caller."""
    user = _enabled_user(conn, domain_id, user_id)
    return caller_for(conn, user, workspace_id=workspace_id, admin_mode=admin_mode)


# -- tokens --------------------------------------------------------------------------------------
def default_domain(conn: Connection, domain_id: str | None = None) -> str:
    """The domain a sign-in means: the one named, or the store's only one."""
    if domain_id is not None:
        found = conn.execute(
            select(domains.c.domain_id).where(domains.c.domain_id == domain_id)
        ).scalar_one_or_none()
        if found is None:
            raise AuthenticationFailed(WRONG_CREDENTIALS)
        return found
    found_ids = conn.execute(select(domains.c.domain_id).limit(2)).scalars().all()
    if len(found_ids) != 1:
        raise InvalidParameter("domain_id is required: the store holds several domains")
    return found_ids[0]


def issue_access_token(conn: Connection, sealer: Sealer, caller: Caller) -> str:
    assert caller.user_id is not None
    return issue_user_token(
        conn,
        sealer,
        typ=ACCESS_TOKEN,
        domain_id=caller.domain_id,
        user_id=caller.user_id,
        lifetime=ACCESS_TOKEN_LIFETIME,
        workspace_id=None if caller.is_admin else caller.workspace_id,
        role_type=caller.role_type.value,
    )


def issue_refresh_token(conn: Connection, sealer: Sealer, domain_id: str, user_id: str) -> str:
    return issue_user_token(
        conn,
        sealer,
        typ=REFRESH_TOKEN,
        domain_id=domain_id,
        user_id=user_id,
        lifetime=REFRESH_TOKEN_LIFETIME,
    )


def sign_in_caller(conn: Connection, user: Any) -> Caller:
    """Where a fresh sign-in lands: the domain for a domain admin, else the user's first
    workspace by name."""
    if is_domain_admin(conn, user.domain_id, user.user_id):
        return caller_for(conn, user, workspace_id=None, admin_mode=True)
    entered = user_workspaces(conn, user.domain_id, user.user_id)
    if not entered:
        raise PermissionDenied(
            f"user {user.user_id} has no role in any enabled workspace: ask a domain admin for "
            "a role binding"
        )
    return caller_for(conn, user, workspace_id=entered[0]["workspace_id"], admin_mode=False)


def _live_user(conn: Connection, claims: dict[str, Any]) -> Row[Any]:
    """The token's user, if it still exists, is enabled and has not changed its password since
    the token was issued."""
    user = get_user(conn, claims["did"], claims["aud"])
    if user is None:
        raise AuthenticationFailed("invalid token: the user was deleted")
    if user.state != "ENABLED":
        raise AuthenticationFailed("invalid token: the user is disabled")
    # iat has milliseconds; half a millisecond absorbs the float's rounding.
    if float(claims["iat"]) + 0.0005 < user.tokens_valid_after.timestamp():
        raise AuthenticationFailed("invalid token: the token was revoked by a password change")
    return user


def access_token_caller(conn: Connection, claims: dict[str, Any]) -> Caller:
    """The caller of a request made with a user's access token (signature and expiry are
    already verified)."""
    try:
        check_user_token(claims, ACCESS_TOKEN)
    except InvalidToken as exc:
        raise AuthenticationFailed(f"invalid token: {exc}") from None
    user = _live_user(conn, claims)
    wid = claims["wid"]
    if wid == "*":
        return caller_for(conn, user, workspace_id=None, admin_mode=True)
    return caller_for(conn, user, workspace_id=wid, admin_mode=False)


def refresh_token_user(conn: Connection, keys: KeyCache, token: str) -> Row[Any]:
    """The user a refresh token stands for, checked like an access token."""
    try:
        claims = check_user_token(verify_token(conn, keys, token), REFRESH_TOKEN)
    except InvalidToken as exc:
        raise AuthenticationFailed(f"invalid token: {exc}") from None
    return _live_user(conn, claims)
