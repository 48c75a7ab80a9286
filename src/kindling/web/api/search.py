"""User search."""

from kindling.web.api.framework import Router

router = Router("Search")
