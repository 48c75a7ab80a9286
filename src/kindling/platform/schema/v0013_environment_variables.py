"""Environment variables: clear values, and secrets sealed with AES-256-GCM."""

# A row holds exactly one of its two value columns: ``value`` (clear text) when it is
# not a secret, ``sealed_value`` (nonce, ciphertext and tag, bound to the row id) when
# it is. The CHECK keeps a secret from ever being stored in clear, whatever writes it.
SQL = """
CREATE TABLE environment_variables (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL UNIQUE,
    is_secret {bool} NOT NULL,
    value TEXT,
    sealed_value {blob},
    created_on TEXT NOT NULL,
    CHECK (
        (is_secret AND value IS NULL AND sealed_value IS NOT NULL)
        OR (NOT is_secret AND value IS NOT NULL AND sealed_value IS NULL)
    )
)
"""
