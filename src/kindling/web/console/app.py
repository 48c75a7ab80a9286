"""The console's request pipeline: sessions, CSRF, rendering, and the route table.

Each page handler is a plain function of a ``Page`` that runs in a worker thread
(it talks to storage) and returns a response. The pipeline in front of it loads
the server-side session (redirecting to the sign-in page without one), and for
every POST checks the origin and the form's CSRF token before the handler runs.
A ``KindlingError`` raised by a POST handler comes back to the page the form was
on as a one-time error message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from kindling import __version__
from kindling.oauth.errors import OAuthError
from kindling.platform import audit
from kindling.platform.codes import Code
from kindling.platform.context import Context
from kindling.platform.engine import StorageUnavailable
from kindling.platform.errors import KindlingError, NotFound
from kindling.platform.operations import Operation
from kindling.platform.storage import current_request_id
from kindling.resources.admin import service as admin
from kindling.web.console import security

log = logging.getLogger("kindling.console")

templates = Environment(
    loader=PackageLoader("kindling.web.console", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

NAV = (
    ("applications", "Applications", "/admin/applications"),
    ("apis", "APIs", "/admin/apis"),
    ("test", "Test", "/admin/test"),
    ("users", "Users", "/admin/users"),
    ("organizations", "Organizations", "/admin/organizations"),
    ("roles", "Roles", "/admin/roles"),
    ("permissions", "Permissions", "/admin/permissions"),
    ("webhooks", "Webhooks", "/admin/webhooks"),
    ("keys", "Signing keys", "/admin/keys"),
    ("audit", "Audit log", "/admin/audit"),
    ("postman", "Postman", "/admin/postman"),
)


@dataclass(frozen=True)
class Flash:
    kind: str  # "ok" or "error"
    text: str

    def encode(self) -> str:
        return f"{self.kind}:{self.text}"

    @staticmethod
    def decode(value: str | None) -> Flash | None:
        if not value:
            return None
        kind, _, text = value.partition(":")
        return Flash("error" if kind == "error" else "ok", text)


def render_html(
    template: str,
    values: Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    body = templates.get_template(template).render(version=__version__, **values)
    merged = security.page_headers()
    merged.update(headers or {})
    return HTMLResponse(body, status_code=status, headers=merged)


@dataclass
class Page:
    """What a page handler sees of one request."""

    ctx: Context
    session: admin.AdminSessionView
    method: str
    path: str
    path_params: dict[str, str]
    query: dict[str, str]
    form: dict[str, list[str]]
    origin: str
    flash: Flash | None = None
    issuer: str = ""
    operations: Sequence[Operation] = ()

    def value(self, name: str, default: str = "") -> str:
        """A form field (first value), trimmed; query parameters for GET."""
        if self.method == "GET":
            return self.query.get(name, default).strip()
        values = self.form.get(name)
        return values[0].strip() if values else default

    def values(self, name: str) -> list[str]:
        return [v.strip() for v in self.form.get(name, []) if v.strip()]

    def render(
        self,
        template: str,
        active: str,
        title: str,
        canonical: str | None = None,
        **values: Any,
    ) -> HTMLResponse:
        return render_html(
            template,
            {
                "title": title,
                "canonical": canonical,
                "active": active,
                "nav": NAV,
                "username": self.session.username,
                "csrf_token": self.session.csrf_token,
                "flash": self.flash,
                "issuer": self.issuer,
                **values,
            },
        )

    def redirect(self, url: str, message: str | None = None, error: bool = False) -> Response:
        if message:
            flash = Flash("error" if error else "ok", message)
            admin.set_flash(self.ctx.storage, self.session.token_hash, flash.encode())
        return RedirectResponse(url, status_code=303, headers=security.page_headers())


PageHandler = Callable[[Page], Response]


def error_page(status: int, title: str, message: str) -> HTMLResponse:
    return render_html(
        "error.html", {"title": title, "message": message, "status": status}, status=status
    )


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(
        "/admin/login?next=" + quote(security.safe_next(target), safe="/"),
        status_code=303,
        headers=security.page_headers(),
    )


def console_entry(
    ctx: Context,
    action: str,
    actor_id: str | None,
    ip: str | None,
    code: str | None = None,
) -> audit.AuditEntry:
    """An audit row of the console (``console.<page handler>``, sign-in and sign-out):
    the console user, the address, and the error code of a refused action."""
    return audit.AuditEntry(
        occurred_at=int(ctx.clock.now() * 1000),
        actor_type=audit.CONSOLE_USER,
        actor_id=actor_id or None,
        action=action,
        result=audit.FAILURE if code else audit.SUCCESS,
        ip=ip,
        request_id=current_request_id.get(),
        error_code=code,
    )


async def _audit_post(
    ctx: Context, recorded: audit.RequestAudit, handler: PageHandler, code: str | None
) -> None:
    """Record a console form that wrote no audit row of its own: a refused one (``code``)
    or one that recorded no event (a test token, say), in a transaction of its own."""
    if code is None and recorded.written:
        return
    entry = console_entry(ctx, f"console.{handler.__name__}", recorded.actor_id, recorded.ip, code)
    try:
        await run_in_threadpool(ctx.storage.audit.record, entry)
    except audit.AuditUnavailable:
        pass  # logged by the writer; the form's own answer stands


def page_endpoint(
    ctx: Context,
    issuer: str,
    get: PageHandler | None,
    post: PageHandler | None,
    operations: Sequence[Operation] = (),
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        handler = get if request.method in ("GET", "HEAD") else post
        if handler is None:
            return error_page(405, "Method not allowed", "This page does not take that method.")
        token = request.cookies.get(security.SESSION_COOKIE)
        session = await run_in_threadpool(admin.load_session, ctx.storage, ctx.clock, token)
        if session is None:
            response = _login_redirect(request)
            if token:
                security.clear_cookie(response, request, issuer, security.SESSION_COOKIE)
            return response
        form: dict[str, list[str]] = {}
        if request.method == "POST":
            if not security.same_origin(request, issuer):
                return error_page(
                    403, "Request refused", "The form was not sent from this console."
                )
            try:
                form = security.parse_form(
                    request.headers.get("content-type"), await request.body()
                )
            except security.FormError as exc:
                return error_page(400, "Invalid form", str(exc))
            given = (form.get(security.CSRF_FIELD) or [""])[0]
            if not security.tokens_match(session.csrf_token, given):
                return error_page(
                    403,
                    "Request refused",
                    "The form's security token is missing or out of date. "
                    "Reload the page and try again.",
                )
        # The console user is known: this request's audit rows name them (platform.audit).
        client_ip = request.client.host if request.client else None
        recorded = audit.begin(audit.CONSOLE_USER, session.username, client_ip, handler.__name__)
        flash = Flash.decode(session.flash)
        if flash is not None and request.method != "POST":
            await run_in_threadpool(admin.set_flash, ctx.storage, session.token_hash, None)
        page = Page(
            ctx=ctx,
            session=session,
            method="GET" if request.method == "HEAD" else request.method,
            path=request.url.path,
            path_params={k: str(v) for k, v in request.path_params.items()},
            query={k: v for k, v in request.query_params.items()},
            form=form,
            origin=f"{request.url.scheme}://{request.headers.get('host', '')}",
            flash=flash if request.method != "POST" else None,
            issuer=issuer,
            operations=operations,
        )
        try:
            answer = await run_in_threadpool(handler, page)
            if request.method == "POST":
                await _audit_post(ctx, recorded, handler, None)
            return answer
        except audit.AuditUnavailable as exc:
            # Fail closed: the change was rolled back with its audit row.
            return error_page(503, "Not saved", exc.message)
        except StorageUnavailable:
            raise  # a 503 page (the console's handler), not a form error
        except (KindlingError, OAuthError) as exc:
            message = exc.message if isinstance(exc, KindlingError) else exc.description
            if request.method == "POST":
                code = exc.code if isinstance(exc, KindlingError) else exc.error
                await _audit_post(ctx, recorded, handler, code)
                back = security.back_path(request.headers, request, issuer, "/admin/")
                await run_in_threadpool(
                    admin.set_flash,
                    ctx.storage,
                    session.token_hash,
                    Flash("error", message).encode(),
                )
                return RedirectResponse(back, status_code=303, headers=security.page_headers())
            if isinstance(exc, NotFound):
                return error_page(404, "Not found", message)
            return error_page(400, "Invalid request", message)
        except Exception:
            log.exception("console %s %s failed", request.method, request.url.path)
            return error_page(500, "Something went wrong", "The server could not show this page.")

    return endpoint


async def _sign_in_page(
    request: Request, issuer: str, error: str | None = None, status: int = 200
) -> Response:
    csrf = request.cookies.get(security.LOGIN_CSRF_COOKIE) or admin.generate_password()
    response = render_html(
        "login.html",
        {
            "title": "Sign in",
            "csrf_token": csrf,
            "error": error,
            "next": security.safe_next(request.query_params.get("next")),
            "notice": "You have signed out." if request.query_params.get("signed_out") else None,
        },
        status=status,
    )
    security.set_cookie(response, request, issuer, security.LOGIN_CSRF_COOKIE, csrf, 3600)
    return response


def _attempted(username: str) -> str:
    """The username a refused sign-in named, as the console compares it (the password
    is never recorded)."""
    return username.strip().lower()[: admin.USERNAME_MAX]


def login_endpoint(ctx: Context, issuer: str) -> Callable[[Request], Awaitable[Response]]:
    async def login(request: Request) -> Response:
        if request.method != "POST":
            existing = request.cookies.get(security.SESSION_COOKIE)
            live = await run_in_threadpool(admin.load_session, ctx.storage, ctx.clock, existing)
            if live is not None:
                return RedirectResponse(
                    security.safe_next(request.query_params.get("next")),
                    status_code=303,
                    headers=security.page_headers(),
                )
            return await _sign_in_page(request, issuer)
        if not security.same_origin(request, issuer):
            return error_page(403, "Request refused", "The form was not sent from this console.")
        try:
            form = security.parse_form(request.headers.get("content-type"), await request.body())
        except security.FormError as exc:
            return error_page(400, "Invalid form", str(exc))

        def field_value(name: str) -> str:
            return (form.get(name) or [""])[0]

        if not security.tokens_match(
            request.cookies.get(security.LOGIN_CSRF_COOKIE), field_value(security.CSRF_FIELD)
        ):
            return await _sign_in_page(
                request, issuer, "The sign-in form expired. Please try again.", 403
            )
        client_ip = request.client.host if request.client else "unknown"
        try:
            session_token, view = await run_in_threadpool(
                admin.sign_in,
                ctx.storage,
                ctx.clock,
                field_value("username"),
                field_value("password"),
                client_ip,
            )
        except admin.SignInThrottled as exc:
            ctx.storage.audit.refusal(
                console_entry(
                    ctx,
                    audit.CONSOLE_SIGN_IN_FAILED,
                    _attempted(field_value("username")),
                    client_ip,
                    Code.TOO_MANY_REQUESTS,
                )
            )
            minutes = max(1, (exc.retry_after + 59) // 60)
            limited = error_page(
                429,
                "Too many attempts",
                f"Too many failed sign-ins from this address. Try again in {minutes} minutes.",
            )
            limited.headers["Retry-After"] = str(exc.retry_after)
            return limited
        except admin.SignInFailed as exc:
            # Batched and coalesced per second (platform.audit): a password-guessing run
            # cannot flood the database.
            ctx.storage.audit.refusal(
                console_entry(
                    ctx,
                    audit.CONSOLE_SIGN_IN_FAILED,
                    _attempted(field_value("username")),
                    client_ip,
                    Code.SIGN_IN_FAILED,
                )
            )
            return await _sign_in_page(request, issuer, exc.message, 401)
        try:
            await run_in_threadpool(
                ctx.storage.audit.record,
                console_entry(ctx, audit.CONSOLE_SIGNED_IN, view.username, client_ip),
            )
        except audit.AuditUnavailable as exc:
            # Fail closed: no session without its audit row.
            await run_in_threadpool(admin.sign_out, ctx.storage, view.token_hash)
            return error_page(503, "Not signed in", exc.message)
        response = RedirectResponse(
            security.safe_next(field_value("next")),
            status_code=303,
            headers=security.page_headers(),
        )
        security.set_cookie(
            response,
            request,
            issuer,
            security.SESSION_COOKIE,
            session_token,
            admin.SESSION_LIFETIME,
        )
        security.clear_cookie(response, request, issuer, security.LOGIN_CSRF_COOKIE)
        return response

    return login


def logout_endpoint(ctx: Context, issuer: str) -> Callable[[Request], Awaitable[Response]]:
    async def logout(request: Request) -> Response:
        token = request.cookies.get(security.SESSION_COOKIE)
        session = await run_in_threadpool(admin.load_session, ctx.storage, ctx.clock, token)
        if session is not None:
            if not security.same_origin(request, issuer):
                return error_page(
                    403, "Request refused", "The form was not sent from this console."
                )
            try:
                form = security.parse_form(
                    request.headers.get("content-type"), await request.body()
                )
            except security.FormError as exc:
                return error_page(400, "Invalid form", str(exc))
            if not security.tokens_match(
                session.csrf_token, (form.get(security.CSRF_FIELD) or [""])[0]
            ):
                return error_page(403, "Request refused", "Reload the page and try again.")
            await run_in_threadpool(admin.sign_out, ctx.storage, session.token_hash)
            try:
                await run_in_threadpool(
                    ctx.storage.audit.record,
                    console_entry(
                        ctx,
                        audit.CONSOLE_SIGNED_OUT,
                        session.username,
                        request.client.host if request.client else None,
                    ),
                )
            except audit.AuditUnavailable:
                pass  # logged by the writer; signing out is never refused
        response = RedirectResponse(
            "/admin/login?signed_out=1", status_code=303, headers=security.page_headers()
        )
        security.clear_cookie(response, request, issuer, security.SESSION_COOKIE)
        return response

    return logout


RouteSpec = tuple[str, PageHandler | None, PageHandler | None]


def build_console(
    ctx: Context, routes: Sequence[RouteSpec], operations: Sequence[Operation]
) -> Starlette:
    """The ``/admin`` application: sign-in, sign-out, static files and the given pages."""
    issuer = ctx.issuer()

    async def home(request: Request) -> Response:
        return RedirectResponse("/admin/applications", status_code=303)

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_page(404, "Not found", "There is no such page in the console.")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return await not_found(request, exc)
        return error_page(exc.status_code, "Error", str(exc.detail))

    table: list[BaseRoute] = [
        Route("/", home),
        Route("/login", login_endpoint(ctx, issuer), methods=["GET", "POST"]),
        Route("/logout", logout_endpoint(ctx, issuer), methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("kindling.web.console", "static")])),
    ]
    for path, get, post in routes:
        methods = (["GET"] if get else []) + (["POST"] if post else [])
        endpoint = page_endpoint(ctx, issuer, get, post, operations)
        table.append(Route(path, endpoint, methods=methods))

    async def storage_unavailable(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StorageUnavailable)
        page = error_page(
            503,
            "Temporarily unavailable",
            f"The database is not answering. Try again in {exc.retry_after} seconds.",
        )
        page.headers["Retry-After"] = str(exc.retry_after)
        return page

    return Starlette(
        routes=table,
        exception_handlers={
            404: not_found,
            HTTPException: http_error,
            StorageUnavailable: storage_unavailable,
        },
    )
