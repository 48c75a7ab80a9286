"""Organization membership: add, update, remove users; their roles, permissions, API scopes."""
