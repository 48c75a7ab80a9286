"""Signing keys: Kindling's own operations to list, rotate and revoke them.

Kinde's Management API has no signing-key operations; these are mounted at
``/kindling/v1`` and take the same bearer tokens. The keys themselves are platform
state (``kindling.platform.signing``), so this package owns no repository.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.signing_keys import routes

    return Resource("signing_keys", extensions=(routes.extensions,))
