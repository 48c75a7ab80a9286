"""User identities, sessions, MFA, password, claims refresh; the Identities resource."""

from kindling.web.api.framework import Router

router = Router("Users")
