"""``X-Forwarded-*`` from trusted proxies only (RFC 9700 §4.13; ``KINDLING_TRUSTED_PROXIES``).

Behind a load balancer or reverse proxy the TCP peer of every request is the proxy, so the
client's address, and the scheme and host the client used, arrive in headers the proxy
adds: ``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``X-Forwarded-Host``. Anyone can send
those headers, so they are believed only when the peer is one of the configured proxies
(``--trusted-proxies`` / ``KINDLING_TRUSTED_PROXIES``: addresses and CIDR networks; none by
default, and then the headers change nothing).

For a request whose peer is trusted, ``TrustedProxies.apply`` returns a copy of the ASGI
scope in which:

* ``client`` is the *right-most untrusted* address of ``X-Forwarded-For`` (all its header
  lines, in order): each proxy appends the address it received the request from, so the
  entries to the right of the first untrusted one were written by proxies we trust and
  the entries to its left by whoever sent the request, which may be anyone. When every
  entry is a trusted proxy, the left-most is the client. An entry that is not an IP
  address (``unknown``, a name, garbage) ends the walk: the client is then the last
  trusted hop, never a value an outsider chose. Ports (``1.2.3.4:5678``,
  ``[2001:db8::1]:443``) are dropped.
* ``scheme`` is ``X-Forwarded-Proto`` (its right-most value, ``http`` or ``https``; anything
  else is ignored), so a TLS-terminating proxy's ``https`` is what the console's secure
  cookies, its same-origin check and the API docs' server URL see.
* the ``host`` header is ``X-Forwarded-Host`` (its right-most value, when it is a valid
  ``host[:port]``), for the same request-derived URLs.

Everything that reads the peer address reads the result: the request pipeline's
``client_ip`` (access log, rate limits per address, hooks), the token endpoint's and the
Management API's audit rows, the console's sign-in throttle. The issuer is not derived from
these headers: it is recorded once per environment (tokens, the Management API audience),
so behind a proxy it is set with ``--issuer`` (``kindling serve`` says so).

**Why here and not uvicorn's ``ProxyHeadersMiddleware``** (``proxy_headers=True``,
``forwarded_allow_ips``): it implements the same right-most-untrusted rule for
``X-Forwarded-For`` and ``-Proto``, but not ``X-Forwarded-Host``; it runs only under
uvicorn's own server (not for the application embedded in another ASGI server or in tests);
and it would be a second place that decides what the client address is. In the pipeline
it is one function call per request only when proxies are configured, and nothing at all
otherwise.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from kindling.web.token import Scope

__all__ = ["TrustedProxies"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_FOR = b"x-forwarded-for"
_PROTO = b"x-forwarded-proto"
_HOST = b"x-forwarded-host"
_SCHEMES = {"http": "http", "https": "https"}
_VALID_HOST = re.compile(
    r"[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?"
)


@lru_cache(maxsize=4096)
def _address(text: str) -> IPAddress | None:
    """An ``X-Forwarded-For`` entry as an address (port and brackets dropped), else None
    (remembered: parsing an address costs microseconds, a cache hit a fraction of one)."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        text = text[1:end] if end > 0 else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class TrustedProxies:
    """The configured proxies; ``apply`` rewrites the scope of a request one of them sent."""

    __slots__ = ("networks", "_trusted")

    def __init__(self, networks: Iterable[str]) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in networks
        )
        nets = self.networks

        @lru_cache(maxsize=1024)
        def trusted(host: str) -> bool:
            address = _address(host)
            if address is None:
                return False
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            return any(address in net for net in nets)

        self._trusted = trusted

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, host: str) -> bool:
        return self._trusted(host)

    def client(self, peer: str, forwarded_for: list[bytes]) -> str:
        """The client address: the right-most untrusted ``X-Forwarded-For`` entry."""
        entries = [e for line in forwarded_for for e in line.decode("latin-1").split(",")]
        client = peer
        for entry in reversed(entries):
            address = _address(entry)
            if address is None:
                break
            client = str(address)
            if not self._trusted(client):
                break
        return client

    def apply(self, scope: Scope) -> Scope:
        """``scope`` as the client sent the request, when the peer is trusted (a copy);
        ``scope`` itself otherwise."""
        peer = scope.get("client")
        if not peer or not self._trusted(peer[0]):
            return scope
        forwarded_for: list[bytes] = []
        proto = host = None
        for name, value in scope["headers"]:
            if name == _FOR:
                forwarded_for.append(value)
            elif name == _PROTO:
                proto = value
            elif name == _HOST:
                host = value
        if not forwarded_for and proto is None and host is None:
            return scope
        changed: dict[str, Any] = {}
        if forwarded_for:
            client = self.client(peer[0], forwarded_for)
            if client != peer[0]:
                changed["client"] = (client, 0)
        if proto is not None:
            scheme = _SCHEMES.get(proto.decode("latin-1").rsplit(",", 1)[-1].strip().lower())
            if scheme is not None:
                changed["scheme"] = scheme
        if host is not None:
            name = host.decode("latin-1").rsplit(",", 1)[-1].strip()
            if _VALID_HOST.fullmatch(name):
                encoded = name.encode("latin-1")
                changed["headers"] = [
                    *((k, v) for k, v in scope["headers"] if k != b"host"),
                    (b"host", encoded),
                ]
        if not changed:
            return scope
        return {**scope, **changed}
