"""Connections: managing organization, sealed secrets, last change, home realm domains."""

# The ``connections`` table (v0002) gains what the Management API's Connections tag
# stores. ``options`` (already there) holds the strategy's options as a JSON document
# without the write-only ones; ``sealed_secrets`` holds those (``client_secret``,
# ``saml_signing_private_key``) as one JSON object sealed with AES-256-GCM under a key
# derived from the master key, bound to the connection id. ``organization_code`` is the
# organization that manages an enterprise connection: the connection goes with it.
# ``connection_home_realm_domains`` indexes the normalized ``home_realm_domains`` option
# for ``GET /connections?home_realm_domain=``. Deleting a connection takes its domains
# and, through the v0002/v0008 foreign keys, its organization and application
# enablements with it.
SQL = """
ALTER TABLE connections ADD COLUMN organization_code TEXT
    REFERENCES organizations (code) ON DELETE CASCADE;
ALTER TABLE connections ADD COLUMN sealed_secrets {blob};
ALTER TABLE connections ADD COLUMN updated_on TEXT;
CREATE INDEX connections_organization ON connections (organization_code);
CREATE TABLE connection_home_realm_domains (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    PRIMARY KEY (connection_id, domain)
);
CREATE INDEX connection_home_realm_domains_domain
    ON connection_home_realm_domains (domain, connection_id)
"""
