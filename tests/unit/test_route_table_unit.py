"""``RouteTable`` answers a mounted route exactly as Starlette's stack would
(``kindling.web.route_table``): the same messages, the same exception raised on, for
successes, every kind of failure, and the requests it leaves to Starlette.

A small Starlette application in the shape ``kindling.web.app`` builds (routes before the
mount, a mount of routes, the same kinds of exception handlers) is called twice per
request, once through Starlette and once through the table, and the two are compared.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from kindling.platform.engine import StorageUnavailable
from kindling.web.route_table import RouteTable


class Refused(Exception):
    """Has a handler that itself fails."""


class HandledLate(Exception):
    """Has a handler; raised while the response is being sent."""


async def ok(request: Request) -> Response:
    return JSONResponse({"path": request.url.path, "params": request.path_params})


async def echo_scope(request: Request) -> Response:
    scope = request.scope
    route = scope["route"]
    return JSONResponse(
        {
            "root_path": scope["root_path"],
            "app_root_path": scope["app_root_path"],
            "route": route.path,
            "endpoint": scope["endpoint"].__name__,
            "app": type(scope["app"]).__name__,
            "router": scope["router"] is request.app.router,
            "handlers": "starlette.exception_handlers" in scope,
            "params": scope["path_params"],
        }
    )


async def teapot(request: Request) -> Response:
    raise HTTPException(418, "short and stout", {"X-Kettle": "on"})


async def gone(request: Request) -> Response:
    raise HTTPException(404)


async def unavailable(request: Request) -> Response:
    raise StorageUnavailable("the database is down", "unreachable")


async def boom(request: Request) -> Response:
    raise ValueError("a bug")


async def refused(request: Request) -> Response:
    raise Refused()


class _LateBody(Response):
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise HandledLate()


class _LateError(Response):
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise KeyError("late")


async def late_handled(request: Request) -> Response:
    return _LateBody()


async def late_unhandled(request: Request) -> Response:
    return _LateError()


async def not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"errors": {"code": "ROUTE_NOT_FOUND"}}, status_code=404)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"status": exc.status_code, "detail": exc.detail}, exc.status_code)


async def storage_unavailable(request: Request, exc: Exception) -> Response:
    return JSONResponse({"errors": [{"code": "SERVICE_UNAVAILABLE"}]}, 503, {"Retry-After": "5"})


async def refused_handler(request: Request, exc: Exception) -> Response:
    raise ValueError("the handler failed too")


async def late_handler(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("late")


HANDLERS: dict[Any, Any] = {
    404: not_found,
    HTTPException: http_error,
    StorageUnavailable: storage_unavailable,
    Refused: refused_handler,
    HandledLate: late_handler,
}

API = [
    Route("/items", ok, methods=["GET", "POST"]),
    Route("/items/{item_id}", ok, methods=["GET", "DELETE"]),
    Route("/items/{item_id}/scope", echo_scope, methods=["GET"]),
    # A parameter route before a literal one it also matches: Starlette takes the first.
    Route("/shelves/{shelf}", ok, methods=["GET"]),
    Route("/shelves/top", echo_scope, methods=["GET", "PUT"]),
    Route("/teapot", teapot, methods=["GET"]),
    Route("/gone", gone, methods=["GET"]),
    Route("/unavailable", unavailable, methods=["GET"]),
    Route("/boom", boom, methods=["GET"]),
    Route("/refused", refused, methods=["GET"]),
    Route("/late-handled", late_handled, methods=["GET"]),
    Route("/late-unhandled", late_unhandled, methods=["GET"]),
]


def make_app(**kwargs: Any) -> tuple[Starlette, Mount]:
    mount = Mount("/api/v1", routes=API)
    app = Starlette(
        routes=[Route("/logo", ok), Route("/api/docs/{name}", ok), mount],
        exception_handlers=HANDLERS,
        **kwargs,
    )
    return app, mount


def scope_for(method: str, path: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        **extra,
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def run(app: Any, scope: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """The messages sent and the type of the exception raised (None if none)."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def call() -> str | None:
        try:
            await app(scope, _receive, send)
        except Exception as exc:
            return type(exc).__name__
        return None

    raised = asyncio.run(call())
    return sent, raised


def through_table(table: RouteTable, scope: dict[str, Any]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        found = table.lookup(scope)
        assert found is not None, scope["path"]
        await table.dispatch(found, scope, receive, send)

    return app


ANSWERED = [
    ("GET", "/api/v1/items"),
    ("POST", "/api/v1/items"),
    ("HEAD", "/api/v1/items"),
    ("GET", "/api/v1/items/a%20b"),
    ("GET", "/api/v1/items/x%0Ay"),
    ("DELETE", "/api/v1/items/42"),
    ("GET", "/api/v1/items/42/scope"),
    ("GET", "/api/v1/shelves/top"),
    # The first route that matches does not allow PUT; a later one does: a full match.
    ("PUT", "/api/v1/shelves/top"),
    ("GET", "/api/v1/teapot"),
    ("GET", "/api/v1/gone"),
    ("GET", "/api/v1/unavailable"),
    ("GET", "/api/v1/boom"),
    ("GET", "/api/v1/refused"),
    ("GET", "/api/v1/late-handled"),
    ("GET", "/api/v1/late-unhandled"),
]


@pytest.mark.parametrize(("method", "path"), ANSWERED)
def test_the_table_answers_as_starlette_does(method: str, path: str) -> None:
    app, mount = make_app()
    table = RouteTable(app, [mount])
    expected = run(app, scope_for(method, path))
    assert run(through_table(table, scope_for(method, path)), scope_for(method, path)) == expected


def test_the_scope_holds_what_starlettes_stack_leaves_in_it() -> None:
    app, mount = make_app()
    table = RouteTable(app, [mount])
    scope = scope_for("GET", "/api/v1/items/42/scope")
    sent, raised = run(through_table(table, scope), scope)
    assert raised is None
    assert sent[1]["body"] == run(app, scope_for("GET", "/api/v1/items/42/scope"))[0][1]["body"]
    assert scope["route"].path == "/items/{item_id}/scope"
    assert scope["root_path"] == "/api/v1" and scope["path_params"] == {"item_id": "42"}


LEFT_TO_STARLETTE = [
    ("PUT", "/api/v1/items"),  # a method the route does not allow: Starlette's 405
    ("DELETE", "/api/v1/shelves/top"),  # no route allows it: a partial match, 405
    ("GET", "/api/v1/nowhere"),
    ("GET", "/api/v1/items/"),  # a slash redirect
    ("GET", "/api/v1/items\n"),
    ("GET", "/api/v1/items/x\ny"),  # newlines: Starlette's patterns decide
    ("GET", "/api/v1"),
    ("GET", "/logo"),
    ("GET", "/api/docs/x"),
]


@pytest.mark.parametrize(("method", "path"), LEFT_TO_STARLETTE)
def test_what_the_table_does_not_answer_goes_to_starlette(method: str, path: str) -> None:
    app, mount = make_app()
    assert RouteTable(app, [mount]).lookup(scope_for(method, path)) is None


def test_a_parameter_route_listed_first_wins_as_in_starlette() -> None:
    app, mount = make_app()
    found = RouteTable(app, [mount]).lookup(scope_for("GET", "/api/v1/shelves/top"))
    assert found is not None
    assert found[1].path == "/shelves/{shelf}" and found[2] == {"shelf": "top"}


def test_a_root_path_is_left_to_starlette() -> None:
    app, mount = make_app()
    scope = scope_for("GET", "/prefix/api/v1/items", root_path="/prefix")
    assert RouteTable(app, [mount]).lookup(scope) is None


class _Tag:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def test_an_unexpected_stack_turns_the_table_off() -> None:
    """A middleware, debug mode, or a route before the mount that could match under it:
    the table answers nothing and Starlette keeps every request."""
    scope = scope_for("GET", "/api/v1/items")
    app, mount = make_app(middleware=[Middleware(_Tag)])
    assert RouteTable(app, [mount]).lookup(scope) is None
    app, mount = make_app(debug=True)
    assert RouteTable(app, [mount]).lookup(scope) is None
    shadow = Route("/api/{anything}/items", ok)
    mount = Mount("/api/v1", routes=API)
    app = Starlette(routes=[shadow, mount], exception_handlers=HANDLERS)
    assert RouteTable(app, [mount]).lookup(scope) is None
    app, mount = make_app()
    assert RouteTable(app, [mount]).lookup(scope) is not None
