"""Signing-key states: when each key starts signing, stops being published, was revoked."""

# ``activates_at`` (Unix seconds): a ``next`` key is published at once and signs from then
# on (publish-before-sign); NULL for keys made before this migration (active since they
# were created). ``publish_until`` (Unix seconds): a retired key leaves the JWKS then; NULL
# keeps it published until it is revoked. ``revoked_on``: when an emergency revoke took it
# out of the JWKS.
SQL = """
ALTER TABLE signing_keys ADD COLUMN activates_at {bigint};
ALTER TABLE signing_keys ADD COLUMN publish_until {bigint};
ALTER TABLE signing_keys ADD COLUMN revoked_on TEXT
"""
