"""Connected apps: provider definitions and the sessions connected through them."""

# A provider's client secret and a session's provider tokens and PKCE verifier are
# stored sealed (AES-256-GCM under keys derived from the master key, bound to the row);
# a session's ``session_id`` and its authorization ``state`` are stored as keyed hashes,
# so a copy of the database holds nothing usable without the master key. ``scopes`` is
# space-separated (RFC 6749 §3.3), ``authorization_params`` a JSON object. Sessions go
# with their provider, user or organization (ON DELETE CASCADE); the service refuses to
# delete a provider that still has authorized sessions. Sessions that never became
# authorized are pruned once ``expires_at`` (Unix seconds) has passed.
SQL = """
CREATE TABLE connected_app_providers (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    key_code_ref TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    authorization_endpoint TEXT NOT NULL,
    token_endpoint TEXT NOT NULL,
    revocation_endpoint TEXT,
    client_id TEXT NOT NULL,
    client_secret_sealed {blob},
    token_endpoint_auth_method TEXT NOT NULL,
    scopes TEXT NOT NULL,
    authorization_params TEXT NOT NULL,
    callback_url TEXT,
    timeout_seconds INTEGER NOT NULL,
    created_on TEXT NOT NULL,
    updated_on TEXT NOT NULL
);
CREATE TABLE connected_app_sessions (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    session_hash TEXT NOT NULL UNIQUE,
    provider_id TEXT NOT NULL REFERENCES connected_app_providers (id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    org_code TEXT REFERENCES organizations (code) ON DELETE CASCADE,
    status TEXT NOT NULL,
    state_hash TEXT UNIQUE,
    redirect_uri TEXT NOT NULL,
    callback_url TEXT,
    code_verifier_sealed {blob},
    access_token_sealed {blob},
    refresh_token_sealed {blob},
    access_token_expires_at {bigint},
    granted_scope TEXT,
    version INTEGER NOT NULL DEFAULT 0,
    created_on TEXT NOT NULL,
    expires_at {bigint} NOT NULL,
    authorized_on TEXT,
    refreshed_on TEXT
);
CREATE INDEX connected_app_sessions_provider ON connected_app_sessions (provider_id, status);
CREATE INDEX connected_app_sessions_expiry ON connected_app_sessions (status, expires_at);
CREATE INDEX connected_app_sessions_user ON connected_app_sessions (user_id);
CREATE INDEX connected_app_sessions_org ON connected_app_sessions (org_code)
"""
