"""Admin console: the owner account, server-side sessions, failed sign-in attempts."""

# Sessions are stored by the SHA-256 of their cookie value, so a copy of the
# database does not hold usable session cookies; deleting the row ends the
# session everywhere (logout, password change). Failed sign-ins are counted per
# (username, client address) for throttling and pruned as they age out.
SQL = """
CREATE TABLE admin_accounts (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_on TEXT NOT NULL,
    password_changed_on TEXT NOT NULL
);
CREATE TABLE admin_sessions (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES admin_accounts (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at {bigint} NOT NULL,
    expires_at {bigint} NOT NULL,
    last_seen_at {bigint} NOT NULL,
    flash TEXT
);
CREATE INDEX admin_sessions_account ON admin_sessions (account_id);
CREATE TABLE admin_login_failures (
    seq {pk},
    username TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    failed_at {bigint} NOT NULL
);
CREATE INDEX admin_login_failures_key ON admin_login_failures (username, client_ip, failed_at)
"""
