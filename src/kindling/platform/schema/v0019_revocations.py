"""Revoked access tokens (RFC 7009) and the change counter of keys and revocations."""

# ``revoked_tokens`` holds the ``jti`` of each revoked access token until it expires
# (``expires_at``, Unix seconds; later rows can be pruned, the token is refused anyway).
# ``version`` is the value of ``token_state.version`` the revoking transaction set, so a
# process loads only what was revoked since its cached view.
# ``token_state`` has one row (``id = 'default'``): ``version`` goes up in the transaction
# of every change to signing keys or revocations; ``seal_check`` is the check value of
# the key that seals the signing keys (``KeySealer.check_value``), so a wrong master key
# and a corrupt sealed key can be told apart.
SQL = """
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    expires_at {bigint} NOT NULL,
    revoked_on TEXT NOT NULL,
    version {bigint} NOT NULL
);
CREATE INDEX revoked_tokens_version ON revoked_tokens (version);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);
CREATE TABLE token_state (
    id TEXT PRIMARY KEY,
    version {bigint} NOT NULL,
    seal_check TEXT
);
INSERT INTO token_state (id, version, seal_check) VALUES ('default', 0, NULL)
"""
