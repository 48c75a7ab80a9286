"""Application settings, callback and logout URLs, access roles, connections, API keys."""

SQL = """
ALTER TABLE applications ADD COLUMN settings TEXT NOT NULL DEFAULT '{{}}';
CREATE TABLE application_urls (
    seq {pk},
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    UNIQUE (application_id, kind, url)
);
CREATE TABLE application_access_roles (
    seq {pk},
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    UNIQUE (application_id, role_id)
);
CREATE TABLE application_connections (
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    PRIMARY KEY (application_id, connection_id)
);
CREATE TABLE api_keys (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    key_suffix TEXT NOT NULL,
    status TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    org_code TEXT REFERENCES organizations (code) ON DELETE CASCADE,
    created_by TEXT,
    created_on TEXT NOT NULL,
    last_verified_on TEXT,
    last_verified_ip TEXT,
    verification_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE api_key_scopes (
    api_key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    api_id TEXT NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    scope_id TEXT REFERENCES api_scopes (id) ON DELETE CASCADE,
    scope_key TEXT
)
"""
