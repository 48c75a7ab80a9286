"""Typed keys that name a repository contract in the unit of work.

A resource declares ``ROLES_REPO = RepositoryKey[RoleRepository]("roles")`` next to
its contract and registers the SQL implementation for that key; services ask the
unit of work for ``uow[ROLES_REPO]`` and get a ``RoleRepository``. The unit of work
itself lists no repository, so adding a resource edits no shared module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from kindling.platform.engine import Session

R = TypeVar("R")


class RepositoryKey(Generic[R]):
    """Names one repository contract; ``R`` is the contract's Protocol."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"RepositoryKey({self.name!r})"


#: How the unit of work builds a repository: a callable taking the transaction's session.
RepositoryFactory = Callable[[Session], Any]
