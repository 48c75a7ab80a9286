"""Test support for projects that accept Kindling's (and so Kinde's) M2M access tokens.

``kindling.testing.server.Kindling`` runs an isolated ``kindling serve`` and mints tokens
good and bad; ``kindling.testing.plugin`` is the pytest plugin (entry point ``pytest11``,
fixture ``kindling``) built on it. Neither is imported by the server, and only the plugin
imports pytest.
"""

from kindling.testing.server import Kindling, TokenRequestError

__all__ = ["Kindling", "TokenRequestError"]
