"""Interactive API docs: Swagger UI at ``/api/docs`` over our OpenAPI document.

Swagger UI's files come from the installed ``swagger-ui-bundle`` package and are
served from ``/api/docs/assets`` (an allowlist; nothing is loaded from a CDN), so
the docs work offline. A test token from the console arrives in the URL fragment
(``/api/docs#token=…``), which browsers never send to a server: ``docs.js`` reads
it, removes it from the address bar and pre-authorizes Swagger UI with it.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from kindling.platform.context import Context
from kindling.platform.operations import Operation
from kindling.resources.apis.service import management_audience
from kindling.web.console import security
from kindling.web.console.app import render_html
from kindling.web.openapi import build_document

DOCS_PATH = "/api/docs"
OPENAPI_PATH = "/api/openapi.json"
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
_CACHE_LIMIT = 8


def swagger_ui_dir() -> Path:
    """Where the installed ``swagger-ui-bundle`` package keeps Swagger UI's dist files."""
    module = importlib.import_module("swagger_ui_bundle")
    return Path(str(module.swagger_ui_path))


def request_origin(request: Request) -> str | None:
    host = request.headers.get("host", "")
    if not _HOST.fullmatch(host):
        return None
    return f"{request.url.scheme}://{host}"


def docs_routes(ctx: Context, operations: Sequence[Operation]) -> list[BaseRoute]:
    issuer = ctx.issuer()
    audience = management_audience(issuer)
    assets = swagger_ui_dir()
    cache: dict[tuple[str, ...], bytes] = {}

    def document_bytes(servers: tuple[str, ...]) -> bytes:
        body = cache.get(servers)
        if body is None:
            body = json.dumps(build_document(operations, servers)).encode("utf-8")
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[servers] = body
        return body

    async def openapi_json(request: Request) -> Response:
        origin = request_origin(request)
        servers = tuple(dict.fromkeys([origin, issuer] if origin else [issuer]))
        return Response(
            document_bytes(servers),
            media_type="application/json",
            headers={"Cache-Control": "no-cache", "Vary": "Host"},
        )

    async def docs_page(request: Request) -> Response:
        return render_html(
            "docs.html",
            {
                "title": "Management API docs",
                "spec_url": OPENAPI_PATH,
                "audience": audience,
                "issuer": issuer,
            },
            headers=security.page_headers(security.DOCS_CSP),
        )

    async def asset(request: Request) -> Response:
        name = str(request.path_params["name"])
        media_type = ASSETS.get(name)
        if media_type is None:
            return Response("Not found", status_code=404, media_type="text/plain")
        return FileResponse(
            assets / name,
            media_type=media_type,
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )

    return [
        Route(OPENAPI_PATH, openapi_json),
        Route(DOCS_PATH, docs_page),
        Route(DOCS_PATH + "/assets/{name}", asset),
    ]
