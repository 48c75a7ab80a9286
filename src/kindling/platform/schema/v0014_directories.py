"""SCIM directories: one per organization, with a hashed bearer token."""

# ``token_hash`` is the keyed hash of the SCIM bearer token shown once at creation;
# the token itself is never stored. Deleting the organization deletes its directory;
# deleting the enterprise connection it provisions into leaves the directory unlinked.
SQL = """
CREATE TABLE directories (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    org_code TEXT NOT NULL UNIQUE REFERENCES organizations (code) ON DELETE CASCADE,
    directory_name TEXT NOT NULL,
    provider_code TEXT NOT NULL,
    endpoint_id TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    connection_id TEXT REFERENCES connections (id) ON DELETE SET NULL,
    last_sync_started_at TEXT,
    last_sync_completed_at TEXT,
    last_sync_error TEXT,
    created_on TEXT NOT NULL
);
CREATE INDEX directories_connection ON directories (connection_id)
"""
