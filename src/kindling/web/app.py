"""``create_app``: the ASGI application, composed from a Context.

``/oauth2/token`` goes straight to its bare ASGI endpoint (the hot path);
everything else goes through Starlette: discovery and JWKS, and the Management
API under ``/api/v1``. Unknown routes answer Kinde's ``not_found_response``, and
every response is ``application/json``.

``create_app`` wraps all of it in the request pipeline (``kindling.web.pipeline``):
every request to every entry point gets an ``X-Request-ID``, an access-log line
and the configured hooks.
"""

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from kindling.context import REGISTRY
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.oauth.metadata import authorization_server_metadata, openid_configuration
from kindling.oauth.server import TokenEndpoint
from kindling.platform.codes import Code
from kindling.platform.context import Context
from kindling.platform.operations import Operation
from kindling.resources.apis.service import management_audience
from kindling.resources.applications.clients import StorageClientStore
from kindling.resources.environment.service import logo_image
from kindling.web.console import console_routes
from kindling.web.management import (
    build_routes,
    error_response,
    json_response,
    not_found_route_response,
)
from kindling.web.pipeline import TOKEN_PATH, PipelineHook, RequestPipeline
from kindling.web.token import Receive, Scope, Send, TokenASGI

__all__ = ["TOKEN_PATH", "KindlingApp", "create_app", "management_operations"]


def management_operations() -> list[Operation]:
    """Every registered Management API operation (``/api/v1``)."""
    return REGISTRY.operations()


class KindlingApp:
    """Top-level ASGI callable: the token fast path, then Starlette for the rest."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        issuer = ctx.issuer()
        self.issuer = issuer
        endpoint = TokenEndpoint(
            store=StorageClientStore(ctx.storage),
            verifier=ctx.hasher,
            signer=ctx.keyring.signer,
            issuer=lambda: issuer,
            claims_hook=ctx.claims_hook,
            properties_claim=ctx.settings.app_properties_claim,
        )
        self.token = TokenASGI(endpoint, ctx.clock, inline=ctx.storage.embedded)
        self.starlette = self._build_starlette(ctx, issuer)

    def _build_starlette(self, ctx: Context, issuer: str) -> Starlette:
        scopes = list(MANAGEMENT_API_SCOPES)
        audience = management_audience(issuer)
        cache = {"Cache-Control": "public, max-age=300"}

        async def jwks(request: Request) -> Response:
            return json_response(200, ctx.keyring.jwks(), cache)

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

        async def health(request: Request) -> Response:
            return json_response(200, {"status": "ok"})

        async def not_found(request: Request, exc: Exception) -> Response:
            return not_found_route_response()

        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            if exc.status_code == 404:
                return not_found_route_response()
            headers: dict[str, Any] = dict(exc.headers or {})
            return error_response(exc.status_code, Code.HTTP_ERROR, str(exc.detail), headers)

        api_routes = build_routes(ctx, management_operations(), lambda: audience)
        routes = [
            Route("/.well-known/jwks", jwks),
            Route("/.well-known/jwks.json", jwks),
            Route("/.well-known/openid-configuration", oidc),
            Route("/.well-known/oauth-authorization-server", oauth_metadata),
            Route("/healthz", health),
            Route("/logo", logo),
            Route("/logo_dark", logo),
            *console_routes(ctx, management_operations()),
            Mount("/api/v1", routes=api_routes),
            Mount(
                "/kindling/v1",
                routes=build_routes(ctx, REGISTRY.extension_operations(), lambda: audience),
            ),
        ]
        return Starlette(
            routes=routes,
            exception_handlers={404: not_found, HTTPException: http_error},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == TOKEN_PATH:
            await self.token(scope, receive, send)
            return
        await self.starlette(scope, receive, send)


def create_app(ctx: Context, hooks: Sequence[PipelineHook] = ()) -> RequestPipeline:
    """The application behind the request pipeline; ``hooks`` plug into every request.

    No hooks by default; rate limiting, audit and metrics add theirs here.
    """
    return RequestPipeline(KindlingApp(ctx), hooks)
