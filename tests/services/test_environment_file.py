"""Configuration as code (``kindling.environment_file``) in process, on both engines.

Each test gets an environment of its own (a fresh SQLite file, or a fresh PostgreSQL
schema: export and prune see the whole environment, so the session's shared schema would
not do), set up as ``kindling serve`` sets one up. What a user relies on: applying a file
makes exactly what it says, through the services (events, audit rows); applying it again
writes nothing; a changed file converges; an invalid file or a refused change writes
nothing at all and names the line; pinned secrets work and are stored hashed only;
prune deletes only what the file's sections leave out; export and apply round-trip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kindling.clock import FrozenClock
from kindling.config import Settings
from kindling.context import build_context
from kindling.crypto.client_secrets import SecretHasher
from kindling.environment_file import (
    ApplyError,
    DocumentError,
    Plan,
    apply_document,
    document_data,
    dump_yaml,
    export_data,
    load_text,
)
from kindling.environment_file.routes import READ_SCOPES, SECTION_SCOPES
from kindling.environment_file.state import read_document
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.platform.codes import Code
from kindling.platform.context import Context
from kindling.resources.apis.service import ensure_management_api
from kindling.resources.applications.repository import APPLICATIONS_REPO
from kindling.resources.environment.repository import ENVIRONMENT_REPO
from tests.services.support import NOW, START
from tests.support import create_pg_schema, drop_pg_schema

ISSUER = "http://localhost:8000"
MASTER_KEY = "environment-file-tests-master-key-0123456789"
SECRET = "ci-backend-secret-at-least-32-characters"

SEED = f"""\
apis:
  - name: Orders API
    audience: https://orders.example.com
    scopes:
      - read:orders
      - key: write:orders
        description: Create and change orders
permissions:
  - key: read:reports
    name: Read reports
roles:
  - key: admin
    name: Administrator
    permissions: [read:reports]
feature_flags:
  - key: dark_mode
    name: Dark mode
    default: false
    allow_override_level: org
properties:
  - key: plan
    name: Plan
    context: org
users:
  - id: kp_alice
    first_name: Alice
    identities:
      - email: alice@example.com
      - username: alice
organizations:
  - code: org_acme
    name: Acme
    members:
      - user: kp_alice
        roles: [admin]
    feature_flags: {{dark_mode: true}}
    properties: {{plan: pro}}
applications:
  - name: ci-backend
    client_id: ci_backend
    client_secret: {SECRET}
    authorize:
      - api: management
        scopes: [read:users, create:users]
      - api: https://orders.example.com
webhooks:
  - name: Orders sync
    endpoint: https://hooks.example.com/kinde
    event_types: [user.created]
"""


def _context(tmp: Path, url: str | None) -> Context:
    """A context over new storage holding what a first ``kindling serve`` makes that the
    file format covers: the issuer and the built-in Management API (no signing key, no
    bootstrap application: nothing here signs)."""
    settings = Settings(data_dir=tmp, master_key=MASTER_KEY, database_url=url)
    ctx = build_context(settings, FrozenClock(START))
    with ctx.storage.transaction() as uow:
        uow[ENVIRONMENT_REPO].set_issuer(ISSUER, NOW)
        ensure_management_api(uow, ISSUER, NOW)
    return ctx


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Context]:
    """A set-up environment of its own on one engine."""
    schema = url = None
    if request.param == "postgres":
        request.getfixturevalue("pg_url")  # skips (visibly) without PostgreSQL
        schema, url = create_pg_schema()
    ctx = _context(tmp_path / "a", url)
    yield ctx
    ctx.close()
    if schema:
        drop_pg_schema(schema)


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Iterator[Context]:
    """The same on SQLite only, for what does not depend on the engine."""
    ctx = _context(tmp_path / "a", None)
    yield ctx
    ctx.close()


def count(ctx: Context, table: str) -> int:
    with ctx.storage.engine.session(write=False) as session:
        row = session.one(f"SELECT COUNT(*) AS n FROM {table}")
    assert row is not None
    return int(row["n"])


def apply(ctx: Context, text: str, **options: Any) -> Plan:
    source, document = load_text(text, "seed.yaml")
    return apply_document(ctx, document, source, **options)


def exported(ctx: Context) -> str:
    return dump_yaml(export_data(ctx))


def test_apply_creates_through_the_services_and_a_second_apply_writes_nothing(
    env: Context,
) -> None:
    events, audited = count(env, "outbox"), count(env, "audit")
    plan = apply(env, SEED)
    assert plan.applied
    assert [(c.action, c.kind, c.key) for c in plan.changes if c.kind != "property_category"] == [
        ("create", "permission", "read:reports"),
        ("create", "role", "admin"),
        ("create", "api", "https://orders.example.com"),
        ("create", "feature_flag", "dark_mode"),
        ("create", "property", "plan"),
        ("create", "user", "kp_alice"),
        ("create", "organization", "org_acme"),
        ("create", "application", "ci_backend"),
        ("create", "webhook", "Orders sync"),
    ]
    with env.storage.engine.session(write=False) as session:
        rows = session.all("SELECT type FROM outbox ORDER BY seq")
    types = [row["type"] for row in rows][events:]
    for expected in (
        "user.created",
        "organization.created",
        "organization.user_added",
        "application.created",
        "api.application_authorized",
        "webhook.created",
    ):
        assert expected in types
    # One audit row per event, in the same transaction.
    assert count(env, "audit") - audited == len(types)

    events, audited = count(env, "outbox"), count(env, "audit")
    again = apply(env, SEED)
    assert again.changes == () and again.render() == "No changes."
    assert (count(env, "outbox"), count(env, "audit")) == (events, audited)


def test_a_pinned_secret_gets_through_client_auth_and_is_stored_hashed_only(
    sqlite_env: Context,
) -> None:
    apply(sqlite_env, SEED)
    with sqlite_env.storage.read() as uow:
        app = uow[APPLICATIONS_REPO].get("ci_backend")
        (stored,) = uow[APPLICATIONS_REPO].secrets("ci_backend")
    assert app is not None and app.client_id == "ci_backend"
    assert sqlite_env.hasher.verify(SECRET, stored.secret_hash)
    assert SECRET not in stored.secret_hash
    with sqlite_env.storage.engine.session(write=False) as session:
        for table in ("outbox", "audit"):
            dumped = " ".join(str(dict(r)) for r in session.all(f"SELECT * FROM {table}"))
            assert SECRET not in dumped and stored.secret_hash not in dumped
    # A new secret in the file replaces the old one at once, with no grace window.
    changed = SEED.replace(SECRET, "another-ci-secret-of-at-least-32-chars!")
    plan = apply(sqlite_env, changed)
    assert [c.render() for c in plan.changes] == ["~ application ci_backend (client_secret)"]
    with sqlite_env.storage.read() as uow:
        secrets = uow[APPLICATIONS_REPO].secrets("ci_backend")
    working = [s for s in secrets if s.expires_at is None or s.expires_at > START]
    assert len(working) == 1
    assert sqlite_env.hasher.verify(
        "another-ci-secret-of-at-least-32-chars!", working[0].secret_hash
    )


def test_a_changed_file_converges(env: Context) -> None:
    apply(env, SEED)
    changed = (
        SEED.replace("name: Administrator", "name: Admins")
        .replace("      - read:orders\n", "      - read:orders\n      - delete:orders\n")
        .replace("      - username: alice\n", "      - email: alice.work@example.com\n")
        .replace("roles: [admin]", "roles: []\n        permissions: [read:reports]")
        .replace("{dark_mode: true}", "{}")
        .replace("scopes: [read:users, create:users]", "scopes: [read:users]")
        .replace("event_types: [user.created]", "event_types: [user.created, user.deleted]")
    )
    plan = apply(env, changed)
    assert [c.render() for c in plan.changes] == [
        "~ role admin (name)",
        "~ api https://orders.example.com (+scope delete:orders)",
        "~ user kp_alice (identities)",
        "~ organization org_acme (members, feature_flags)",
        "~ application ci_backend (authorize)",
        "~ webhook Orders sync (event_types)",
    ]
    assert apply(env, changed).changes == ()
    document = export_data(env)
    (alice,) = document["users"]
    assert alice["identities"] == [
        {"email": "alice@example.com"},
        {"email": "alice.work@example.com"},
    ]
    (acme,) = document["organizations"]
    assert acme["members"] == [{"user": "kp_alice", "permissions": ["read:reports"]}]
    assert "feature_flags" not in acme
    ci = next(a for a in document["applications"] if a["client_id"] == "ci_backend")
    assert ci["authorize"][0] == {"api": "management", "scopes": ["read:users"]}


def test_an_invalid_file_lists_every_problem_with_its_line_and_writes_nothing(
    sqlite_env: Context,
) -> None:
    before = exported(sqlite_env), count(sqlite_env, "outbox")
    text = SEED.replace(f"client_secret: {SECRET}", "client_secret: short").replace(
        "id: kp_alice", "id: alice"
    )
    with pytest.raises(DocumentError) as raised:
        load_text(text + "colour: blue\n", "seed.yaml")
    assert raised.value.code == Code.INVALID_ENVIRONMENT_FILE
    lines = raised.value.message.splitlines()
    secret_line = text.splitlines().index("    client_secret: short") + 1
    id_line = text.splitlines().index("  - id: alice") + 1
    assert lines == [
        f"seed.yaml:{id_line}: users[0].id: must be kp_ and 1 to 64 letters, digits or _",
        f"seed.yaml:{secret_line}: applications[0].client_secret: must be at least 32 characters",
        f"seed.yaml:{len(text.splitlines()) + 1}: colour: is not a known key (expected "
        "version, secret_hash_key, apis, permissions, roles, feature_flags, properties, "
        "users, organizations, applications, webhooks)",
    ]
    assert "short" not in raised.value.message  # a secret is never repeated
    assert (exported(sqlite_env), count(sqlite_env, "outbox")) == before


def test_a_refused_change_rolls_the_whole_file_back_and_names_its_line(env: Context) -> None:
    before = exported(env), count(env, "outbox"), count(env, "audit")
    text = SEED.replace("roles: [admin]", "roles: [owner]")
    with pytest.raises(ApplyError) as raised:
        apply(env, text)
    line = text.splitlines().index("  - code: org_acme") + 1
    assert raised.value.message == f"seed.yaml:{line}: organizations[0]: Role owner not found"
    assert raised.value.code == Code.ROLE_NOT_FOUND
    # Permissions, roles, the API, the user: all of it went back with the refusal.
    assert (exported(env), count(env, "outbox"), count(env, "audit")) == before


def test_a_dry_run_reports_the_changes_and_makes_none(sqlite_env: Context) -> None:
    before = exported(sqlite_env), count(sqlite_env, "outbox")
    plan = apply(sqlite_env, SEED, dry_run=True)
    assert not plan.applied and len(plan.changes) >= 9
    assert plan.render().endswith(
        f"Would apply {len(plan.changes)} changes: {len(plan.changes)} to create."
    )
    assert (exported(sqlite_env), count(sqlite_env, "outbox")) == before


WORKER = """\
applications:
  - name: worker
    client_id: worker_app
"""


def test_prune_deletes_only_in_the_sections_the_file_has(sqlite_env: Context) -> None:
    apply(sqlite_env, SEED)
    apply(sqlite_env, WORKER)
    only_users = "users:\n  - id: kp_bob\n    first_name: Bob\n"
    plan = apply(sqlite_env, only_users, prune=True)
    assert [c.render() for c in plan.changes] == ["- user kp_alice", "+ user kp_bob"]
    document = export_data(sqlite_env)
    assert [u["id"] for u in document["users"]] == ["kp_bob"]
    assert [o["code"] for o in document["organizations"]] == ["org_acme"]
    # An empty section prunes it all, but never the calling application.
    plan = apply(sqlite_env, "applications: []\n", prune=True, keep_client_id="ci_backend")
    assert [c.render() for c in plan.changes] == ["- application worker_app"]
    assert [a["client_id"] for a in export_data(sqlite_env)["applications"]] == ["ci_backend"]


def test_changes_the_services_cannot_make_in_place_are_refused(sqlite_env: Context) -> None:
    apply(sqlite_env, SEED)
    with pytest.raises(ApplyError) as raised:
        apply(
            sqlite_env,
            SEED.replace(
                "    client_id: ci_backend\n", "    client_id: ci_backend\n    type: spa\n"
            ),
        )
    assert raised.value.code == Code.ENVIRONMENT_FILE_CONFLICT
    assert "the type of an application cannot change" in raised.value.message
    with pytest.raises(ApplyError) as raised:
        apply(sqlite_env, SEED.replace("name: Orders API", "name: Orders"))
    assert raised.value.code == Code.ENVIRONMENT_FILE_CONFLICT


def test_export_then_apply_into_an_empty_environment_reproduces_it(
    env: Context, tmp_path: Path
) -> None:
    apply(env, SEED)
    text = exported(env)
    assert "client_secret_hash: hmac-sha256$v1$" in text and SECRET not in text
    url = env.settings.database_url
    schema = None
    if url:
        schema, url = create_pg_schema()
    other = _context(tmp_path / "b", url)
    try:
        first = apply(other, text, prune=True)
        assert first.changes
        assert exported(other) == text
        assert apply(other, text, prune=True).changes == ()
        with other.storage.read() as uow:
            (stored,) = uow[APPLICATIONS_REPO].secrets("ci_backend")
        assert other.hasher.verify(SECRET, stored.secret_hash)
    finally:
        other.close()
        if schema:
            drop_pg_schema(schema)


def test_a_secret_hash_from_another_master_key_is_refused(sqlite_env: Context) -> None:
    apply(sqlite_env, WORKER)
    with sqlite_env.storage.read() as uow:
        document = document_data(read_document(uow, SecretHasher(b"another pepper"), START))
    document["applications"][0]["client_id"] = "copied_app"
    with pytest.raises(ApplyError) as raised:
        apply(sqlite_env, dump_yaml(document))
    assert raised.value.code == Code.SECRET_HASH_KEY_MISMATCH
    assert "applications[0]" in raised.value.message


def test_the_scopes_the_http_endpoint_requires_are_management_api_scopes() -> None:
    named = set(READ_SCOPES) | {s for scopes in SECTION_SCOPES.values() for s in scopes}
    assert named <= set(MANAGEMENT_API_SCOPES)


def test_the_documented_example_applies_and_reapplies_as_no_change(sqlite_env: Context) -> None:
    text = (Path(__file__).parents[2] / "examples" / "kindling.yaml").read_text("utf-8")
    plan = apply(sqlite_env, text)
    created = {c.kind for c in plan.changes if c.action == "create"}
    assert created >= {
        "api",
        "permission",
        "role",
        "feature_flag",
        "property",
        "user",
        "organization",
        "application",
        "webhook",
    }
    assert apply(sqlite_env, text).changes == ()
    assert apply(sqlite_env, exported(sqlite_env)).changes == ()
