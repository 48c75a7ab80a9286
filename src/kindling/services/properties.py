"""Properties: definitions, categories, and values on users and organizations."""
