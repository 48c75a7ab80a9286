"""Users: profiles and identities.

Sub-packages: ``accounts`` (identities, sessions, MFA, password) and ``search``.

Registered in ``kindling.resources``; ``resource()`` says what the package brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.platform.registry import Resource


def resource() -> Resource:
    """Routes and repositories of this package (imported here, not at import time)."""
    from kindling.platform.registry import Resource
    from kindling.resources.users import routes
    from kindling.resources.users.accounts import routes as accounts_routes
    from kindling.resources.users.accounts.repository import ACCOUNTS_REPO
    from kindling.resources.users.accounts.sql import SqlAccountRepository
    from kindling.resources.users.repository import USERS_REPO
    from kindling.resources.users.search import routes as search_routes
    from kindling.resources.users.sql import SqlUserRepository

    return Resource(
        "users",
        routers=(routes.router, accounts_routes.router, search_routes.router),
        repositories={USERS_REPO: SqlUserRepository, ACCOUNTS_REPO: SqlAccountRepository},
    )
