"""The change counter of what the token endpoint knows of a client."""

# ``client_state`` has one row (``id = 'default'``). Its ``version`` goes up, by trigger, in
# the transaction of every change to a table the token endpoint reads a client from
# (``resources/applications/clients.py``): the application, its secrets, its property
# values and the properties they name, the APIs, their scopes, and the application's
# authorizations and granted scopes. A process that caches clients re-reads them only
# when this number moved, so commits to other tables (the audit log's batches above all,
# every 50 ms under load) leave its cache warm. Triggers, not the services, keep it: no
# write path (a cascade, a migration, a CLI command) can forget it.
#
# SQLite has row triggers only; PostgreSQL runs one statement trigger per change, so a
# grant of 149 scopes moves the counter once, not 149 times.
TABLES = (
    "applications",
    "application_secrets",
    "application_property_values",
    "properties",
    "apis",
    "api_scopes",
    "api_applications",
    "api_application_scopes",
)

_BUMP = "UPDATE client_state SET version = version + 1 WHERE id = 'default'"
_CREATE = "CREATE TABLE client_state (id TEXT PRIMARY KEY, version {bigint} NOT NULL)"
_SEED = "INSERT INTO client_state (id, version) VALUES ('default', 0)"

SQL = {
    "sqlite": [
        _CREATE.format(bigint="INTEGER"),
        _SEED,
        *(
            f"CREATE TRIGGER {table}_{op.lower()}_client_state AFTER {op} ON {table} "
            f"BEGIN {_BUMP}; END"
            for table in TABLES
            for op in ("INSERT", "UPDATE", "DELETE")
        ),
    ],
    "postgres": [
        _CREATE.format(bigint="BIGINT"),
        _SEED,
        "CREATE FUNCTION kindling_client_state_changed() RETURNS trigger LANGUAGE plpgsql "
        f"AS $$ BEGIN {_BUMP}; RETURN NULL; END $$",
        *(
            f"CREATE TRIGGER {table}_client_state "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION kindling_client_state_changed()"
            for table in TABLES
        ),
    ],
}
