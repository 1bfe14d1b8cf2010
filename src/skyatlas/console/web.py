"""The console's request handling: who is signed in, where they are, and rendering.

Page handlers are plain functions of a `View`; `Pages` collects them per module and the
wrapper does, for every request, what no page should have to remember: load the session,
send strangers to sign-in, check the CSRF token on anything that changes state, force the
first-sign-in password change, turn a service error into a message that says what to do, and
set headers that keep the page to its own server (CSP, no framing, no caching).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
import orjson
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from skyatlas.api.registry import Registry
from skyatlas.console import sessions
from skyatlas.console.calls import call_operation, call_verb
from skyatlas.errors import SkyatlasError
from skyatlas.identity.caller import Caller
from skyatlas.identity.users import is_domain_admin, user_caller, user_workspaces
from skyatlas.runtime import Runtime
from skyatlas.store.tables import users

log = logging.getLogger("skyatlas.console")

PREFIX = "/console"
SIGN_IN = f"{PREFIX}/sign-in"
PASSWORD = f"{PREFIX}/password"
#: Only this server: scripts, styles, images, XHR. Inline scripts are refused, so chart data
#: travels in `<script type="application/json">` blocks that the vendored JS reads.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
_SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass
class Console:
    """What every console request shares: the runtime, the verbs and the templates."""

    runtime: Runtime
    registry: Registry
    templates: jinja2.Environment


@dataclass
class Place:
    """Where the signed-in user is looking: a workspace, or the whole domain in Admin mode."""

    workspace_id: str | None
    admin_mode: bool
    workspaces: list[dict[str, Any]]
    domain_admin: bool

    @property
    def workspace_name(self) -> str | None:
        for ws in self.workspaces:
            if ws["workspace_id"] == self.workspace_id:
                return str(ws["name"])
        return None

    @property
    def role_type(self) -> str:
        if self.admin_mode:
            return "DOMAIN_ADMIN"
        for ws in self.workspaces:
            if ws["workspace_id"] == self.workspace_id:
                return str(ws["role_type"])
        return "WORKSPACE_MEMBER"


@dataclass
class View:
    """One console request, as a page handler sees it."""

    console: Console
    request: Request
    form: FormData
    session: sessions.ConsoleSession | None = None
    session_id: str | None = None
    user: dict[str, Any] | None = None
    place: Place | None = None
    response_headers: dict[str, str] = field(default_factory=dict)

    # -- the request -------------------------------------------------------------------------
    @property
    def query(self) -> QueryParams:
        return self.request.query_params

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def wants_fragment(self, target: str) -> bool:
        """An htmx request that only replaces `#target` (a table's pager, sort header or
        results), so the page answers with that fragment instead of the whole page."""
        return self.is_htmx and self.request.headers.get("hx-target") == target

    def arg(self, name: str, default: str = "") -> str:
        """A form field, else a query parameter, stripped."""
        value = self.form.get(name)
        if value is None:
            value = self.query.get(name)
        return str(value).strip() if value is not None else default

    def int_arg(self, name: str, default: int, *, low: int = 1, high: int = 10_000) -> int:
        try:
            return max(low, min(high, int(self.arg(name, str(default)))))
        except ValueError:
            return default

    # -- the services ------------------------------------------------------------------------
    @property
    def runtime(self) -> Runtime:
        return self.console.runtime

    def identify(self, conn: Any) -> Caller:
        assert self.session is not None and self.place is not None
        return user_caller(
            conn,
            self.session.domain_id,
            self.session.user_id,
            workspace_id=None if self.place.admin_mode else self.place.workspace_id,
            admin_mode=self.place.admin_mode,
        )

    def call(
        self, service: str, resource: str, verb: str, body: dict[str, Any] | None = None
    ) -> Any:
        """A SpaceONE verb as the signed-in user, in the workspace they are looking at."""
        # No workspace_id is added: in a workspace the user acts as that workspace's owner or
        # member (see `user_caller`), so every verb is already scoped to it.
        payload = dict(body or {})
        return call_verb(
            self.runtime, self.console.registry, self.identify, service, resource, verb, payload
        )

    def explorer(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        **path_params: str,
    ) -> Any:
        """A Resource Explorer operation as the signed-in user."""
        return call_operation(self.runtime, self.identify, method, path, body, path_params)

    # -- answers -----------------------------------------------------------------------------
    def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        page = self.console.templates.get_template(template)
        html = page.render(view=self, place=self.place, user=self.user, **context)
        return HTMLResponse(html, status_code=status, headers=self.response_headers)

    def redirect(self, url: str) -> Response:
        """A full navigation, also from inside an htmx request."""
        if self.is_htmx:
            return Response(status_code=204, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)

    def url(self, path: str, **params: Any) -> str:
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        return f"{path}?{urlencode(clean, doseq=True)}" if clean else path


Handler = Callable[[View], Response]


@dataclass(frozen=True)
class PageRoute:
    path: str
    methods: tuple[str, ...]
    handler: Handler
    anonymous: bool


class Pages:
    """The routes of one console module."""

    def __init__(self) -> None:
        self.routes: list[PageRoute] = []

    def route(
        self, path: str, *, methods: tuple[str, ...] = ("GET",), anonymous: bool = False
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(PageRoute(PREFIX + path, methods, handler, anonymous))
            return handler

        return register

    def get(self, path: str, *, anonymous: bool = False) -> Callable[[Handler], Handler]:
        return self.route(path, methods=("GET",), anonymous=anonymous)

    def post(self, path: str, *, anonymous: bool = False) -> Callable[[Handler], Handler]:
        return self.route(path, methods=("POST",), anonymous=anonymous)


def _load_user(conn: Any, session: sessions.ConsoleSession) -> dict[str, Any] | None:
    row = conn.execute(
        users.select().where(
            users.c.domain_id == session.domain_id, users.c.user_id == session.user_id
        )
    ).one_or_none()
    if row is None or row.state != "ENABLED":
        return None
    return {
        "user_id": row.user_id,
        "name": row.name or row.user_id,
        "email": row.email,
        "required_actions": list(row.required_actions or []),
    }


def _place(conn: Any, session: sessions.ConsoleSession) -> Place:
    workspaces = user_workspaces(conn, session.domain_id, session.user_id)
    admin = is_domain_admin(conn, session.domain_id, session.user_id)
    known = {ws["workspace_id"] for ws in workspaces}
    workspace_id = session.workspace_id if session.workspace_id in known else None
    if workspace_id is None and workspaces:
        workspace_id = workspaces[0]["workspace_id"]
    admin_mode = session.admin_mode and admin
    if workspace_id is None and admin:
        admin_mode = True
    return Place(workspace_id, admin_mode, workspaces, admin)


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def error_text(exc: SkyatlasError) -> str:
    """The service's message, plus what to do about it when the status says."""
    hints = {
        401: " Sign in again.",
        403: " Ask a domain admin for a role that allows it, or switch workspace.",
        503: " Try again in a moment.",
    }
    return exc.message + hints.get(exc.status, "")


def _handle(console: Console, route: PageRoute, request: Request, form: FormData) -> Response:
    view = View(console=console, request=request, form=form)
    view.session_id = request.cookies.get(sessions.COOKIE_NAME)
    store = console.runtime.store
    if not route.anonymous:
        with store.read() as conn:
            session = sessions.load_session(conn, view.session_id)
            user = _load_user(conn, session) if session else None
            place = _place(conn, session) if session and user else None
        if session is None or user is None or place is None:
            target = f"{SIGN_IN}?next={quote(request.url.path)}"
            return view.redirect(target)
        view.session, view.user, view.place = session, user, place
        if request.method not in _SAFE_METHODS:
            presented = form.get("csrf_token") or request.headers.get("x-csrf-token")
            if not sessions.csrf_ok(session, str(presented) if presented else None):
                return view.render(
                    "error.html",
                    status=403,
                    message="This form has expired (its security token does not match your "
                    "session). Reload the page and try again.",
                )
        if sessions.needs_touch(session):
            with store.begin() as conn:
                sessions.touch(conn, session)
        if "UPDATE_PASSWORD" in user["required_actions"] and route.path not in (
            PASSWORD,
            f"{PREFIX}/sign-out",
        ):
            return view.redirect(PASSWORD)
    try:
        return route.handler(view)
    except SkyatlasError as exc:
        if exc.status >= 500:
            log.warning("console: %s", exc.code)
        template = "_error.html" if view.is_htmx else "error.html"
        # A fragment answers 200 so htmx swaps it in where the user is looking; a full page
        # keeps the service's status.
        return view.render(
            template, status=200 if view.is_htmx else exc.status, message=error_text(exc)
        )


def endpoint(console: Console, route: PageRoute) -> Callable[[Request], Any]:
    async def serve(request: Request) -> Response:
        started = time.perf_counter()
        form = await request.form() if request.method not in _SAFE_METHODS else FormData()
        response = await run_in_threadpool(_handle, console, route, request, form)
        # The page's own time on the server, for the browser's dev tools and the benchmark.
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
        return _security_headers(response)

    serve.__name__ = "console_" + route.handler.__name__
    return serve


def json_script(value: Any) -> Markup:
    """Data for the page's own scripts, safe inside `<script type="application/json">`."""
    text = orjson.dumps(value).decode().replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text.replace("&", "\\u0026"))
