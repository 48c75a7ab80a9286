"""Helpers for checking kindling against Kinde's Management API contract."""
