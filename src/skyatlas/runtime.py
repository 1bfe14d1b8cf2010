"""What a process holds for its whole life, and what one request sees."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from skyatlas.config import Settings
from skyatlas.crypto import Sealer, sealer_for
from skyatlas.identity.caller import Caller
from skyatlas.identity.tokens import KeyCache
from skyatlas.plugins.registry import PluginRegistry
from skyatlas.store.engine import Store, open_store


@dataclass
class Runtime:
    """The process's store, master-key sealer and token key cache."""

    settings: Settings
    store: Store
    sealer: Sealer
    keys: KeyCache = field(default_factory=KeyCache)
    #: Collector and cost plugins (entry points of `skyatlas.plugins`, plus any registered).
    plugins: PluginRegistry = field(default_factory=PluginRegistry)
    #: Background workers draining the job queue (set by the app; None in plain scripts).
    workers: Any = None
    _costs: Any = field(default=None, repr=False)
    _costs_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def costs(self) -> Any:
        """The cost store, opened on first use (an embedded one belongs to this process from
        then on; `skyatlas.cost.store.CostStoreBusy` when another process holds it)."""
        with self._costs_lock:
            if self._costs is None:
                from skyatlas.cost.open import open_cost_store

                self._costs = open_cost_store(self.settings, self.store)
            return self._costs

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        store = open_store(settings)
        return cls(settings=settings, store=store, sealer=sealer_for(settings))

    def close(self) -> None:
        if self._costs is not None:
            self._costs.close()
            self._costs = None
        self.store.dispose()


@dataclass
class Ctx:
    """One request: its transaction, its authenticated caller and the process runtime."""

    conn: Connection
    caller: Caller
    runtime: Runtime
    #: Run once the request's transaction has committed (e.g. wake the workers for new jobs:
    #: woken earlier, they could look before the job is visible).
    committed: list[Any] = field(default_factory=list)

    def after_commit(self, callback: Any) -> None:
        self.committed.append(callback)
