"""Organization users, their roles, permissions, API scopes and MFA; role users."""

from kindling.web.api.framework import Router

router = Router("Organizations")
