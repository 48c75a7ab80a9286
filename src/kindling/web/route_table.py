"""The Management API's routes found by table, not by Starlette's walk of every route.

A request to ``/api/v1/users`` used to pass Starlette's whole stack before its endpoint
ran: ``ServerErrorMiddleware`` and ``ExceptionMiddleware`` (each wrapping ``send``, the
latter making a ``Request``), the top-level router trying the discovery, logo, docs and
console routes one regular expression at a time, the ``/api/v1`` mount, its router
trying up to 107 path templates in order, and ``request_response`` (another ``Request``,
another ``send`` wrapper). ``RouteTable`` goes from the path to the route directly and
calls the endpoint with the scope, ``Request`` and exception handling Starlette would
have given it, so the answer is the same, byte for byte and header for header:

* **Finding the route.** A mount's routes are grouped by the literal first segment of
  their template (``/users/{user_id}/roles`` is under ``users``); the group of a
  request's first segment holds, in Starlette's order, every route that could match it,
  and its first route that matches the path and allows the method (``HEAD`` wherever
  ``GET`` is, as Starlette adds it) is the one Starlette's router answers with: a *full*
  match. A template without parameters that no earlier route of its group matches is
  also found by a dict lookup of the exact path. Anything else (no full match: no route,
  or only routes that do not allow the method; a path outside the mounts or with a
  newline in it; a non-empty ``root_path``) goes to Starlette as before, so 404
  ``ROUTE_NOT_FOUND``, 405 and slash redirects are Starlette's own.
* **The scope** gets what Starlette's stack leaves in it (``app``, ``router``,
  ``route`` — the metrics read the template from it —, ``root_path``,
  ``app_root_path``, ``endpoint``, ``path_params``, the exception handlers).
* **Errors.** An exception escaping the endpoint goes to the handler Starlette would
  pick (the status handler of an ``HTTPException``, else the first of the exception's
  classes with a handler: ``StorageUnavailable`` is a 503); with none, the answer is
  ``ServerErrorMiddleware``'s plain-text 500 and the exception is raised on, to the
  request pipeline, as before. An exception of a handled type while the response is
  being sent is Starlette's ``RuntimeError`` ("response already started").

The table is built from the application's own routes at start-up and checks that they
have the shape this relies on: every route before the mount must be unable to match a
path under it, the middleware stack must be exactly Starlette's two layers around the
router, and every route a plain ``request_response`` of an async endpoint. If anything
differs (another Starlette version, a middleware added) the mount is simply not in the
table and Starlette answers everything, unchanged.

Measured with ``bench/users_inprocess.py --tool cachegrind``: see ``bench/README.md``,
"2026-12-01: users listing, part 3 continued".
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.convertors import StringConvertor
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, Router

from kindling.web.token import Receive, Scope, Send

__all__ = ["MountTable", "RouteTable"]

#: ``request_response``'s ASGI app, which Starlette makes for a function endpoint.
_REQUEST_RESPONSE = "request_response.<locals>.app"
#: ``ExceptionMiddleware``'s handlers: by exception class, and by HTTP status.
Handlers = dict[Any, Any]


def is_async_callable(obj: Any) -> bool:
    """Whether calling ``obj`` gives a coroutine, as Starlette decides it (its own helper
    is private: ``starlette._utils``): through ``functools.partial``, and for objects
    with an ``async def __call__``."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    return inspect.iscoroutinefunction(obj) or (
        callable(obj) and inspect.iscoroutinefunction(type(obj).__call__)
    )


def _literal_prefix(route: Any) -> str | None:
    """The text every path a top-level route matches starts with, or None when unknown."""
    if isinstance(route, Mount):
        return route.path + "/"
    if isinstance(route, Route):
        return route.path.partition("{")[0]
    return None


def _first_segment(template: str) -> str:
    return template[1:].partition("/")[0]


class MountTable:
    """One mount's routes (``/api/v1``), grouped to be found as Starlette finds them."""

    def __init__(self, mount: Mount, router: Router) -> None:
        self.mount = mount
        #: The path's start that selects this mount ("/api/v1/").
        self.prefix = mount.path + "/"
        #: Where the route path starts in the request path (after "/api/v1").
        self.cut = len(mount.path)
        #: The mount's own router: Starlette's ``scope["endpoint"]`` after the mount.
        self.router = router
        self.groups: dict[str, tuple[Route, ...]] = {}
        #: Paths of templates without parameters that only their own route matches.
        self.exact: dict[str, Route] = {}
        groups: dict[str, list[Route]] = {}
        for route in router.routes:
            assert isinstance(route, Route)  # checked by RouteTable._eligible
            groups.setdefault(_first_segment(route.path), []).append(route)
        for segment, routes in groups.items():
            self.groups[segment] = tuple(routes)
            for index, route in enumerate(routes):
                if route.param_convertors:
                    continue
                earlier = routes[:index]
                if route.path not in self.exact and not any(
                    other.path_regex.match(route.path) for other in earlier
                ):
                    self.exact[route.path] = route

    def find(self, route_path: str, method: str) -> tuple[Route, dict[str, Any]] | None:
        """The route Starlette's router would answer with and its path parameters, when
        that is a full match (a route that matches the path and allows ``method``; the
        first in Starlette's order); else None."""
        route = self.exact.get(route_path)
        if route is not None and route.methods is not None and method in route.methods:
            return route, {}
        group = self.groups.get(route_path[1:].partition("/")[0])
        if group is None:
            return None
        for route in group:
            methods = route.methods
            if methods is None or method not in methods:
                continue  # at most a partial match: Starlette looks further, as here
            match = route.path_regex.match(route_path)
            if match is not None:
                # Every convertor is a StringConvertor (RouteTable._eligible): values as is.
                return route, match.groupdict()
        return None


class RouteTable:
    """The mounts' routes by table, answered as Starlette would (module docstring)."""

    def __init__(self, app: Starlette, mounts: Sequence[Mount]) -> None:
        self.app = app
        if app.middleware_stack is None:
            # What Starlette.__call__ builds on first use; built here, once, the same way.
            app.middleware_stack = app.build_middleware_stack()
        self.tables: tuple[MountTable, ...] = ()
        handlers = self._handlers(app)
        if handlers is None:
            return
        self._exception_handlers, self._status_handlers = handlers
        tables = []
        for mount in mounts:
            router = self._eligible(app, mount)
            if router is not None:
                tables.append(MountTable(mount, router))
        self.tables = tuple(tables)

    @staticmethod
    def _handlers(app: Starlette) -> tuple[Handlers, Handlers] | None:
        """The exception middleware's handlers, if the stack is exactly Starlette's
        default two layers around the router (no debug, no 500 handler, no body limit)."""
        stack = app.middleware_stack
        if not isinstance(stack, ServerErrorMiddleware) or stack.debug or stack.handler:
            return None
        inner = stack.app
        if not isinstance(inner, ExceptionMiddleware) or inner.app is not app.router:
            return None
        exception_handlers = getattr(inner, "_exception_handlers", None)
        status_handlers = getattr(inner, "_status_handlers", None)
        if not isinstance(exception_handlers, dict) or not isinstance(status_handlers, dict):
            return None
        return exception_handlers, status_handlers

    @staticmethod
    def _eligible(app: Starlette, mount: Mount) -> Router | None:
        """The mount's router when its requests can be answered by table (module docs)."""
        top = app.router.routes
        if mount not in top or not isinstance(mount.app, Router):
            return None
        prefix = mount.path + "/"
        for earlier in top[: top.index(mount)]:
            literal = _literal_prefix(earlier)
            if literal is None or literal.startswith(prefix) or prefix.startswith(literal):
                return None  # it might match a path under the mount
        router = mount.app
        for route in router.routes:
            if not isinstance(route, Route) or route.methods is None:
                return None
            if getattr(route.app, "__qualname__", None) != _REQUEST_RESPONSE:
                return None  # route middleware, or not a function endpoint
            if not is_async_callable(route.endpoint):
                return None
            if not all(isinstance(c, StringConvertor) for c in route.param_convertors.values()):
                return None
            if "{" in _first_segment(route.path):
                return None
        return router

    def lookup(self, scope: Scope) -> tuple[MountTable, Route, dict[str, Any]] | None:
        """The table, route and path parameters of an HTTP request it answers, else None."""
        path: str = scope["path"]
        for table in self.tables:
            if path.startswith(table.prefix):
                if scope.get("root_path") or "\n" in path:
                    # A root path, or a newline (which ``.`` and ``$`` in Starlette's
                    # patterns treat apart): Starlette's own matching decides.
                    return None
                found = table.find(path[table.cut :], scope["method"])
                if found is None:
                    return None
                return table, found[0], found[1]
        return None

    async def dispatch(
        self,
        found: tuple[MountTable, Route, dict[str, Any]],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Run the found route's endpoint as Starlette's stack would (module docstring)."""
        table, route, params = found
        app = self.app
        # Starlette.__call__, ExceptionMiddleware, the router and the mount, then the route.
        scope["app"] = app
        scope["starlette.exception_handlers"] = (self._exception_handlers, self._status_handlers)
        if "router" not in scope:
            scope["router"] = app.router
        path_params = dict(scope.get("path_params", {}))
        scope["app_root_path"] = scope.get("app_root_path", "")
        scope["root_path"] = table.mount.path
        path_params.update(params)
        scope["path_params"] = path_params
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            await self._failed(request, exc, scope, receive, send, inner=True)
            return
        try:
            await response(scope, receive, send)
        except Exception as exc:
            if self._handler(exc) is not None:
                raise RuntimeError(
                    "Caught handled exception, but response already started."
                ) from exc
            raise

    async def _failed(
        self,
        request: Request,
        exc: Exception,
        scope: Scope,
        receive: Receive,
        send: Send,
        inner: bool,
    ) -> None:
        """What Starlette does with an exception raised before any response started: the
        route's exception layer (``inner``), then ``ExceptionMiddleware``'s, answer it with
        its handler; one neither handles is ``ServerErrorMiddleware``'s plain-text 500 and
        is raised on. (An exception raised by a handler meets the next layer.)"""
        handler = self._handler(exc)
        if handler is None:
            await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)
            raise exc
        started = False

        async def sender(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            if is_async_callable(handler):
                answer = await handler(request, exc)
            else:
                answer = await run_in_threadpool(handler, request, exc)
            if answer is not None:
                await answer(scope, receive, sender)
        except Exception as again:
            if not started and inner:
                await self._failed(request, again, scope, receive, send, inner=False)
                return
            if started and inner and self._handler(again) is not None:
                raise RuntimeError(
                    "Caught handled exception, but response already started."
                ) from again
            if not started:
                await PlainTextResponse("Internal Server Error", status_code=500)(
                    scope, receive, send
                )
            raise
        # Reused exception instances accumulate tracebacks across requests (Starlette).
        exc.__traceback__ = None

    def _handler(self, exc: Exception) -> Any:
        """The handler Starlette's ``wrap_app_handling_exceptions`` picks for ``exc``."""
        handler = None
        if isinstance(exc, HTTPException):
            handler = self._status_handlers.get(exc.status_code)
        if handler is None:
            for cls in type(exc).__mro__:
                if cls in self._exception_handlers:
                    return self._exception_handlers[cls]
        return handler
