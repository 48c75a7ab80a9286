"""User search."""
