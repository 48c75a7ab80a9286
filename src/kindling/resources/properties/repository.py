"""Properties and property categories: the repository contract services rely on.

Each method states what happens when a row is missing and when a uniqueness rule is
hit; the SQL implementation beside it serves both engines, and the storage contract
tests run every method against SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kindling.platform.repository import RepositoryKey
from kindling.resources.properties.model import Property, PropertyCategory, PropertyValue


class PropertyRepository(Protocol):
    """Property definitions and categories, and property values of users and organizations."""

    def get_category(self, category_id: str) -> PropertyCategory | None:
        """Return the category, or None."""

    def category_position(self, category_id: str) -> int | None:
        """Return the category's sequence number (its keyset position), or None if absent."""

    def add_category(self, category: PropertyCategory) -> None:
        """Insert a category. Raises IntegrityViolation if the id is taken."""

    def rename_category(self, category_id: str, name: str) -> bool:
        """Change a category's name; False if the category is absent."""

    def list_categories(
        self, context: str | None, after: int | None, before: int | None, limit: int
    ) -> list[PropertyCategory]:
        """Return up to ``limit`` categories (of ``context`` when given) in sequence order.

        ``after``: only categories after that sequence number (the first ones after it);
        ``before``: only those before it (the last ones before it, still in ascending order).
        """

    def get(self, property_id: str) -> Property | None:
        """Return the property, or None."""

    def get_by_key(self, key: str) -> Property | None:
        """Return the property with this exact key, or None."""

    def by_keys(self, keys: Sequence[str]) -> dict[str, Property]:
        """Return the properties with these keys, by key (missing keys are left out)."""

    def position(self, property_id: str) -> int | None:
        """Return the property's sequence number (its keyset position), or None if absent."""

    def add(self, prop: Property) -> None:
        """Insert a property. Raises IntegrityViolation if the id or the key is taken, or
        if ``category_id`` names no category."""

    def update(self, prop: Property) -> bool:
        """Overwrite name, description, is_private and category; False if absent.

        Raises IntegrityViolation if ``category_id`` names no category."""

    def delete(self, property_id: str) -> bool:
        """Delete the property and every value of it; False if absent."""

    def list_page(
        self, context: str | None, after: int | None, before: int | None, limit: int
    ) -> list[Property]:
        """Return up to ``limit`` properties, like ``list_categories``."""

    def subject_exists(self, context: str, subject_id: str) -> bool:
        """True when the user (``usr``), organization code (``org``) or application
        (``app``) exists."""

    def values(self, context: str, subject_id: str) -> list[PropertyValue]:
        """Every property of ``context`` with the subject's value (None when unset), in
        property order. The subject is not checked."""

    def set_values(
        self, context: str, subject_id: str, values: Sequence[tuple[str, str | None]]
    ) -> None:
        """Set ``(property id, value)`` pairs for the subject; a None value removes it.

        Raises IntegrityViolation if the subject or a property does not exist."""


PROPERTIES_REPO = RepositoryKey[PropertyRepository]("properties")
