"""Runtime settings, read once from arguments and the environment.

Every process (server, worker, import command, tests) builds one `Settings` and passes it down,
so nothing reads the environment behind the caller's back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = Path("skyatlas-data")
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Where the store lives and how the server behaves."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    host: str = "127.0.0.1"
    port: int = 8000
    #: Worker threads applying queued jobs in this process; 0 accepts work without applying it
    #: (for API-only processes when `skyatlas worker` processes do the applying).
    workers: int = 1
    #: A long job (a collection task) whose worker has not renewed its lease for this long is
    #: taken over by another worker: the time from a crash to the job's resumption.
    job_lease_seconds: float = 60.0
    #: Where collectors that read local files (the `file` plugin) may read from; empty means
    #: `<data dir>/imports`.
    import_roots: tuple[Path, ...] = ()

    @property
    def store_url(self) -> str:
        """The SQLAlchemy URL of the store: PostgreSQL when given, else SQLite in the data dir."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'skyatlas.db').resolve()}"

    @property
    def allowed_import_roots(self) -> tuple[Path, ...]:
        return self.import_roots or (self.data_dir / "imports",)

    @property
    def endpoint(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def is_postgres(self) -> bool:
        return self.store_url.startswith("postgresql")

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from `SKYATLAS_*` variables; explicit (non-None) overrides win."""
        values: dict[str, object] = {
            "data_dir": Path(os.environ.get("SKYATLAS_DATA_DIR", str(DEFAULT_DATA_DIR))),
            "database_url": os.environ.get("SKYATLAS_DATABASE_URL") or None,
            "secret_key": os.environ.get("SKYATLAS_SECRET_KEY") or None,
            "max_body_bytes": int(
                os.environ.get("SKYATLAS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
            ),
            "workers": int(os.environ.get("SKYATLAS_WORKERS", "1")),
            "job_lease_seconds": float(os.environ.get("SKYATLAS_JOB_LEASE_SECONDS", "60")),
            "import_roots": tuple(
                Path(p) for p in os.environ.get("SKYATLAS_IMPORT_ROOTS", "").split(os.pathsep) if p
            ),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(values["data_dir"], str):
            values["data_dir"] = Path(values["data_dir"])
        return cls(**values)  # type: ignore[arg-type]


def normalise_database_url(url: str) -> str:
    """Accept the URL spellings people paste and pin the psycopg 3 driver for PostgreSQL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
