"""Kindling: a self-hosted identity server for Kinde's M2M OAuth 2.0 flow and Management API."""

__version__ = "0.1.0"
