"""Plugins: collectors and cost sources, found through the `skyatlas.plugins` entry points."""

from skyatlas.plugins.base import (
    CloudServiceTypeSpec,
    CollectContext,
    Collected,
    CollectError,
    CollectorPlugin,
    PluginError,
    PluginMetadata,
    RegionRecord,
    ServiceAccountView,
)
from skyatlas.plugins.registry import ENTRY_POINT_GROUP, PluginRegistry

__all__ = [
    "ENTRY_POINT_GROUP",
    "CloudServiceTypeSpec",
    "CollectContext",
    "CollectError",
    "Collected",
    "CollectorPlugin",
    "PluginError",
    "PluginMetadata",
    "PluginRegistry",
    "RegionRecord",
    "ServiceAccountView",
]
