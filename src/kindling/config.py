"""Settings: one place that reads command-line options and ``KINDLING_*`` variables.

Command-line options win over environment variables, which win over defaults.
Nothing here opens files or databases; ``kindling.context.build_context`` does.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = "./kindling-data"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: ``text`` or ``json`` (one JSON object per log line); see ``kindling.web.logs``.
DEFAULT_LOG_FORMAT = "text"


@dataclass(frozen=True)
class Settings:
    """Every option of the server and CLI."""

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str | None = None
    issuer: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    tls: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_hostnames: tuple[str, ...] = field(default=())
    master_key: str | None = field(default=None, repr=False)
    workers: int = 1
    #: ``package.module:function`` called for every M2M token to add custom claims.
    claims_hook: str | None = None
    #: When set, application property values are added to M2M tokens under this claim.
    app_properties_claim: str | None = None
    #: How ``kindling serve`` writes log lines: ``text`` or ``json`` (``KINDLING_LOG_FORMAT``).
    log_format: str = DEFAULT_LOG_FORMAT

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Build settings from ``KINDLING_*`` variables, then apply non-None overrides."""
        env = os.environ
        values: dict[str, object] = {
            "data_dir": Path(env.get("KINDLING_DATA_DIR", DEFAULT_DATA_DIR)),
            "database_url": env.get("KINDLING_DATABASE_URL") or None,
            "issuer": env.get("KINDLING_ISSUER") or None,
            "master_key": env.get("KINDLING_MASTER_KEY") or None,
            "claims_hook": env.get("KINDLING_TOKEN_CLAIMS_HOOK") or None,
            "app_properties_claim": env.get("KINDLING_APP_PROPERTIES_CLAIM") or None,
            "log_format": (env.get("KINDLING_LOG_FORMAT") or DEFAULT_LOG_FORMAT).lower(),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def public_issuer(self) -> str:
        """The issuer: configured, else derived from scheme, host and port; no trailing slash."""
        if self.issuer:
            return self.issuer.rstrip("/")
        host = self.host
        if host in ("0.0.0.0", "::", "127.0.0.1", ""):
            host = "localhost"
        default_port = 443 if self.tls else 80
        port = "" if self.port == default_port else f":{self.port}"
        return f"{self.scheme}://{host}{port}"
