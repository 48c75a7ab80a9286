"""Roles and system permissions."""

from kindling.web.api.framework import Router

router = Router("Roles")
