"""What a process holds for its whole life, and what one request sees."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from skyatlas.config import Settings
from skyatlas.crypto import Sealer, sealer_for
from skyatlas.identity.caller import Caller
from skyatlas.identity.tokens import KeyCache
from skyatlas.store.engine import Store, open_store


@dataclass
class Runtime:
    """The process's store, master-key sealer and token key cache."""

    settings: Settings
    store: Store
    sealer: Sealer
    keys: KeyCache = field(default_factory=KeyCache)

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        store = open_store(settings)
        return cls(settings=settings, store=store, sealer=sealer_for(settings))

    def close(self) -> None:
        self.store.dispose()


@dataclass
class Ctx:
    """One request: its transaction, its authenticated caller and the process runtime."""

    conn: Connection
    caller: Caller
    runtime: Runtime
