"""Properties, property categories, and user and organization property values."""

from kindling.web.api.framework import Router

router = Router("Properties")
