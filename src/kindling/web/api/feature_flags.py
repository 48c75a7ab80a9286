"""Feature flags and their environment, organization and user overrides."""

from kindling.web.api.framework import Router

router = Router("Feature Flags")
