"""Password hash parameters; at most one primary identity per user and type."""

# Without the salt, iteration count or scrypt parameters an imported pbkdf2 or
# firebase-scrypt hash could never be verified, so they are stored next to it (JSON).
# The partial unique index backs the "one primary identity per type" rule that the
# Identities resource maintains.
SQL = """
ALTER TABLE user_passwords ADD COLUMN hash_params TEXT NOT NULL DEFAULT '{{}}';
CREATE UNIQUE INDEX user_identities_primary ON user_identities (user_id, type) WHERE is_primary
"""
