"""Feature flags: definitions, environment, organization and user overrides."""
