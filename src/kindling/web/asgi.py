"""ASGI factory for worker processes: settings from ``KINDLING_*`` variables.

The application returned is wrapped in the request pipeline (``create_app``);
logging is configured by uvicorn from ``kindling serve``'s ``log_config``.
"""

from kindling.config import Settings
from kindling.context import build_context
from kindling.web.app import create_app
from kindling.web.pipeline import RequestPipeline


def from_env() -> RequestPipeline:
    ctx = build_context(Settings.from_env())
    ctx.keyring.reload()
    return create_app(ctx)
