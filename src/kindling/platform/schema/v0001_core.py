"""Environment, signing keys, applications, APIs and their scopes, users and identities."""

SQL = """
CREATE TABLE environment (
    id TEXT PRIMARY KEY,
    issuer TEXT NOT NULL,
    created_on TEXT NOT NULL
);
CREATE TABLE signing_keys (
    seq {pk},
    kid TEXT NOT NULL UNIQUE,
    algorithm TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    sealed_private {blob} NOT NULL,
    status TEXT NOT NULL,
    created_on TEXT NOT NULL,
    retired_on TEXT
);
CREATE TABLE applications (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    org_code TEXT,
    access_token_lifetime INTEGER NOT NULL,
    created_on TEXT NOT NULL
);
CREATE TABLE application_secrets (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_on TEXT NOT NULL,
    expires_at {bigint}
);
CREATE INDEX application_secrets_application ON application_secrets (application_id);
CREATE TABLE apis (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    audience TEXT NOT NULL UNIQUE,
    is_management_api {bool} NOT NULL,
    created_on TEXT NOT NULL
);
CREATE TABLE api_scopes (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    api_id TEXT NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    description TEXT,
    UNIQUE (api_id, key)
);
CREATE TABLE api_applications (
    api_id TEXT NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    created_on TEXT NOT NULL,
    PRIMARY KEY (api_id, application_id)
);
CREATE INDEX api_applications_application ON api_applications (application_id);
CREATE TABLE api_application_scopes (
    api_id TEXT NOT NULL,
    application_id TEXT NOT NULL,
    scope_id TEXT NOT NULL REFERENCES api_scopes (id) ON DELETE CASCADE,
    PRIMARY KEY (api_id, application_id, scope_id),
    FOREIGN KEY (api_id, application_id)
        REFERENCES api_applications (api_id, application_id) ON DELETE CASCADE
);
CREATE TABLE users (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    provided_id TEXT,
    email TEXT,
    username TEXT,
    phone TEXT,
    first_name TEXT,
    last_name TEXT,
    picture TEXT,
    is_suspended {bool} NOT NULL,
    is_password_reset_requested {bool} NOT NULL,
    total_sign_ins INTEGER NOT NULL,
    failed_sign_ins INTEGER NOT NULL,
    last_signed_in TEXT,
    created_on TEXT NOT NULL
);
CREATE TABLE user_identities (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    value TEXT NOT NULL,
    normalized TEXT NOT NULL,
    is_verified {bool} NOT NULL,
    is_primary {bool} NOT NULL,
    created_on TEXT NOT NULL,
    UNIQUE (type, normalized)
);
CREATE INDEX user_identities_user ON user_identities (user_id);
"""
