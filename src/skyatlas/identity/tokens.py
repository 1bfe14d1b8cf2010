"""Client secrets and user tokens: JWTs with the SpaceONE v2 claims, signed by a per-domain
Ed25519 key.

The private key is stored sealed with the master key; verifying needs only the public key, which
each process caches (a domain's key never changes, so the cache cannot go stale).
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta
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
ACCESS_TOKEN = "ACCESS_TOKEN"
REFRESH_TOKEN = "REFRESH_TOKEN"


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


def sign_claims(conn: Connection, sealer: Sealer, domain_id: str, claims: dict[str, Any]) -> str:
    """Sign any token of the domain (client secrets, user access and refresh tokens) with its
    key: one signer, so every kind of token is verified the same way."""
    sealed = conn.execute(
        select(domain_keys.c.private_key_encrypted).where(domain_keys.c.domain_id == domain_id)
    ).scalar_one()
    private = serialization.load_der_private_key(
        sealer.open(sealed, context=f"domain-key:{domain_id}"), password=None
    )
    return jwt.encode(claims, private, algorithm=ALGORITHM)  # type: ignore[arg-type]


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
    return sign_claims(conn, sealer, domain_id, claims)


def issue_user_token(
    conn: Connection,
    sealer: Sealer,
    *,
    typ: str,
    domain_id: str,
    user_id: str,
    lifetime: timedelta,
    workspace_id: str | None = None,
    role_type: str | None = None,
    issued_at: datetime | None = None,
) -> str:
    """An ACCESS_TOKEN (with the scope it was issued for) or a REFRESH_TOKEN of a user.

    `iat` keeps milliseconds: a password change revokes the tokens issued before it, and a
    whole-second `iat` could not tell a token issued just before the change from one issued
    just after it within the same second.
    """
    now = issued_at or utcnow()
    claims: dict[str, Any] = {
        "typ": typ,
        "own": "USER",
        "did": domain_id,
        "aud": user_id,
        "jti": uuid.uuid4().hex,
        "iat": round(now.timestamp(), 3),
        "exp": int((now + lifetime).timestamp()),
        "ver": "2.0",
    }
    if typ == ACCESS_TOKEN:
        claims["wid"] = workspace_id or "*"
        claims["rol"] = role_type
    return sign_claims(conn, sealer, domain_id, claims)


def verify_token(conn: Connection, keys: KeyCache, token: str) -> dict[str, Any]:
    """Check signature, expiry and the claims every kind of token has; return the claims.
    What the token is (`typ`) and whether its app or user still allows it is checked later."""
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
    return claims


def check_client_secret(claims: dict[str, Any]) -> dict[str, Any]:
    if claims.get("typ") != "CLIENT_SECRET" or claims.get("ver") != "2.0":
        raise InvalidToken("the token is not a client secret")
    if not isinstance(claims.get("aud"), str) or not isinstance(claims.get("jti"), str):
        raise InvalidToken("the token's claims are invalid")
    return claims


def check_user_token(claims: dict[str, Any], typ: str) -> dict[str, Any]:
    if claims.get("typ") != typ or claims.get("own") != "USER" or claims.get("ver") != "2.0":
        raise InvalidToken(f"the token is not a user {typ.lower().replace('_', ' ')}")
    if not isinstance(claims.get("aud"), str) or not isinstance(claims.get("iat"), int | float):
        raise InvalidToken("the token's claims are invalid")
    if typ == ACCESS_TOKEN and not isinstance(claims.get("wid"), str):
        raise InvalidToken("the token's claims are invalid")
    return claims


def verify_client_secret(conn: Connection, keys: KeyCache, token: str) -> dict[str, Any]:
    """Check signature, expiry and claim shape; return the claims. The app row is checked later."""
    return check_client_secret(verify_token(conn, keys, token))
