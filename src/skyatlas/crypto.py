"""Encryption at rest for secrets (cloud credentials, the domains' signing keys).

AES-256-GCM under one master key. The key comes from `SKYATLAS_SECRET_KEY` or, failing that, from
`<data dir>/secret.key` (created 0600 on first start). Every ciphertext is bound to the record it
belongs to (associated data), so a ciphertext copied onto another row does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from skyatlas.config import Settings

_VERSION = b"\x01"
_NONCE = 12
KEY_FILE = "secret.key"


class SecretKeyError(RuntimeError):
    """The master key is missing or does not open the stored secrets."""


class Sealer:
    """Seals and opens small secrets with the master key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SecretKeyError("the master key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, *, context: str) -> bytes:
        if not sealed or sealed[:1] != _VERSION:
            raise SecretKeyError("unknown secret format")
        nonce, body = sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :]
        try:
            return self._aead.decrypt(nonce, body, context.encode())
        except InvalidTag as exc:
            raise SecretKeyError(
                "a stored secret does not open with this master key "
                "(was SKYATLAS_SECRET_KEY or secret.key changed?)"
            ) from exc


def _key_from_text(text: str) -> bytes:
    """A base64 32-byte key is used as is; any other passphrase is stretched with SHA-256."""
    raw = text.strip()
    try:
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        if len(decoded) == 32:
            return decoded
    except ValueError:
        pass
    return hashlib.sha256(raw.encode()).digest()


def load_master_key(settings: Settings) -> bytes:
    if settings.secret_key:
        return _key_from_text(settings.secret_key)
    path = Path(settings.data_dir) / KEY_FILE
    if path.exists():
        return _key_from_text(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    # Write to a private temporary file and link it into place: a second process starting at the
    # same moment either wins the link or reads the complete key the first one wrote.
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, base64.urlsafe_b64encode(key) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return _key_from_text(path.read_text())
    finally:
        tmp.unlink()
    return key


def sealer_for(settings: Settings) -> Sealer:
    return Sealer(load_master_key(settings))
