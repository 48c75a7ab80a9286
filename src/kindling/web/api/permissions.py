"""Permissions."""

from kindling.web.api.framework import Router

router = Router("Permissions")
