"""The plugins a process knows: entry points of the `skyatlas.plugins` group, loaded lazily.

An entry point names an object (or a zero-argument factory) with a `metadata` attribute, e.g.
`aws = "skyatlas.plugins.aws:plugin"`. A broken third-party plugin is logged and left out; it
never stops the server from starting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from skyatlas.errors import InvalidParameter
from skyatlas.plugins.base import PluginKind

ENTRY_POINT_GROUP = "skyatlas.plugins"
log = logging.getLogger(__name__)


class PluginRegistry:
    def __init__(self, *, discover: bool = True) -> None:
        self._plugins: dict[str, Any] = {}
        self._discover = discover
        self._loaded = False
        self._lock = threading.Lock()

    def register(self, plugin: Any) -> None:
        """Add a plugin by hand (tests, embedding); replaces one with the same plugin_id."""
        self._plugins[plugin.metadata.plugin_id] = plugin

    def _load(self) -> None:
        with self._lock:
            if self._loaded or not self._discover:
                self._loaded = True
                return
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                if ep.name in self._plugins:
                    continue
                try:
                    obj = ep.load()
                    plugin = obj() if callable(obj) and not hasattr(obj, "metadata") else obj
                    plugin_id = plugin.metadata.plugin_id
                except Exception:
                    log.exception("plugin entry point %r could not be loaded; skipped", ep.name)
                    continue
                self._plugins.setdefault(plugin_id, plugin)
            self._loaded = True

    def all(self, kind: PluginKind | None = None) -> list[Any]:
        self._load()
        return sorted(
            (p for p in self._plugins.values() if kind is None or p.metadata.kind == kind),
            key=lambda p: p.metadata.plugin_id,
        )

    def get(self, plugin_id: str, kind: PluginKind) -> Any:
        """The plugin, or a 400 naming the plugins of that kind that exist."""
        self._load()
        plugin = self._plugins.get(plugin_id)
        if plugin is None or plugin.metadata.kind != kind:
            known = ", ".join(p.metadata.plugin_id for p in self.all(kind)) or "none"
            raise InvalidParameter(
                f"plugin_info.plugin_id: no {kind} plugin '{plugin_id}' is installed "
                f"(installed: {known})"
            )
        return plugin


def validated_options(metadata: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """A plugin's `plugin_info.options` checked against its options model (as stored: defaults
    filled in, unset values left out), or a 400 naming the first problem."""
    if metadata.options_model is None:
        return dict(options)
    try:
        model = metadata.options_model.model_validate(dict(options))
    except ValidationError as exc:
        from skyatlas.schemas import first_error

        where, what = first_error(exc)
        raise InvalidParameter(
            f"plugin_info.options{'.' + where if where else ''}: {what}"
        ) from None
    return model.model_dump(exclude_none=True)
