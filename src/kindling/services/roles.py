"""Roles, their permissions, API scopes and system permissions."""
