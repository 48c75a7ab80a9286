"""The admin console (``/admin``) and the interactive API docs (``/api/docs``)."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Mount

from kindling.platform.context import Context
from kindling.platform.operations import Operation


def console_routes(ctx: Context, operations: Sequence[Operation]) -> list[BaseRoute]:
    """Routes to add to the top-level application: the docs and the ``/admin`` mount."""
    from kindling.web.console.app import build_console
    from kindling.web.console.docs import docs_routes
    from kindling.web.console.views import ROUTES

    return [
        *docs_routes(ctx, operations),
        Mount("/admin", app=build_console(ctx, ROUTES, operations)),
    ]
