"""The pytest plugin (entry point ``pytest11``: ``kindling``): a real Kindling per session.

Fixtures:

* ``kindling`` — a started ``kindling.testing.server.Kindling``: ``base_url``, ``issuer``,
  ``jwks_url``, ``token_url``, ``ca_file`` (TLS), ``client_id``, ``client_secret``,
  ``token(scopes=..., audience=...)`` (a Management API token by default), ``add_api(...)``
  for your own API, and ``mint(...)`` for tokens your API must refuse.
* ``kindling_servers`` — the session's servers, one per distinct (TLS, seed) setting;
  ``kindling_servers.get(tls=..., seed=...)`` from fixtures of a wider scope.

Settings, narrowest first: the marker ``@pytest.mark.kindling(tls=True, seed="seed.yaml")``
(a relative seed is relative to the test file), the options ``--kindling-tls`` and
``--kindling-seed FILE`` (relative to the current directory), the ini options
``kindling_tls`` and ``kindling_seed`` (relative to the rootdir). The seed file is passed to
``kindling serve --seed``. Every distinct setting gets one server, started when a test
first asks for it and stopped when the session ends; tests share it, so they should use
unique names for what they create.

``-p no:kindling`` turns the plugin off.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from kindling.testing.server import Kindling

MARKER = "kindling"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kindling", "Kindling test server")
    group.addoption(
        "--kindling-tls",
        action="store_true",
        default=None,
        help="Serve the kindling fixture's server over HTTPS with a local CA.",
    )
    group.addoption(
        "--kindling-seed",
        default=None,
        metavar="FILE",
        help="Seed file passed to `kindling serve --seed` for the kindling fixture.",
    )
    # A named Literal: mypy reads a bare "bool" string argument as a possible type form.
    flag: Literal["bool"] = "bool"
    parser.addini("kindling_tls", "Serve the kindling fixture over HTTPS.", type=flag)
    parser.addini(
        "kindling_seed", "Seed file for `kindling serve --seed` (relative to the rootdir)."
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(tls=None, seed=None): use a Kindling server with TLS on or off and/or "
        "this seed file (relative to the test file) for the kindling fixture",
    )


class KindlingServers:
    """The session's Kindling servers, one per (TLS, seed) setting, started on first use."""

    def __init__(self, config: pytest.Config, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._servers: dict[tuple[bool, Path | None], Kindling] = {}
        self._failed: dict[tuple[bool, Path | None], str] = {}
        tls = config.getoption("kindling_tls")
        self.default_tls = bool(config.getini("kindling_tls") if tls is None else tls)
        seed = config.getoption("kindling_seed")
        ini_seed = str(config.getini("kindling_seed") or "").strip()
        if seed:
            self.default_seed: Path | None = (config.invocation_params.dir / seed).resolve()
        elif ini_seed:
            self.default_seed = (config.rootpath / ini_seed).resolve()
        else:
            self.default_seed = None

    def get(self, tls: bool | None = None, seed: str | Path | None = None) -> Kindling:
        """The started server for this setting (the session's defaults for None)."""
        key = (
            self.default_tls if tls is None else bool(tls),
            Path(seed).resolve() if seed is not None else self.default_seed,
        )
        server = self._servers.get(key)
        if server is None:
            if key in self._failed:  # once is enough: every later test gets the same error
                raise RuntimeError(self._failed[key])
            if key[1] is not None and not key[1].is_file():
                raise pytest.UsageError(f"kindling: the seed file {key[1]} does not exist")
            server = Kindling(self._factory.mktemp("kindling"), tls=key[0], seed=key[1])
            try:
                server.start()
            except RuntimeError as exc:
                if key[1] is not None and "No such option: --seed" in str(exc):
                    raise pytest.UsageError(
                        "kindling: this version of `kindling serve` does not take --seed"
                    ) from None
                self._failed[key] = str(exc)
                raise
            self._servers[key] = server
        return server

    def close(self) -> None:
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()


@pytest.fixture(scope="session")
def kindling_servers(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KindlingServers]:
    """Every Kindling server of the session; stopped when the session ends."""
    servers = KindlingServers(pytestconfig, tmp_path_factory)
    yield servers
    servers.close()


@pytest.fixture
def kindling(request: pytest.FixtureRequest, kindling_servers: KindlingServers) -> Kindling:
    """A running Kindling server, shared by the session (see the module docstring)."""
    marker = request.node.get_closest_marker(MARKER)
    tls: bool | None = None
    seed: Path | None = None
    if marker is not None:
        unknown = set(marker.kwargs) - {"tls", "seed"}
        if marker.args or unknown:
            raise pytest.UsageError(
                f"kindling marker takes only tls= and seed=, not {marker.args or sorted(unknown)}"
            )
        tls = marker.kwargs.get("tls")
        if marker.kwargs.get("seed") is not None:
            seed = Path(request.path).parent / str(marker.kwargs["seed"])
    return kindling_servers.get(tls=tls, seed=seed)
