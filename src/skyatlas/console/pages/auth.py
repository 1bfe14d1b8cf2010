"""Sign-in, sign-out and the password change (forced at first sign-in)."""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import Response

from skyatlas.console import sessions
from skyatlas.console.web import PREFIX, SIGN_IN, Pages, View
from skyatlas.errors import SkyatlasError
from skyatlas.identity.users import (
    authenticate_password,
    change_password,
    is_domain_admin,
    user_workspaces,
)
from skyatlas.store.tables import domains

pages = Pages()


def _safe_next(target: str) -> str:
    """Only a console path: a sign-in link must not be able to send the user elsewhere."""
    if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


def _set_cookie(view: View, response: Response, session_id: str) -> None:
    response.set_cookie(
        sessions.COOKIE_NAME,
        session_id,
        httponly=True,
        samesite="strict",
        secure=view.request.url.scheme == "https",
        path=PREFIX,
    )


@pages.get("/sign-in", anonymous=True)
def sign_in_form(view: View) -> Response:
    return view.render("sign_in.html", next=_safe_next(view.arg("next")), error=None)


@pages.post("/sign-in", anonymous=True)
def sign_in(view: View) -> Response:
    user_id = view.arg("user_id")
    password = str(view.form.get("password") or "")
    target = _safe_next(view.arg("next"))
    runtime = view.runtime
    with runtime.store.read() as conn:
        domain_id = conn.execute(select(domains.c.domain_id).limit(1)).scalar_one_or_none()
    if domain_id is None or not user_id or not password:
        return view.render(
            "sign_in.html",
            status=400,
            next=target,
            user_id=user_id,
            error="Enter your user ID and password.",
        )
    try:
        authenticate_password(runtime, domain_id, user_id, password)
    except SkyatlasError as exc:
        return view.render(
            "sign_in.html", status=exc.status, next=target, user_id=user_id, error=exc.message
        )
    with runtime.store.begin() as conn:
        workspaces = user_workspaces(conn, domain_id, user_id)
        admin = is_domain_admin(conn, domain_id, user_id)
        session_id = sessions.open_session(
            conn,
            domain_id=domain_id,
            user_id=user_id,
            workspace_id=workspaces[0]["workspace_id"] if workspaces else None,
            admin_mode=admin and not workspaces,
        )
    response = view.redirect(target)
    _set_cookie(view, response, session_id)
    return response


@pages.post("/sign-out")
def sign_out(view: View) -> Response:
    with view.runtime.store.begin() as conn:
        sessions.close_session(conn, view.session_id)
    response = view.redirect(SIGN_IN)
    response.delete_cookie(sessions.COOKIE_NAME, path=PREFIX)
    return response


@pages.get("/password")
def password_form(view: View) -> Response:
    return view.render("password.html", error=None)


@pages.post("/password")
def password_change(view: View) -> Response:
    assert view.session is not None
    current = str(view.form.get("current_password") or "")
    new = str(view.form.get("new_password") or "")
    confirm = str(view.form.get("confirm_password") or "")
    if new != confirm:
        return view.render(
            "password.html", status=400, error="The new password and its confirmation differ."
        )
    try:
        with view.runtime.store.begin() as conn:
            change_password(conn, view.session.domain_id, view.session.user_id, current, new)
            sessions.close_user_sessions(
                conn, view.session.domain_id, view.session.user_id, keep=view.session.session_hash
            )
    except SkyatlasError as exc:
        return view.render("password.html", status=exc.status, error=exc.message)
    return view.redirect(PREFIX + "/?changed=password")
