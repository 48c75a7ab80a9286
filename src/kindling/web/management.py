"""Management API routes from operation declarations (``kindling.platform.operations``).

For each declared operation this builds a Starlette route that authenticates the
bearer token, enforces the scope, parses input, runs the (synchronous) handler in
a worker thread and renders errors in Kinde's ``error_response`` shape (a declared
404 in the body its operation declares, see ``operation_error``). A 2xx is JSON, or
no body and no Content-Type where the operation declares ``no_body``; a handler's
``Redirect`` is a 302 (``redirect_response``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Hashable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kindling.oauth.bearer import BearerError, Principal, require_scope
from kindling.platform import audit
from kindling.platform.codes import Code
from kindling.platform.context import Context
from kindling.platform.engine import StorageUnavailable
from kindling.platform.errors import KindlingError, ValidationError
from kindling.platform.operations import JSON_MEDIA, Call, ErrorBody, Operation, Redirect
from kindling.platform.params import read_query
from kindling.platform.storage import current_request_id
from kindling.resources.applications.service import application_exists
from kindling.web.bearer_cache import BearerVerifier, LiveApplications, handed_over

log = logging.getLogger("kindling.api")
MAX_JSON_BODY = 1_048_576
#: C0 controls and DEL: no identifier Kindling issues or accepts holds one (NUL cannot
#: even be stored in PostgreSQL text), so a path parameter with one (``%00``, ``%0A``,
#: ``%0D``, ``%09``) is a malformed request: 400 ``INVALID_PARAMETER``, which every
#: operation with a path parameter declares or answers in place of an undeclared 404.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: The ASGI scope key under which an in-process caller (``kindling.web.local_transport``,
#: the CLI's ``--data-dir`` mode) names its operating-system user. No HTTP request can set
#: a scope key, so with it the audit log names the CLI (``platform.audit.CLI``) as the
#: actor, and the token's ``azp`` (the CLI, not an application) is not looked up.
LOCAL_ACTOR_SCOPE_KEY = "kindling.local_actor"


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    body = b"" if payload is None else msgspec.json.encode(payload)
    return Response(body, status_code=status, headers=headers, media_type=JSON_MEDIA)


def empty_response(status: int) -> Response:
    """A 2xx whose spec declares no content: no body and no Content-Type.

    Labelled ``application/json``, an empty body makes the JS SDK's ``response.json()``
    throw (``SyntaxError: Unexpected end of JSON input``); without a content type it
    reads no body, and the Python SDK returns None for a 2xx without a response model.
    """
    return Response(status_code=status)


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """Kinde's ``error_response``: ``{"errors": [{"code", "message"}]}``."""
    return json_response(status, {"errors": [{"code": code, "message": message}]}, headers)


def operation_error(op: Operation, exc: KindlingError) -> Response:
    """A domain error as ``op`` declares it: a 404 or 409 the operation does not declare
    is a 400 (``Operation.error_status``), and a declared 404 answers the body the spec
    gives that operation (``Operation.error_body``): ``not_found_response``, where
    ``errors`` is an object, or ``error_response``, where it is a list."""
    status = op.error_status(exc.status_code)
    if op.error_body(status) is ErrorBody.NOT_FOUND_RESPONSE:
        return json_response(status, {"errors": {"code": exc.code, "message": exc.message}})
    return error_response(status, exc.code, exc.message)


def redirect_response(redirect: Redirect) -> Response:
    """``302 Found`` to ``redirect.location`` (RFC 9110 §15.4.3), no body, and
    ``Cache-Control: no-store``: the outcome it carries is for this one navigation."""
    return Response(
        status_code=302, headers={"Location": redirect.location, "Cache-Control": "no-store"}
    )


def success_response(op: Operation, payload: Any) -> Response:
    """The handler's result as the operation's 2xx: JSON, or nothing for ``no_body``;
    a ``Redirect`` (browser-facing extension routes) is a 302.

    A handler that disagrees with its declaration is a programming error (the
    conformance walk checks every operation) and is logged. A body where the spec
    declares none is dropped: the change is made and the client gets the declared
    answer. No body where the spec declares one cannot be answered in the declared shape,
    and an empty body labelled JSON is what the SDKs fail on, so that is a 500.
    """
    if isinstance(payload, Redirect):
        return redirect_response(payload)
    if op.no_body:
        if payload is not None:
            log.error("%s %s returned a body but is declared no_body", op.method, op.path)
        return empty_response(op.status)
    if payload is not None:
        return json_response(op.status, payload)
    log.error("%s %s returned no body but declares a JSON body", op.method, op.path)
    return error_response(500, Code.INTERNAL_ERROR, "The server failed to handle the request")


def unavailable_response(exc: StorageUnavailable) -> Response:
    """503 in Kinde's ``error_response`` with ``SERVICE_UNAVAILABLE`` and ``Retry-After``
    (RFC 9110 §10.2.3, seconds): the database could not do the work in bounded time and
    nothing was written (RELIABILITY-AND-USERS.md A12 cases 46-47). The message names no
    host or driver detail; the engine logs those."""
    return error_response(
        503,
        Code.SERVICE_UNAVAILABLE,
        "The service is temporarily unavailable; retry after "
        f"{exc.retry_after} second{'s' if exc.retry_after != 1 else ''}",
        {"Retry-After": str(exc.retry_after)},
    )


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


_NO_VALUES: list[str] = []


def _query_items(request: Request) -> list[tuple[str, str]]:
    """Every query pair as sent: ``request.query_params.multi_items()``, parsed as
    Starlette's ``QueryParams`` parses the ASGI ``query_string`` (latin-1, then
    ``parse_qsl`` with blank values kept), without building the multidict."""
    raw = request.scope["query_string"]
    if not isinstance(raw, bytes):
        return list(request.query_params.multi_items())
    return parse_qsl(raw.decode("latin-1"), keep_blank_values=True)


def _query(op: Operation, items: list[tuple[str, str]]) -> dict[str, str]:
    """The declared query parameters' text (repeats, NULs and missing required refused),
    from ``items`` grouped by name in one pass (``QueryParams.getlist`` per name scans
    them all)."""
    if not op.query:
        return {}
    grouped: dict[str, list[str]] = {}
    for name, value in items:
        values = grouped.get(name)
        if values is None:
            grouped[name] = [value]
        else:
            values.append(value)
    return read_query(op.query, lambda name: grouped.get(name, _NO_VALUES))


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


def _run(
    op: Operation,
    call: Call,
    local: bool = False,
    live: LiveApplications | None = None,
    marker: Hashable | None = None,
) -> Any:
    """Check the calling application still exists (not for the in-process CLI, ``local``;
    through ``live``'s cache when given, with the request's ``marker``), convert the
    declared query parameters (their errors come after the token's), then run the handler
    (worker thread, or the event loop for ``Operation.inline`` calls on SQLite)."""
    if op.public:
        call.bind_query(op.query)
        return op.handler(call)
    confine_to_organization(op, call)
    client_id = call.principal.client_id
    exists = (
        live.exists_at(client_id, marker)
        if live
        else application_exists(call.ctx.storage, client_id)
    )
    if not local and not exists:
        raise BearerError(
            401,
            Code.INVALID_TOKEN,
            "The application of this token no longer exists",
            "invalid_token",
            "kindling",
        )
    call.bind_query(op.query)
    return op.handler(call)


def _audit_target(op: Operation, request: Request) -> tuple[str | None, str | None]:
    """What a call without an event was about: its last path parameter (``user_id`` ->
    ``user``), else the ``id`` or ``code`` query parameter of a path like ``/user``."""
    params = list(request.path_params.items())
    if params:
        name, value = params[-1]
        kind = name.removesuffix("_id").removesuffix("_code")
        return ("organization" if kind == "org" else kind), str(value)
    for key in ("id", "code"):
        value = request.query_params.get(key)
        if value:
            return op.path.rstrip("/").rsplit("/", 1)[-1] or None, value
    return None, None


async def _audited(
    ctx: Context,
    op: Operation,
    request: Request,
    context: audit.RequestAudit | None,
    response: Response,
    code: str | None = None,
) -> Response:
    """Record an authenticated change that wrote no audit row: a refused one (4xx/5xx,
    ``code``) as a failure, one that recorded no event as a success; in a transaction of
    its own (``AuditWriter.record``), under the action ``api.<operationId>``. Reads and
    public operations are not recorded. A row that cannot be written is logged; the
    answer stays (a refused change changed nothing, and a committed one is done)."""
    if context is None or op.method == "GET":
        return response
    status = response.status_code
    if status < 400 and context.written:
        return response
    target_type, target_id = _audit_target(op, request)
    entry = audit.AuditEntry(
        occurred_at=int(ctx.clock.now() * 1000),
        actor_type=context.actor_type,
        actor_id=context.actor_id,
        action=f"api.{op.operation_id}",
        result=audit.FAILURE if status >= 400 else audit.SUCCESS,
        target_type=target_type,
        target_id=target_id,
        ip=context.ip,
        request_id=current_request_id.get(),
        error_code=code if status >= 400 else None,
        details={"status": status, "method": op.method, "path": op.path},
    )
    try:
        await run_in_threadpool(ctx.storage.audit.record, entry)
    except audit.AuditUnavailable:
        pass  # logged by the writer
    return response


ANONYMOUS = Principal(client_id="", scopes=frozenset(), org_code=None, jti=None, claims={})


def build_routes(
    ctx: Context,
    operations: list[Operation],
    audience: Callable[[], str],
    verifier: BearerVerifier | None = None,
) -> list[Route]:
    """Turn operations into Starlette routes, grouping methods by path.

    ``verifier`` checks their bearer tokens (``create_app`` shares one with the rate
    limiter); without it they get one of their own for ``audience``.
    """
    by_path: dict[str, dict[str, Operation]] = {}
    for op in operations:
        by_path.setdefault(op.path, {})[op.method] = op

    # One verification per token, not per request (web.bearer_cache): a token stays
    # accepted until it expires or the keyring's view moves (a revocation, a key change).
    if verifier is None:  # not ``or``: an empty cache is falsy (``__len__``)
        verifier = BearerVerifier(ctx, audience)
    live = LiveApplications(ctx.storage)

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
            marker: Hashable | None = None
            try:
                if op.public:
                    principal = ANONYMOUS
                else:
                    # One read of the change marker for the keyring's and the
                    # application's freshness checks both (web.bearer_cache).
                    marker = ctx.storage.change_marker()
                    authorization = request.headers.get("authorization")
                    # Found by the rate limiter in the same cache for this request, or
                    # remembered; a new token (or a keyring view that needs a read) is
                    # checked in a worker thread, on SQLite here.
                    known = handed_over(request.scope, authorization)
                    if known is None and not ctx.storage.embedded:
                        known = verifier.cached_at(authorization, marker)
                    if known is not None:
                        principal = known
                    elif ctx.storage.embedded:
                        principal = verifier.principal_at(authorization, marker)
                    else:
                        principal = await run_in_threadpool(
                            verifier.principal_at, authorization, marker
                        )
            except BearerError as exc:
                return error_response(
                    exc.status, exc.code, exc.message, {"WWW-Authenticate": exc.challenge}
                )
            except StorageUnavailable as exc:
                return unavailable_response(exc)
            # The caller is known: the audit rows of this request name it (platform.audit).
            # Each request runs in its own task, so the context ends with the request.
            scope = request.scope
            client = scope.get("client")
            client_ip = client[0] if client else None  # Request.client.host, once
            local = scope.get(LOCAL_ACTOR_SCOPE_KEY)
            recorded: audit.RequestAudit | None
            if op.public:
                recorded = None
            elif isinstance(local, str):
                recorded = audit.begin(audit.CLI, local, None, op.operation_id)
            else:
                recorded = audit.begin(
                    audit.APPLICATION, principal.client_id, client_ip, op.operation_id
                )
            try:
                # After the audit context opens: a refused change by a known caller
                # (403 insufficient_scope) is recorded like any other refusal.
                if not op.public:
                    require_scope(principal, op.scope)
                body = await request.body() if op.body else b""
                if len(body) > MAX_JSON_BODY:
                    raise ValidationError("the request body is too large", Code.BODY_TOO_LARGE)
                path = {k: str(v) for k, v in request.path_params.items()}
                if any(_CONTROL.search(v) for v in path.values()):
                    raise ValidationError(
                        "a path parameter contains a control character", Code.INVALID_PARAMETER
                    )
                items = _query_items(request)
                call = Call(
                    ctx=ctx,
                    principal=principal,
                    path=path,
                    query=_query(op, items),
                    raw_body=body,
                    # Request.headers.items(), latin-1 as Starlette decodes them.
                    headers={
                        k.decode("latin-1").lower(): v.decode("latin-1")
                        for k, v in scope["headers"]
                    },
                    query_items=items,
                    client_ip=client_ip,
                )
                if op.inline is not None and ctx.storage.embedded and op.inline(call.query):
                    payload = _run(op, call, isinstance(local, str), live, marker)
                else:
                    payload = await run_in_threadpool(
                        _run, op, call, isinstance(local, str), live, marker
                    )
            except BearerError as exc:
                refused = error_response(
                    exc.status, exc.code, exc.message, {"WWW-Authenticate": exc.challenge}
                )
                return await _audited(ctx, op, request, recorded, refused, exc.code)
            except StorageUnavailable as exc:
                # Not audited: the database that refused the change would refuse its
                # audit row too, after another bounded wait; the engine logs the fault.
                return unavailable_response(exc)
            except KindlingError as exc:
                return await _audited(
                    ctx, op, request, recorded, operation_error(op, exc), exc.code
                )
            except Exception:
                log.exception("%s %s failed", op.method, op.path)
                failed = error_response(
                    500, Code.INTERNAL_ERROR, "The server failed to handle the request"
                )
                return await _audited(ctx, op, request, recorded, failed, Code.INTERNAL_ERROR)
            return await _audited(ctx, op, request, recorded, success_response(op, payload))

        return endpoint

    return [
        Route(path, endpoint_for(methods), methods=list(methods))
        for path, methods in by_path.items()
    ]
