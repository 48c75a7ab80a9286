"""Storage: one interface (``base``), two real engines (SQLite, PostgreSQL).

``open_storage`` picks the engine from the database URL: ``postgresql://…`` or
``postgres://…`` selects PostgreSQL, anything else (or nothing) the SQLite file
``kindling.db`` in the data dir.
"""

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kindling.storage import base
from kindling.storage.base import UnitOfWork
from kindling.storage.engine import (
    Engine,
    IntegrityViolation,
    PostgresEngine,
    Session,
    SqliteEngine,
)
from kindling.storage.migrations import migrate
from kindling.storage.repos.accounts import SqlAccountRepository
from kindling.storage.repos.admin import SqlAdminRepository
from kindling.storage.repos.api_keys import SqlApiKeyRepository
from kindling.storage.repos.apis import SqlApiRepository
from kindling.storage.repos.applications import SqlApplicationRepository
from kindling.storage.repos.environment import SqlEnvironmentRepository
from kindling.storage.repos.feature_flags import SqlFeatureFlagRepository
from kindling.storage.repos.invites import SqlInviteRepository
from kindling.storage.repos.keys import SqlKeyRepository
from kindling.storage.repos.memberships import SqlMembershipRepository
from kindling.storage.repos.organizations import SqlOrganizationRepository
from kindling.storage.repos.permissions import SqlPermissionRepository
from kindling.storage.repos.properties import SqlPropertyRepository
from kindling.storage.repos.roles import SqlRoleRepository
from kindling.storage.repos.users import SqlUserRepository

__all__ = ["IntegrityViolation", "Storage", "UnitOfWork", "open_storage"]

SQLITE_FILE = "kindling.db"


class SqlUnitOfWork:
    """Every repository bound to the same session (one transaction)."""

    def __init__(self, session: Session) -> None:
        self.environment: base.EnvironmentRepository = SqlEnvironmentRepository(session)
        self.admin: base.AdminRepository = SqlAdminRepository(session)
        self.keys: base.KeyRepository = SqlKeyRepository(session)
        self.applications: base.ApplicationRepository = SqlApplicationRepository(session)
        self.apis: base.ApiRepository = SqlApiRepository(session)
        self.users: base.UserRepository = SqlUserRepository(session)
        self.api_keys: base.ApiKeyRepository = SqlApiKeyRepository(session)
        self.organizations: base.OrganizationRepository = SqlOrganizationRepository(session)
        self.memberships: base.MembershipRepository = SqlMembershipRepository(session)
        self.roles: base.RoleRepository = SqlRoleRepository(session)
        self.permissions: base.PermissionRepository = SqlPermissionRepository(session)
        self.properties: base.PropertyRepository = SqlPropertyRepository(session)
        self.feature_flags: base.FeatureFlagRepository = SqlFeatureFlagRepository(session)
        self.invites: base.InviteRepository = SqlInviteRepository(session)
        self.accounts: base.AccountRepository = SqlAccountRepository(session)


class Storage:
    """Hands out units of work; a write one holds the write lock for its duration."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def embedded(self) -> bool:
        """True when queries are in-process (SQLite) and cheap enough to run on the event loop."""
        return self.engine.embedded

    @property
    def description(self) -> str:
        if isinstance(self.engine, SqliteEngine):
            return f"SQLite {self.engine.path}"
        return "PostgreSQL"

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """A read-write transaction: committed on success, rolled back on any exception."""
        with self.engine.session(write=True) as session:
            yield SqlUnitOfWork(session)

    @contextmanager
    def read(self) -> Iterator[UnitOfWork]:
        """A read-only transaction (a consistent snapshot)."""
        with self.engine.session(write=False) as session:
            yield SqlUnitOfWork(session)

    def change_marker(self) -> Hashable | None:
        """See ``Engine.change_marker``: equal markers mean nothing was committed in between."""
        return self.engine.change_marker()

    def close(self) -> None:
        self.engine.close()


def open_storage(database_url: str | None, data_dir: Path, now: str) -> Storage:
    """Open the configured engine and bring its schema up to date."""
    engine: Engine
    if database_url and database_url.startswith(("postgresql://", "postgres://")):
        engine = PostgresEngine(database_url)
    elif database_url and database_url.startswith("sqlite:///"):
        engine = SqliteEngine(Path(database_url.removeprefix("sqlite:///")))
    elif database_url:
        raise ValueError("KINDLING_DATABASE_URL must start with postgresql:// or sqlite:///")
    else:
        engine = SqliteEngine(data_dir / SQLITE_FILE)
    migrate(engine, now)
    return Storage(engine)
