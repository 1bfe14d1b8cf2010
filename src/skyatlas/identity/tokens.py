"""Client secrets: JWTs with the SpaceONE v2 claims, signed by a per-domain Ed25519 key.

The private key is stored sealed with the master key; verifying needs only the public key, which
each process caches (a domain's key never changes, so the cache cannot go stale).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, insert, select

from skyatlas.crypto import Sealer
from skyatlas.ids import utcnow
from skyatlas.store.tables import domain_keys

ALGORITHM = "EdDSA"
_REQUIRED = ["exp", "iat", "jti", "aud", "did", "typ", "ver"]


class InvalidToken(Exception):
    """The token is malformed, forged, of the wrong kind or expired."""


def create_domain_key(conn: Connection, sealer: Sealer, domain_id: str) -> None:
    private = Ed25519PrivateKey.generate()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    conn.execute(
        insert(domain_keys).values(
            domain_id=domain_id,
            algorithm=ALGORITHM,
            public_key=public_pem.decode(),
            private_key_encrypted=sealer.seal(private_der, context=f"domain-key:{domain_id}"),
            created_at=utcnow(),
        )
    )


class KeyCache:
    """Public keys by domain id, loaded once per process."""

    def __init__(self) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._lock = threading.Lock()

    def public_key(self, conn: Connection, domain_id: str) -> Ed25519PublicKey | None:
        key = self._keys.get(domain_id)
        if key is not None:
            return key
        pem = conn.execute(
            select(domain_keys.c.public_key).where(domain_keys.c.domain_id == domain_id)
        ).scalar_one_or_none()
        if pem is None:
            return None
        loaded = serialization.load_pem_public_key(pem.encode())
        assert isinstance(loaded, Ed25519PublicKey)
        with self._lock:
            self._keys[domain_id] = loaded
        return loaded


def issue_client_secret(
    conn: Connection,
    sealer: Sealer,
    *,
    domain_id: str,
    workspace_id: str | None,
    role_type: str,
    app_id: str,
    client_id: str,
    expires_at: datetime,
    issued_at: datetime | None = None,
) -> str:
    sealed = conn.execute(
        select(domain_keys.c.private_key_encrypted).where(domain_keys.c.domain_id == domain_id)
    ).scalar_one()
    private = serialization.load_der_private_key(
        sealer.open(sealed, context=f"domain-key:{domain_id}"), password=None
    )
    now = issued_at or utcnow()
    claims = {
        "typ": "CLIENT_SECRET",
        "own": "APP",
        "did": domain_id,
        "wid": workspace_id or "*",
        "rol": role_type,
        "jti": client_id,
        "aud": app_id,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "ver": "2.0",
    }
    return jwt.encode(claims, private, algorithm=ALGORITHM)  # type: ignore[arg-type]


def verify_client_secret(conn: Connection, keys: KeyCache, token: str) -> dict[str, Any]:
    """Check signature, expiry and claim shape; return the claims. The app row is checked later."""
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidToken("the token is not a valid JWT") from exc
    domain_id = unverified.get("did")
    if not isinstance(domain_id, str):
        raise InvalidToken("the token names no domain")
    key = keys.public_key(conn, domain_id)
    if key is None:
        raise InvalidToken("the token's domain does not exist")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options={"require": _REQUIRED, "verify_aud": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("the token has expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("the token's signature or claims are invalid") from exc
    if claims.get("typ") != "CLIENT_SECRET" or claims.get("ver") != "2.0":
        raise InvalidToken("the token is not a client secret")
    if not isinstance(claims.get("aud"), str) or not isinstance(claims.get("jti"), str):
        raise InvalidToken("the token's claims are invalid")
    return claims
