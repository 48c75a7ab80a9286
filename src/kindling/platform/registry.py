"""The resource registry: each resource package describes itself once.

A resource package (``kindling/resources/<name>/``) exposes ``resource()``,
returning a ``Resource``: its operation routers and the SQL implementation of
each repository contract it owns. The registry collects them, so the Management
API routes, the OpenAPI document, the Postman export, the console's operation
list and every unit of work's repositories come from one place. Registering a
resource is one line in ``kindling/resources/__init__.py``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from kindling.platform.operations import Operation, Router
from kindling.platform.repository import RepositoryFactory, RepositoryKey
from kindling.platform.storage import Reaction


@dataclass(frozen=True)
class Resource:
    """What one resource package contributes."""

    name: str
    #: Routers of Kinde's Management API operations, mounted at ``/api/v1``.
    routers: Sequence[Router] = ()
    #: Routers of Kindling's own operations, mounted at ``/kindling/v1``.
    extensions: Sequence[Router] = ()
    #: The SQL implementation of each repository contract the resource owns.
    repositories: Mapping[RepositoryKey[Any], RepositoryFactory] = field(default_factory=dict)
    #: In-transaction reactions to other resources' events, by event type.
    reactions: Mapping[str, Sequence[Reaction]] = field(default_factory=dict)


class Registry:
    """The registered resources, loaded on first use (never at import time)."""

    def __init__(self, package: str, names: Sequence[str]) -> None:
        self._package = package
        self._names = tuple(names)

    @cached_property
    def resources(self) -> tuple[Resource, ...]:
        loaded = []
        for name in self._names:
            module = importlib.import_module(f"{self._package}.{name}")
            factory: Callable[[], Resource] = module.resource
            resource = factory()
            if resource.name != name:
                raise RuntimeError(f"{module.__name__}.resource() names itself {resource.name!r}")
            loaded.append(resource)
        return tuple(loaded)

    def operations(self) -> list[Operation]:
        """Every Management API operation (``/api/v1``), in registration order."""
        return [op for r in self.resources for router in r.routers for op in router.operations]

    def extension_operations(self) -> list[Operation]:
        """Every Kindling operation (``/kindling/v1``), in registration order."""
        return [op for r in self.resources for router in r.extensions for op in router.operations]

    def reactions(self) -> dict[str, list[Reaction]]:
        """Every registered reaction, by event type, in registration order."""
        merged: dict[str, list[Reaction]] = {}
        for resource in self.resources:
            for type_, handlers in resource.reactions.items():
                merged.setdefault(type_, []).extend(handlers)
        return merged

    def repositories(self) -> dict[RepositoryKey[Any], RepositoryFactory]:
        """Every registered repository; two resources may not register one key."""
        merged: dict[RepositoryKey[Any], RepositoryFactory] = {}
        for resource in self.resources:
            for key, factory in resource.repositories.items():
                if key in merged:
                    raise RuntimeError(f"{key!r} is registered twice ({resource.name})")
                merged[key] = factory
        return merged
