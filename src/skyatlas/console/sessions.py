"""Console sign-in sessions, kept in the store so any API process can serve any page.

The cookie carries a random id; the store keeps only its SHA-256, so a copy of the database
cannot be replayed as a session. Each session has its own CSRF token (checked on every
state-changing request), an idle timeout and an absolute lifetime. `last_seen_at` is written at
most once a minute: a page view should not cost a write.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from skyatlas.ids import utcnow
from skyatlas.store.tables import console_sessions

COOKIE_NAME = "skyatlas_session"
IDLE_TIMEOUT = timedelta(minutes=30)
MAX_LIFETIME = timedelta(hours=12)
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass
class ConsoleSession:
    session_hash: str
    domain_id: str
    user_id: str
    csrf_token: str
    workspace_id: str | None
    admin_mode: bool
    created_at: datetime
    last_seen_at: datetime


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(
    conn: Connection, *, domain_id: str, user_id: str, workspace_id: str | None, admin_mode: bool
) -> str:
    """A new session; returns the cookie value (shown to nobody else, stored only hashed)."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    conn.execute(
        insert(console_sessions).values(
            session_hash=_digest(session_id),
            domain_id=domain_id,
            user_id=user_id,
            csrf_token=secrets.token_urlsafe(24),
            workspace_id=workspace_id,
            admin_mode=admin_mode,
            created_at=now,
            last_seen_at=now,
        )
    )
    # Sign-in is the natural moment to forget sessions nobody can use any more.
    conn.execute(
        delete(console_sessions).where(console_sessions.c.last_seen_at < now - MAX_LIFETIME)
    )
    return session_id


def load_session(conn: Connection, session_id: str | None) -> ConsoleSession | None:
    """The live session behind a cookie, or None when absent, idle too long or too old."""
    if not session_id or len(session_id) > 128:
        return None
    row = conn.execute(
        select(console_sessions).where(console_sessions.c.session_hash == _digest(session_id))
    ).one_or_none()
    if row is None:
        return None
    now = utcnow()
    if now - row.last_seen_at > IDLE_TIMEOUT or now - row.created_at > MAX_LIFETIME:
        return None
    return ConsoleSession(
        session_hash=row.session_hash,
        domain_id=row.domain_id,
        user_id=row.user_id,
        csrf_token=row.csrf_token,
        workspace_id=row.workspace_id,
        admin_mode=bool(row.admin_mode),
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
    )


def needs_touch(session: ConsoleSession) -> bool:
    return utcnow() - session.last_seen_at >= _TOUCH_EVERY


def touch(conn: Connection, session: ConsoleSession) -> None:
    conn.execute(
        update(console_sessions)
        .where(console_sessions.c.session_hash == session.session_hash)
        .values(last_seen_at=utcnow())
    )


def switch_place(
    conn: Connection, session: ConsoleSession, *, workspace_id: str | None, admin_mode: bool
) -> None:
    """Remember which workspace (or Admin mode) the user is looking at."""
    conn.execute(
        update(console_sessions)
        .where(console_sessions.c.session_hash == session.session_hash)
        .values(workspace_id=workspace_id, admin_mode=admin_mode, last_seen_at=utcnow())
    )


def close_session(conn: Connection, session_id: str | None) -> None:
    if session_id:
        conn.execute(
            delete(console_sessions).where(console_sessions.c.session_hash == _digest(session_id))
        )


def close_user_sessions(conn: Connection, domain_id: str, user_id: str, *, keep: str) -> None:
    """After a password change every other session of the user ends."""
    conn.execute(
        delete(console_sessions).where(
            console_sessions.c.domain_id == domain_id,
            console_sessions.c.user_id == user_id,
            console_sessions.c.session_hash != keep,
        )
    )


def csrf_ok(session: ConsoleSession, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(session.csrf_token, presented or "")
