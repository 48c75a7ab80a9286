"""Operation declarations: what each Management API operation is, independent of HTTP.

A resource's ``routes`` module declares its operations with ``Router.operation``:
Kinde's method and path, the scope the operation requires (``x-scope``), the exact
2xx status, the typed query parameters (``kindling.platform.params``) and the
declared error statuses. The web layer (``kindling.web.management``) turns the
declarations into routes, and the same declarations feed our OpenAPI document, the
Postman export and the console. Handlers receive a ``Call`` and return the JSON
payload; they never see the web framework, and read query parameters already
checked and converted (``call.param(PAGE_SIZE)`` is an ``int``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
        return value


Handler = Callable[[Call], Any]


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

    @property
    def org_target(self) -> tuple[str, str] | None:
        """Where the operation names its organization: ("path"|"query", parameter)."""
        for name in ("org_code", "organization_code"):
            if "{" + name + "}" in self.path:
                return ("path", name)
        if self.path == "/organization" and self.method == "GET":
            return ("query", "code")
        return None

    def error_status(self, status: int) -> int:
        """Keep to the error codes the contract declares: 404/409 fall back to 400."""
        if status in (404, 409) and status not in self.declared_errors:
            return 400
        return status


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
    ) -> Callable[[Handler], Handler]:
        names = [param.name for param in query]
        if len(set(names)) != len(names):
            raise ValueError(f"{method} {path} declares a query parameter twice")

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
                )
            )
            return handler

        return register
