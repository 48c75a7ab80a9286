"""Organization invites."""

from kindling.web.api.framework import Router

router = Router("Organizations")
