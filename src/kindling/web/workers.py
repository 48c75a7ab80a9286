"""What ``kindling serve`` hands its worker processes besides the ASGI factory.

Workers build their settings from ``KINDLING_*`` variables (``Settings.from_env``), so the
options given on the command line are exported as variables before uvicorn starts them:
``--log-level`` (``KINDLING_LOG_LEVEL``), ``--trusted-proxies``
(``KINDLING_TRUSTED_PROXIES``), ``--no-migrate`` (``KINDLING_MIGRATE``) and the metrics
switch (``KINDLING_METRICS``). With more than one worker, ``PROMETHEUS_MULTIPROC_DIR``
points at the data dir's metrics directory (``kindling.web.metrics.prepare_multiprocess``).
"""

from __future__ import annotations

import os

from kindling.config import Settings

__all__ = ["prepare_workers"]


def prepare_workers(settings: Settings) -> str:
    """Export the settings the workers need; return what to print after the banner
    (advice, each line ending in a newline; empty when there is none)."""
    os.environ["KINDLING_LOG_LEVEL"] = settings.log_level
    os.environ["KINDLING_TRUSTED_PROXIES"] = ",".join(settings.proxies)
    os.environ["KINDLING_MIGRATE"] = "on" if settings.migrate else "off"
    os.environ["KINDLING_METRICS"] = "on" if settings.metrics else "off"
    if settings.workers > 1:
        # Imported here: one worker (or metrics off) leaves the variable alone, and
        # ``kindling serve`` then needs nothing of prometheus_client before the app.
        from kindling.web.metrics import prepare_multiprocess

        prepare_multiprocess(settings.data_dir, settings.workers)
    if settings.proxies and not settings.issuer:
        return (
            "\nX-Forwarded-* is trusted from " + ", ".join(settings.proxies) + ", but no "
            "--issuer is set: tokens name the\nderived issuer above. Behind a proxy, set "
            "--issuer (KINDLING_ISSUER) to the public URL.\n"
        )
    return ""
