"""Management API routes from operation declarations (``kindling.platform.operations``).

For each declared operation this builds a Starlette route that authenticates the
bearer token, enforces the scope, parses input, runs the (synchronous) handler in
a worker thread and renders errors in Kinde's ``error_response`` shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kindling.oauth.bearer import BearerError, Principal, authenticate_bearer, require_scope
from kindling.platform.codes import Code
from kindling.platform.context import Context
from kindling.platform.errors import KindlingError, ValidationError
from kindling.platform.operations import JSON_MEDIA, Call, Operation
from kindling.platform.params import read_query
from kindling.resources.applications.service import application_exists

log = logging.getLogger("kindling.api")
MAX_JSON_BODY = 1_048_576


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    body = b"" if payload is None else msgspec.json.encode(payload)
    return Response(body, status_code=status, headers=headers, media_type=JSON_MEDIA)


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """Kinde's ``error_response``: ``{"errors": [{"code", "message"}]}``."""
    return json_response(status, {"errors": [{"code": code, "message": message}]}, headers)


def not_found_route_response() -> Response:
    """Kinde's ``not_found_response`` (note: ``errors`` is an object here)."""
    return json_response(
        404,
        {
            "errors": {
                "code": Code.ROUTE_NOT_FOUND,
                "message": "The requested API route does not exist",
            }
        },
    )


def _query(request: Request, op: Operation) -> dict[str, str]:
    """The declared query parameters' text (repeats, NULs and missing required refused)."""
    return read_query(op.query, request.query_params.getlist)


def confine_to_organization(op: Operation, call: Call) -> None:
    """Organization-scoped M2M tokens (``org_code`` claim) reach only their organization.

    Such a token may call only operations that address one organization, and only
    for its own; anything else is 403, so it can never read another tenant's data.
    """
    org_code = call.principal.org_code
    if org_code is None:
        return
    target = op.org_target
    named = None
    if target is not None:
        named = call.path.get(target[1]) if target[0] == "path" else call.query.get(target[1])
    if named != org_code:
        raise BearerError(
            403,
            Code.ORGANIZATION_MISMATCH,
            f"This token is limited to the organization {org_code}",
            "insufficient_scope",
            "kindling",
        )


def _run(op: Operation, call: Call) -> Any:
    """Check the calling application still exists, convert the declared query parameters
    (their errors come after the token's), then run the handler (worker thread)."""
    if op.public:
        call.bind_query(op.query)
        return op.handler(call)
    confine_to_organization(op, call)
    if not application_exists(call.ctx.storage, call.principal.client_id):
        raise BearerError(
            401,
            Code.INVALID_TOKEN,
            "The application of this token no longer exists",
            "invalid_token",
            "kindling",
        )
    call.bind_query(op.query)
    return op.handler(call)


ANONYMOUS = Principal(client_id="", scopes=frozenset(), org_code=None, jti=None, claims={})


def build_routes(
    ctx: Context, operations: list[Operation], audience: Callable[[], str]
) -> list[Route]:
    """Turn operations into Starlette routes, grouping methods by path."""
    issuer = ctx.issuer()
    by_path: dict[str, dict[str, Operation]] = {}
    for op in operations:
        by_path.setdefault(op.path, {})[op.method] = op

    def _authenticate(request: Request, op: Operation) -> Principal:
        principal = authenticate_bearer(
            request.headers.get("authorization"),
            ctx.keyring.public_key,
            issuer,
            audience(),
            ctx.clock.now(),
        )
        require_scope(principal, op.scope)
        return principal

    def endpoint_for(methods: dict[str, Operation]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            op = methods.get(request.method)
            if op is None:
                return error_response(
                    405,
                    Code.METHOD_NOT_ALLOWED,
                    f"{request.method} is not allowed here",
                    {"Allow": ", ".join(sorted(methods))},
                )
            try:
                if op.public:
                    principal = ANONYMOUS
                else:
                    principal = _authenticate(request, op)
            except BearerError as exc:
                return error_response(
                    exc.status, exc.code, exc.message, {"WWW-Authenticate": exc.challenge}
                )
            try:
                body = await request.body() if op.body else b""
                if len(body) > MAX_JSON_BODY:
                    raise ValidationError("the request body is too large", Code.BODY_TOO_LARGE)
                path = {k: str(v) for k, v in request.path_params.items()}
                if any("\x00" in v for v in path.values()):
                    raise ValidationError(
                        "a path parameter contains a NUL character", Code.INVALID_PARAMETER
                    )
                call = Call(
                    ctx=ctx,
                    principal=principal,
                    path=path,
                    query=_query(request, op),
                    raw_body=body,
                    headers={k.lower(): v for k, v in request.headers.items()},
                    query_items=list(request.query_params.multi_items()),
                    client_ip=request.client.host if request.client else None,
                )
                payload = await run_in_threadpool(_run, op, call)
            except BearerError as exc:
                return error_response(
                    exc.status, exc.code, exc.message, {"WWW-Authenticate": exc.challenge}
                )
            except KindlingError as exc:
                status = op.error_status(exc.status_code)
                if status == 404:
                    # Kinde's declared 404s answer ``not_found_response``: errors is an object.
                    return json_response(
                        404, {"errors": {"code": exc.code, "message": exc.message}}
                    )
                return error_response(status, exc.code, exc.message)
            except Exception:
                log.exception("%s %s failed", op.method, op.path)
                return error_response(
                    500, Code.INTERNAL_ERROR, "The server failed to handle the request"
                )
            return json_response(op.status, payload)

        return endpoint

    return [
        Route(path, endpoint_for(methods), methods=list(methods))
        for path, methods in by_path.items()
    ]
