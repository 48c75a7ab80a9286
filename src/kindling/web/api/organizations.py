"""Organizations: the organization itself, its handle, logos, policies and connections."""

from kindling.web.api.framework import Router

router = Router("Organizations")
