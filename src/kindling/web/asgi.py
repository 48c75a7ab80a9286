"""ASGI factory for worker processes: settings from ``KINDLING_*`` variables."""

from kindling.config import Settings
from kindling.context import build_context
from kindling.web.app import KindlingApp, create_app


def from_env() -> KindlingApp:
    ctx = build_context(Settings.from_env())
    ctx.keyring.reload()
    return create_app(ctx)
