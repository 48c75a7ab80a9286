"""First run: environment, signing key, the Management API and a bootstrap M2M app.

Idempotent and safe to run from several instances at once: everything happens in one
write transaction that first takes the set-up lock (``EnvironmentRepository.lock_set_up``:
PostgreSQL's advisory lock; on SQLite the write lock itself), and only the run that
creates the environment creates the bootstrap application and sees its secret. Later
runs only re-point the issuer (and with it the Management API audience) when the
configuration changed.

**Two first runs at once.** Two instances started together on an empty database both
find no environment and both prepare a first run. The second to take the lock waits
for the first's commit, then finds the environment: it writes nothing, rolls back and
runs again from the top as the later run it now is (``_SetUpMeanwhile``), checking the
signing keys the first made before it writes anything. So exactly one instance prints
the first run's secrets and both serve the same environment.

The first signing key is made in the transaction that creates the environment, so an
environment never exists without one. A later run that finds the environment but no
usable signing key, a signing key that cannot be unsealed, or a master key that is not
the one the keys were sealed with refuses to start (``ConfigurationError``, one line
naming the cause; RELIABILITY-AND-USERS.md A12 case 50) before it writes anything: it
never mints a replacement on its own, which would silently invalidate every token
issued so far.
"""

from dataclasses import dataclass

from kindling.clock import isoformat
from kindling.platform.context import Context
from kindling.resources.admin.service import ensure_owner
from kindling.resources.apis.service import (
    authorize_application,
    ensure_management_api,
    management_audience,
)
from kindling.resources.applications.service import add_application
from kindling.resources.environment.repository import ENVIRONMENT_REPO

BOOTSTRAP_APP_NAME = "Kindling bootstrap M2M application"
#: The longest a run waits for another instance's set-up to commit (seconds); past it the
#: database counts as not answering (``StorageUnavailable``: a deferred start).
SET_UP_WAIT = 30.0


class _SetUpMeanwhile(Exception):
    """Another instance set the environment up while this run prepared a first run."""


@dataclass(frozen=True)
class BootstrapResult:
    issuer: str
    audience: str
    first_run: bool
    previous_issuer: str | None
    client_id: str | None = None
    client_secret: str | None = None
    key_created: bool = False
    #: The admin console owner's generated password, when this run created the account.
    admin_password: str | None = None


def bootstrap(ctx: Context, issuer: str) -> BootstrapResult:
    """Set the environment up on a first run, else check it and follow ``issuer``."""
    try:
        return _bootstrap(ctx, issuer)
    except _SetUpMeanwhile:
        # Rolled back with nothing written; the environment is there now: a later run.
        return _bootstrap(ctx, issuer)


def _bootstrap(ctx: Context, issuer: str) -> BootstrapResult:
    now = isoformat(ctx.clock.now())
    client_id = client_secret = None
    with ctx.storage.read() as uow:
        set_up = uow[ENVIRONMENT_REPO].get_issuer() is not None
    if set_up:
        # Refuse a missing or unusable key, or a wrong master key, before writing.
        ctx.keyring.startup_check()
    first_key = None if set_up else ctx.keyring.new_key()
    key_created = False
    with ctx.storage.transaction() as uow:
        uow[ENVIRONMENT_REPO].lock_set_up(SET_UP_WAIT)
        previous = uow[ENVIRONMENT_REPO].get_issuer()
        if previous is not None and not set_up:
            raise _SetUpMeanwhile
        first_run = previous is None
        if previous != issuer:
            uow[ENVIRONMENT_REPO].set_issuer(issuer, now)
        ensure_management_api(uow, issuer, now)
        if first_run:
            ctx.keyring.install_first_key(uow, first_key or ctx.keyring.new_key())
            key_created = True
            created = add_application(uow, ctx.hasher, ctx.clock, BOOTSTRAP_APP_NAME, "m2m")
            authorize_application(
                uow, ctx.clock, created.application.id, management_audience(issuer), None
            )
            client_id, client_secret = created.application.id, created.client_secret
        admin_password = ensure_owner(uow, ctx.clock)
    ctx.keyring.startup_check()
    return BootstrapResult(
        issuer=issuer,
        audience=management_audience(issuer),
        first_run=first_run,
        previous_issuer=previous,
        client_id=client_id,
        client_secret=client_secret,
        key_created=key_created,
        admin_password=admin_password,
    )
