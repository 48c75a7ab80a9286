"""Where the client connects and as whom: the domain and the M2M credentials.

``domain`` is what Kinde's SDKs take: a bare ``host[:port]`` (``example.kinde.com``,
``localhost:8000``), which means HTTPS, or a full URL, whose scheme is kept (so plain
``http://`` works for a local Kindling). Anything missing is read from the variables
``@kinde/management-api-js`` uses: ``KINDE_DOMAIN``, ``KINDE_MANAGEMENT_CLIENT_ID`` and
``KINDE_MANAGEMENT_CLIENT_SECRET``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from kindling.sdk._errors import ConfigurationError

__all__ = ["ENV_CLIENT_ID", "ENV_CLIENT_SECRET", "ENV_DOMAIN", "Settings", "base_url", "resolve"]

ENV_DOMAIN = "KINDE_DOMAIN"
ENV_CLIENT_ID = "KINDE_MANAGEMENT_CLIENT_ID"
ENV_CLIENT_SECRET = "KINDE_MANAGEMENT_CLIENT_SECRET"


def base_url(domain: str) -> str:
    """The origin (and path prefix, if any) for ``domain``, without a trailing slash.

    >>> base_url("example.kinde.com")
    'https://example.kinde.com'
    >>> base_url("http://localhost:8000/")
    'http://localhost:8000'
    """
    raw = domain.strip()
    if not raw:
        raise ConfigurationError("the domain is empty")
    if any(ch.isspace() for ch in raw):
        raise ConfigurationError(f"the domain {domain!r} contains whitespace")
    text = raw if "://" in raw else f"https://{raw}"
    try:
        parts = urlsplit(text)
        port = parts.port  # validates the port
    except ValueError as exc:
        raise ConfigurationError(f"the domain {domain!r} is not a host or URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigurationError(f"the domain {domain!r} must use http or https")
    if not parts.hostname:
        raise ConfigurationError(f"the domain {domain!r} has no host")
    if parts.query or parts.fragment or parts.username is not None:
        raise ConfigurationError(
            f"the domain {domain!r} may not carry a query, fragment or credentials"
        )
    del port
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one client."""

    base_url: str
    client_id: str
    client_secret: str = field(default="", repr=False)

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth2/token"

    @property
    def default_audience(self) -> str:
        """Kinde's Management API audience: ``<domain>/api``."""
        return f"{self.base_url}/api"


def resolve(
    domain: str | None,
    client_id: str | None,
    client_secret: str | None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Arguments first, then the environment; a missing value is a ``ConfigurationError``."""
    env = os.environ if environ is None else environ
    domain = domain or env.get(ENV_DOMAIN) or None
    client_id = client_id or env.get(ENV_CLIENT_ID) or None
    client_secret = client_secret or env.get(ENV_CLIENT_SECRET) or None
    missing = [
        name
        for name, value in (
            (f"domain ({ENV_DOMAIN})", domain),
            (f"client_id ({ENV_CLIENT_ID})", client_id),
            (f"client_secret ({ENV_CLIENT_SECRET})", client_secret),
        )
        if not value
    ]
    if missing:
        raise ConfigurationError("missing " + ", ".join(missing))
    assert domain is not None and client_id is not None and client_secret is not None
    return Settings(base_url(domain), client_id, client_secret)
