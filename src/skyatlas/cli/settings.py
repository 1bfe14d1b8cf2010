"""CLI settings: named environments (endpoint + token) in one YAML file, like cfctl's.

The file lives in the user config directory (`$XDG_CONFIG_HOME/skyatlas/settings.yaml` on
Linux) and is written 0600 because it holds tokens. `SKYATLAS_ENDPOINT` and `SKYATLAS_TOKEN`
override whatever the current environment says, so CI jobs need no file at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SETTINGS_FILE = "settings.yaml"


def config_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("skyatlas", appauthor=False))


def cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("skyatlas", appauthor=False))


class SettingsError(Exception):
    """The settings file is unreadable, or names something that is not there."""


@dataclass
class Environment:
    name: str
    endpoint: str | None = None
    token: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("endpoint", self.endpoint), ("token", self.token)) if v}


@dataclass
class Settings:
    """The whole settings file: the current environment's name and every environment."""

    path: Path
    current: str | None = None
    environments: dict[str, Environment] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        import yaml

        path = path or config_dir() / SETTINGS_FILE
        if not path.exists():
            return cls(path=path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SettingsError(f"cannot read {path}: {exc}") from None
        if not isinstance(raw, dict):
            raise SettingsError(f"{path} is not a settings file (expected a mapping)")
        listed = raw.get("environments") or {}
        if not isinstance(listed, dict):
            raise SettingsError(f"{path}: 'environments' must be a mapping of names to settings")
        envs = {}
        for name, values in listed.items():
            values = values if isinstance(values, dict) else {}
            envs[str(name)] = Environment(
                name=str(name), endpoint=values.get("endpoint"), token=values.get("token")
            )
        current = raw.get("environment")
        return cls(path=path, current=str(current) if current else None, environments=envs)

    def save(self) -> None:
        """Write atomically, 0600 from the first byte (the file holds tokens)."""
        import yaml

        self.path.parent.mkdir(parents=True, exist_ok=True)
        content = {
            "environment": self.current,
            "environments": {n: e.as_dict() for n, e in sorted(self.environments.items())},
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yaml.safe_dump(content, fh, sort_keys=False, default_flow_style=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def environment(self, name: str | None = None) -> Environment:
        name = name or self.current
        if not name:
            raise SettingsError(
                "no environment is set up; run `skyatlas setting init proxy <URL> --app`"
            )
        if name not in self.environments:
            raise SettingsError(
                f"no environment named '{name}' (see `skyatlas setting environment -l`)"
            )
        return self.environments[name]


def environment_name(url: str, *, suffix: str = "app") -> str:
    """`https://console.example.com` → `console-app`; `http://127.0.0.1:8000` →
    `127-0-0-1-8000-app`."""
    parts = urlsplit(url)
    host = parts.hostname or "local"
    label = host.replace(".", "-") if _is_ip(host) or "." not in host else host.split(".")[0]
    if parts.port and (_is_ip(host) or host == "localhost"):
        label = f"{label}-{parts.port}"
    return f"{label}-{suffix}" if suffix else label


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def validate_endpoint(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"'{url}' is not an http(s) URL (e.g. https://skyatlas.example.com)")
    return url.rstrip("/")


@dataclass(frozen=True)
class Target:
    """Where a command sends its requests, after the environment variables had their say."""

    endpoint: str
    token: str | None
    environment: str | None


def resolve_target(environment: str | None = None, path: Path | None = None) -> Target:
    env_endpoint = os.environ.get("SKYATLAS_ENDPOINT")
    env_token = os.environ.get("SKYATLAS_TOKEN")
    chosen: Environment | None = None
    if not (env_endpoint and env_token) or environment:
        settings = Settings.load(path)
        if environment or settings.current:
            chosen = settings.environment(environment)
    endpoint = env_endpoint or (chosen.endpoint if chosen else None)
    # The file's token goes only to the file's endpoint: SKYATLAS_ENDPOINT naming another server
    # must not hand it this environment's secret.
    same_server = chosen is not None and (
        not env_endpoint or env_endpoint.rstrip("/") == (chosen.endpoint or "").rstrip("/")
    )
    token = env_token or (chosen.token if chosen and same_server else None)
    if not endpoint:
        raise SettingsError(
            "no endpoint: run `skyatlas setting init proxy <URL> --app` or set SKYATLAS_ENDPOINT"
        )
    return Target(
        endpoint=validate_endpoint(endpoint),
        token=token,
        environment=chosen.name if chosen else None,
    )
