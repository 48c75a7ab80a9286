"""``create_app``: the ASGI application, composed from a Context.

``/oauth2/token`` goes straight to its bare ASGI endpoint (the hot path), and so do
``/oauth2/introspect`` and ``/oauth2/revoke`` (RFC 7662, RFC 7009; checked after the
token path, which they do not slow); everything else goes through Starlette:
discovery and JWKS, and the Management API under ``/api/v1``. Unknown routes answer
Kinde's ``not_found_response``, and every response is ``application/json``.
The probes ``/healthz`` and ``/readyz`` (``kindling.web.health``) are answered before
Starlette, on the event loop, so they never wait for a request thread. A database
fault (``StorageUnavailable``) is a 503 with ``Retry-After`` on every entry point.

``create_app`` wraps all of it in the request pipeline (``kindling.web.pipeline``):
every request to every entry point gets an ``X-Request-ID``, an access-log line
and the configured hooks; with ``Settings.rate_limits`` on (``kindling serve``'s
default) the rate limiter (``kindling.web.ratelimit``) is the first of them.
"""

import re
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from kindling.context import REGISTRY
from kindling.environment_file.routes import operations as environment_file_operations
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.oauth.introspection import IntrospectionEndpoint
from kindling.oauth.metadata import (
    INTROSPECTION_PATH,
    REVOCATION_PATH,
    authorization_server_metadata,
    openid_configuration,
)
from kindling.oauth.revocation import RevocationEndpoint
from kindling.oauth.server import TokenEndpoint, TokenResponse
from kindling.platform import audit
from kindling.platform.codes import Code
from kindling.platform.context import Context
from kindling.platform.engine import StorageUnavailable
from kindling.platform.operations import Operation
from kindling.platform.signing import JWKS_MAX_AGE
from kindling.resources.apis.service import management_audience
from kindling.resources.applications.clients import StorageClientStore
from kindling.resources.applications.service import application_exists
from kindling.resources.environment.service import logo_image
from kindling.web.bearer_cache import BearerVerifier
from kindling.web.console import console_routes
from kindling.web.health import HEALTH_PATH, READY_PATH, Readiness, check_ready, healthz
from kindling.web.management import (
    build_routes,
    error_response,
    json_response,
    not_found_route_response,
    unavailable_response,
)
from kindling.web.oauth_endpoints import FormEndpointASGI, Handle, oauth_error
from kindling.web.pipeline import TOKEN_PATH, PipelineHook, RequestPipeline
from kindling.web.proxy import TrustedProxies
from kindling.web.ratelimit import rate_limit_hook
from kindling.web.route_table import RouteTable
from kindling.web.token import Receive, Scope, Send, TokenASGI
from kindling.web.token import unavailable as oauth_unavailable

__all__ = ["TOKEN_PATH", "KindlingApp", "create_app", "management_operations"]


class _ApiMount(Mount):
    """A ``Mount`` that also routes a path holding a newline (``%0A``) to its operation.

    Starlette's mount pattern ends in ``.*``, which stops at a newline, so
    ``/api/v1/roles/a%0Ab`` answered ``ROUTE_NOT_FOUND`` where the operation answers a
    bad path parameter itself (``kindling.web.management``). The operations' own
    patterns end at ``\\Z`` instead of ``$`` (which also matches before a final
    newline), so ``/api/v1/roles%0A`` still matches no route.
    """

    def __init__(self, path: str, routes: Sequence[BaseRoute]) -> None:
        super().__init__(path, routes=list(routes))
        self.path_regex = re.compile(self.path_regex.pattern, re.DOTALL)
        for route in routes:
            if isinstance(route, Route) and route.path_regex.pattern.endswith("$"):
                route.path_regex = re.compile(route.path_regex.pattern[:-1] + r"\Z")


def _answer_unavailable(handle: Handle) -> Handle:
    """``handle`` answering a database fault as 503 ``temporarily_unavailable`` with
    ``Retry-After`` (RFC 6749 §4.1.2.1, RFC 7009 §2.2.1) instead of its generic failure."""

    def guarded(
        body: bytes, content_type: str | None, authorization: str | None, now: float
    ) -> TokenResponse:
        try:
            return handle(body, content_type, authorization, now)
        except StorageUnavailable as exc:
            return oauth_unavailable(exc)

    return guarded


def management_operations() -> list[Operation]:
    """Every registered Management API operation (``/api/v1``)."""
    return REGISTRY.operations()


class KindlingApp:
    """Top-level ASGI callable: the token fast path, then Starlette for the rest."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        issuer = ctx.issuer()
        self.issuer = issuer
        # The verified-bearer cache of /api/v1 and /kindling/v1, and of the rate limiter
        # (create_app): one cache, one set of rules (web.bearer_cache).
        audience = management_audience(issuer)
        self.bearer = BearerVerifier(ctx, lambda: audience)
        endpoint = TokenEndpoint(
            store=StorageClientStore(ctx.storage),
            verifier=ctx.hasher,
            signer=ctx.keyring.signer,
            issuer=lambda: issuer,
            claims_hook=ctx.claims_hook,
            properties_claim=ctx.settings.app_properties_claim,
        )
        # Token issuance and refusals go to the batched audit writer (platform.audit).
        writer = ctx.storage.audit.configure(ctx.settings.audit_retention_days)
        self.token = TokenASGI(endpoint, ctx.clock, inline=ctx.storage.embedded, audit=writer)
        self.oauth = self._oauth_endpoints(ctx, issuer)
        self.readiness = Readiness(lambda: check_ready(ctx))
        self.starlette = self._build_starlette(ctx, issuer)
        # /api/v1 and /kindling/v1 by table, answered as Starlette would (web.route_table).
        mounts = [route for route in self.starlette.routes if isinstance(route, _ApiMount)]
        self.routes = RouteTable(self.starlette, mounts)

    @staticmethod
    def _oauth_endpoints(ctx: Context, issuer: str) -> dict[str, FormEndpointASGI]:
        """Introspection and revocation, beside the token endpoint (same client auth)."""
        store = StorageClientStore(ctx.storage)
        audience = management_audience(issuer)
        introspection = IntrospectionEndpoint(
            store=store,
            verifier=ctx.hasher,
            keys=ctx.keyring.current,
            issuer=lambda: issuer,
            management_audience=lambda: audience,
            application_exists=lambda client_id: application_exists(ctx.storage, client_id),
        )
        revocation = RevocationEndpoint(
            store=store,
            verifier=ctx.hasher,
            keys=ctx.keyring.current,
            issuer=lambda: issuer,
            revoke=ctx.keyring.revoke_token,
        )
        inline = ctx.storage.embedded
        # Their failed client authentications are audited like the token endpoint's.
        writer = ctx.storage.audit
        return {
            INTROSPECTION_PATH: FormEndpointASGI(
                _answer_unavailable(introspection.handle),
                ctx.clock,
                inline,
                "introspection",
                oauth_error(500, "server_error", "the server could not introspect the token"),
                writer,
                audit.INTROSPECTION_REFUSED,
            ),
            REVOCATION_PATH: FormEndpointASGI(
                _answer_unavailable(revocation.handle),
                ctx.clock,
                inline,
                "revocation",
                # RFC 7009 §2.2.1: the client may assume the token still exists and retry.
                oauth_error(
                    503,
                    "temporarily_unavailable",
                    "the token could not be revoked now; try again",
                    (("retry-after", "5"),),
                ),
                writer,
                audit.REVOCATION_REFUSED,
            ),
        }

    def _build_starlette(self, ctx: Context, issuer: str) -> Starlette:
        scopes = list(MANAGEMENT_API_SCOPES)
        audience = management_audience(issuer)
        cache = {"Cache-Control": f"public, max-age={JWKS_MAX_AGE}"}

        async def jwks(request: Request) -> Response:
            # Fresh on every request: a key is published from its rotation's commit on.
            if ctx.storage.embedded:
                keys = ctx.keyring.jwks()
            else:
                keys = await run_in_threadpool(ctx.keyring.jwks)
            return json_response(200, keys, cache)

        async def oidc(request: Request) -> Response:
            return json_response(200, openid_configuration(issuer, scopes), cache)

        async def oauth_metadata(request: Request) -> Response:
            return json_response(200, authorization_server_metadata(issuer, scopes), cache)

        async def logo(request: Request) -> Response:
            """Kinde's logo addresses: ``/logo`` and ``/logo_dark`` (``?org_code=`` optional)."""
            type_ = "dark" if request.url.path == "/logo_dark" else "light"
            found = await run_in_threadpool(
                logo_image, ctx.storage, request.query_params.get("org_code"), type_
            )
            if found is None:
                return not_found_route_response()
            content_type, data = found
            return Response(
                data,
                media_type=content_type,
                headers={
                    "Cache-Control": "public, max-age=3600",
                    "X-Content-Type-Options": "nosniff",
                    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                },
            )

        async def not_found(request: Request, exc: Exception) -> Response:
            return not_found_route_response()

        async def storage_unavailable(request: Request, exc: Exception) -> Response:
            # JWKS, the logo, the docs: a database fault is a 503 with Retry-After.
            assert isinstance(exc, StorageUnavailable)
            return unavailable_response(exc)

        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            if exc.status_code == 404:
                return not_found_route_response()
            headers: dict[str, Any] = dict(exc.headers or {})
            return error_response(exc.status_code, Code.HTTP_ERROR, str(exc.detail), headers)

        api_routes = build_routes(ctx, management_operations(), lambda: audience, self.bearer)
        routes = [
            Route("/.well-known/jwks", jwks),
            Route("/.well-known/jwks.json", jwks),
            Route("/.well-known/openid-configuration", oidc),
            Route("/.well-known/oauth-authorization-server", oauth_metadata),
            Route("/logo", logo),
            Route("/logo_dark", logo),
            *console_routes(ctx, management_operations()),
            _ApiMount("/api/v1", api_routes),
            _ApiMount(
                "/kindling/v1",
                build_routes(
                    ctx,
                    [*REGISTRY.extension_operations(), *environment_file_operations()],
                    lambda: audience,
                    self.bearer,
                ),
            ),
        ]
        return Starlette(
            routes=routes,
            exception_handlers={
                404: not_found,
                HTTPException: http_error,
                StorageUnavailable: storage_unavailable,
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["path"] == TOKEN_PATH:
                await self.token(scope, receive, send)
                return
            form = self.oauth.get(scope["path"])
            if form is not None:
                await form(scope, receive, send)
                return
            # Probes, before Starlette and any thread: never behind database work.
            if scope["path"] == HEALTH_PATH:
                await healthz(send)
                return
            if scope["path"] == READY_PATH:
                await self.readiness(send)
                return
            found = self.routes.lookup(scope)
            if found is not None:
                await self.routes.dispatch(found, scope, receive, send)
                return
        await self.starlette(scope, receive, send)


def create_app(ctx: Context, hooks: Sequence[PipelineHook] = ()) -> RequestPipeline:
    """The application behind the request pipeline; ``hooks`` plug into every request.

    The rate limiter comes first when ``ctx.settings.rate_limits`` is on (a bad limit
    raises ``RateLimitSettingsError``); audit and metrics add their hooks here: with
    ``ctx.settings.metrics`` on, ``kindling.web.metrics`` counts every request and answers
    ``/metrics``. ``X-Forwarded-*`` is believed from ``ctx.settings.proxies`` only.
    """
    app = KindlingApp(ctx)
    installed = list(hooks)
    if ctx.settings.rate_limits:
        installed.insert(0, rate_limit_hook(ctx, app.bearer))
    if ctx.settings.metrics:
        # prometheus_client only when metrics are on (~50 ms of start-up otherwise).
        from kindling.web.metrics import metrics_hook

        installed.append(metrics_hook(ctx))
    proxies = TrustedProxies(ctx.settings.proxies)
    return RequestPipeline(
        app, installed, ctx.settings.max_header_bytes, proxies, app.token.headers_too_large
    )
