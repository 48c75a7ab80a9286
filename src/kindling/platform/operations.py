"""Operation declarations: what each Management API operation is, independent of HTTP.

A resource's ``routes`` module declares its operations with ``Router.operation``:
Kinde's method and path, the scope the operation requires (``x-scope``), the exact
2xx status and whether it has a body, the typed query parameters
(``kindling.platform.params``), the declared error statuses and, for a declared 404,
which of the spec's two error bodies it answers. The web layer
(``kindling.web.management``) turns the declarations into routes, and the same
declarations feed our OpenAPI document, the Postman export and the console. Handlers
receive a ``Call`` and return the JSON payload (None for an operation declared
``no_body``, or a ``Redirect`` for a browser-facing extension route); they never see
the web framework, and read query parameters already checked and converted
(``call.param(PAGE_SIZE)`` is an ``int``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import msgspec

from kindling.oauth.bearer import Principal
from kindling.platform.codes import Code
from kindling.platform.context import Context
from kindling.platform.errors import ValidationError
from kindling.platform.params import QueryParam, convert_query

_decoder = msgspec.json.Decoder()
T = TypeVar("T")


JSON_MEDIA = "application/json"


@dataclass
class Call:
    """Everything a handler sees of one request."""

    ctx: Context
    principal: Principal
    path: dict[str, str]
    #: The declared query parameters' text as sent (see ``param`` for their values).
    query: dict[str, str]
    raw_body: bytes
    #: Request headers, lower-cased names (e.g. ``content-type`` for multipart bodies).
    headers: dict[str, str] = field(default_factory=dict)
    #: Every query pair as sent, for deepObject parameters such as ``properties[key]=v``.
    query_items: list[tuple[str, str]] = field(default_factory=list)
    #: The peer address as the server saw it (no proxy headers are trusted).
    client_ip: str | None = None
    #: The declared query parameters, converted (``bind_query``) before the handler runs.
    params: dict[QueryParam[Any], Any] = field(default_factory=dict)

    def bind_query(self, declared: tuple[QueryParam[Any], ...]) -> None:
        """Check and convert the declared parameters; a bad one raises its Kinde code."""
        self.params = convert_query(declared, self.query)

    def param(self, declared: QueryParam[T]) -> T:
        """The converted value of a parameter the operation declared."""
        try:
            value: T = self.params[declared]
        except KeyError:
            raise LookupError(f"{declared.name} is not a declared parameter") from None
        return value

    def json(self, required: bool = True) -> Any:
        """The JSON body; a missing body is ``{}`` unless ``required``."""
        if not self.raw_body.strip():
            if required:
                raise ValidationError("a JSON request body is required", Code.BODY_REQUIRED)
            return {}
        media = self.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media and media != JSON_MEDIA and not media.endswith("+json"):
            raise ValidationError(
                "the request body must be application/json", Code.INVALID_CONTENT_TYPE
            )
        try:
            value = _decoder.decode(self.raw_body)
        except (msgspec.DecodeError, RecursionError):
            raise ValidationError("the request body is not valid JSON", Code.INVALID_JSON) from None
        if not isinstance(value, dict):
            raise ValidationError("the request body must be a JSON object", Code.INVALID_BODY)
        refuse_duplicate_keys(self.raw_body)
        return value


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> None:
    # ``dict(pairs)`` runs in C; the Python loop only runs to name the repeated key.
    if len(pairs) > 1 and len(dict(pairs)) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return None


def refuse_duplicate_keys(raw: bytes) -> None:
    """Raise ``DUPLICATE_JSON_KEY`` when an object in ``raw`` (valid JSON) repeats a name.

    RFC 8259 §4 says names SHOULD be unique and that parsers differ on repeats (msgspec,
    like most, keeps the last silently), so ``{"name": "a", "name": "b"}`` could mean
    one thing to a proxy or audit log and another here: Kindling refuses it. msgspec
    cannot report repeats, so the stdlib parser validates a second time with a pairs
    hook that builds nothing (each object becomes None). Measured on CPython 3.11 for a
    body msgspec decodes in 1.7 µs (1 KiB) and 158 µs (100 KiB): 8 µs and 0.46 ms more.
    """
    try:
        json.loads(raw, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as dup:
        name = dup.key if len(dup.key) <= 64 else dup.key[:64] + "..."
        raise ValidationError(
            f"the request body repeats the key {json.dumps(name)}", Code.DUPLICATE_JSON_KEY
        ) from None
    except (ValueError, RecursionError):
        # msgspec accepted the body: only a nesting depth between the two parsers' limits
        # gets here, and msgspec's own limit refuses the rest as INVALID_JSON.
        raise ValidationError("the request body is not valid JSON", Code.INVALID_JSON) from None


Handler = Callable[[Call], Any]

#: Control characters and spaces: none may appear in a ``Location`` header value.
_NOT_IN_LOCATION = frozenset(chr(c) for c in (*range(0x21), 0x7F))


@dataclass(frozen=True)
class Redirect:
    """A handler's answer that sends the browser on instead of answering JSON: the web
    layer renders it as ``302 Found`` with ``Location`` (RFC 9110 §15.4.3, §10.2.2) and
    ``Cache-Control: no-store``, so the one-time outcome it carries is not cached.

    For browser-facing routes only (the connected apps' OAuth callback, which sends the
    user on to the app as an RFC 6749 §4.1.2 redirection endpoint does): the Management
    API's contract answers JSON. ``location`` is an absolute ``https``/``http`` URL the
    handler built from validated parts; one with a space or a control character (which
    would split or bend the header) is refused here, before any response is made.
    """

    location: str

    def __post_init__(self) -> None:
        scheme = self.location.partition(":")[0].lower()
        if scheme not in ("https", "http") or "://" not in self.location:
            raise ValueError("a redirect location is an absolute http(s) URL")
        if any(ch in _NOT_IN_LOCATION for ch in self.location):
            raise ValueError("a redirect location contains a space or a control character")


class ErrorBody(StrEnum):
    """The spec's two error body schemas; a declared 404 names the one it answers."""

    #: ``{"errors": [{"code", "message"}, ...]}``: every 400, 401, 403, 409 and 429, and the
    #: 404 of the operations whose spec declares ``error_response`` for it (directories,
    #: connected apps).
    ERROR_RESPONSE = "error_response"
    #: ``{"errors": {"code", "message"}}``: ``errors`` is one object, not a list. The
    #: spec's shared ``not_found`` response, which most declared 404s use.
    NOT_FOUND_RESPONSE = "not_found_response"


@dataclass
class Operation:
    method: str
    path: str
    scope: str | None
    status: int
    handler: Handler
    operation_id: str
    tag: str
    query: tuple[QueryParam[Any], ...] = ()
    body: bool = False
    declared_errors: frozenset[int] = field(default_factory=frozenset)
    #: Public operations (``POST /api_keys/verify``) take no bearer token.
    public: bool = False
    #: The spec's 2xx declares no content: the answer has no body and no Content-Type
    #: (an empty body labelled JSON makes the JS SDK's ``response.json()`` throw), and
    #: the handler returns None.
    no_body: bool = False
    #: The body a declared 404 answers (the spec says per operation).
    not_found: ErrorBody = ErrorBody.NOT_FOUND_RESPONSE
    #: For a read that is short and bounded whatever it is given (a keyset page, a lookup
    #: by key; it writes nothing and so never waits for a lock), given the call's query
    #: text: True when this call is such a read. On an embedded engine (SQLite) such a
    #: call runs on the event loop rather than in a worker thread, which saves the thread
    #: hand-off (about 100 µs of CPU per call on a small VM, more than the read itself).
    #: None: always in a worker thread.
    inline: Callable[[Mapping[str, str]], bool] | None = None

    @property
    def org_target(self) -> tuple[str, str] | None:
        """Where the operation names its organization: ("path"|"query", parameter).

        An organization-scoped token may call an operation only for the organization
        this names (``web.management.confine_to_organization``): a path parameter
        ``{org_code}``/``{organization_code}``, ``GET /organization``'s ``code``, or a
        declared ``org_code`` query parameter of a path with no parameters of its own
        (``GET /api_keys``, ``GET /connected_apps/auth_url``: each then reads or writes
        only that organization's rows). An optional one the token leaves out names
        nothing, so the call is refused rather than widened to every organization. With a
        path parameter (``/users/{user_id}/feature_flags?org_code=``) the path addresses
        something else, which an ``org_code`` beside it does not confine, so it is no
        target.
        """
        for name in ("org_code", "organization_code"):
            if "{" + name + "}" in self.path:
                return ("path", name)
        if self.path == "/organization" and self.method == "GET":
            return ("query", "code")
        if "{" not in self.path and any(param.name == "org_code" for param in self.query):
            return ("query", "org_code")
        return None

    def error_status(self, status: int) -> int:
        """Keep to the error codes the contract declares: 404/409 fall back to 400."""
        if status in (404, 409) and status not in self.declared_errors:
            return 400
        return status

    def error_body(self, status: int) -> ErrorBody:
        """The body schema of an error answered with ``status`` (after ``error_status``):
        a 404 answers what the operation declares for it, everything else ``error_response``."""
        if status == 404 and 404 in self.declared_errors:
            return self.not_found
        return ErrorBody.ERROR_RESPONSE


class Router:
    """Collects the operations of one resource module."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.operations: list[Operation] = []

    def operation(
        self,
        method: str,
        path: str,
        *,
        scope: str | None,
        status: int = 200,
        operation_id: str,
        query: tuple[QueryParam[Any], ...] = (),
        body: bool = False,
        errors: tuple[int, ...] = (),
        public: bool = False,
        no_body: bool = False,
        not_found: ErrorBody | None = None,
        inline: Callable[[Mapping[str, str]], bool] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare one operation; ``no_body`` when the spec's 2xx declares no content,
        ``not_found`` when a declared 404 answers ``error_response`` rather than the
        spec's usual ``not_found_response``, ``inline`` for the calls that are short,
        bounded reads (``Operation.inline``)."""
        names = [param.name for param in query]
        if len(set(names)) != len(names):
            raise ValueError(f"{method} {path} declares a query parameter twice")
        if not_found is not None and 404 not in errors:
            raise ValueError(f"{method} {path} names a 404 body but declares no 404")

        def register(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method=method,
                    path=path,
                    scope=scope,
                    status=status,
                    handler=handler,
                    operation_id=operation_id,
                    tag=self.tag,
                    query=query,
                    body=body,
                    declared_errors=frozenset(errors),
                    public=public,
                    no_body=no_body,
                    not_found=not_found or ErrorBody.NOT_FOUND_RESPONSE,
                    inline=inline,
                )
            )
            return handler

        return register
