"""PostgreSQL announces every token-path change: NOTIFY on commit, for every instance."""

# The token endpoint's caches hang on two counters: ``client_state.version`` (v0023: the
# applications, secrets, APIs, scopes and grants a client is read from) and
# ``token_state.version`` (v0019: signing keys and revoked tokens). Triggers on those two
# one-row tables announce each move with ``pg_notify('kindling_changes', '<what>:<schema>')``
# (``clients`` or ``keys``, and the table's schema, so instances of other schemas in the
# same database can tell it is not theirs). PostgreSQL delivers a notification only when
# its transaction commits, once per distinct payload, to every listening connection:
# each Kindling process listens on one (``platform/engine.py``, ``_ChangeListener``) and
# drops its cached view on arrival, instead of reading a counter on every request.
#
# The same triggers set the transaction-local ``kindling.changed``, which the committing
# process reads before its commit, so its own next request re-reads at once.
#
# Triggers, not services, so every writer (a service, the CLI, a migration, a cascade)
# announces. SQLite needs none of it: ``PRAGMA data_version`` tells every connection of
# the file that something was committed.
_ANNOUNCE = (
    "CREATE FUNCTION kindling_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    "PERFORM pg_notify('kindling_changes', TG_ARGV[0] || ':' || TG_TABLE_SCHEMA); "
    "PERFORM set_config('kindling.changed', 'on', true); "
    "RETURN NULL; "
    "END $$"
)

SQL: dict[str, list[str]] = {
    "sqlite": [],
    "postgres": [
        _ANNOUNCE,
        "CREATE TRIGGER client_state_announce AFTER UPDATE ON client_state "
        "FOR EACH STATEMENT EXECUTE FUNCTION kindling_announce_change('clients')",
        "CREATE TRIGGER token_state_announce AFTER UPDATE ON token_state "
        "FOR EACH STATEMENT EXECUTE FUNCTION kindling_announce_change('keys')",
    ],
}
