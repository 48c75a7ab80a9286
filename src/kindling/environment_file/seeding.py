"""``kindling serve --seed FILE`` (or ``KINDLING_SEED``): apply a file before serving.

The file is read and validated when the command starts (an invalid one stops it before
anything is opened or printed); ``serve`` applies it right after the first-run set-up
and before the banner, through ``Seed.apply``, so the pinned applications get tokens from
the server's first request on. It never prunes. Its changes are audited as the CLI's,
named after the operating-system user, and confined to a context of their own so that
nothing the server does later is attributed to them.
"""

from __future__ import annotations

import contextvars
import getpass
from dataclasses import dataclass

from kindling.platform import audit
from kindling.platform.context import Context

from .model import Document
from .reconcile import Plan, apply_document
from .source import Source


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "config"


@dataclass(frozen=True)
class Seed:
    """A validated seed file, ready to apply to the server's storage."""

    name: str
    source: Source
    document: Document

    def apply(self, ctx: Context) -> list[str]:
        """Apply the file; return the banner's lines about it (never a secret)."""

        def run() -> Plan:
            audit.begin(audit.CLI, _os_user(), None, "serve --seed")
            return apply_document(ctx, self.document, self.source)

        plan = contextvars.copy_context().run(run)
        count = len(plan.changes)
        summary = "no changes" if not count else f"{count} change{'s' * (count != 1)}"
        lines = ["", f"Seeded from {self.name}: {summary}."]
        pinned = [
            a.client_id
            for a in self.document.applications
            if a.client_secret is not None or a.client_secret_hash is not None
        ]
        if pinned:
            lines.append("Applications with the secret the seed file pins (not shown here):")
            lines += [f"  {client_id}" for client_id in pinned]
        return lines
