"""Organizations and membership, roles, permissions, properties, feature flags, connections."""

# Organizations keep their many branding and policy fields in one JSON ``settings`` column;
# only what is filtered, sorted or unique has a column of its own.
SQL = """
CREATE TABLE organizations (
    seq {pk},
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    handle TEXT UNIQUE,
    external_id TEXT,
    is_default {bool} NOT NULL,
    is_suspended {bool} NOT NULL,
    settings TEXT NOT NULL,
    created_on TEXT NOT NULL
);
CREATE INDEX organizations_name ON organizations (name, seq);
CREATE TABLE organization_users (
    seq {pk},
    org_code TEXT NOT NULL REFERENCES organizations (code) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_on TEXT NOT NULL,
    last_accessed_on TEXT,
    UNIQUE (org_code, user_id)
);
CREATE INDEX organization_users_user ON organization_users (user_id);
CREATE TABLE roles (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    is_default_role {bool} NOT NULL,
    assignment_permission_id TEXT,
    created_on TEXT NOT NULL
);
CREATE TABLE permissions (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    created_on TEXT NOT NULL
);
CREATE TABLE role_permissions (
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id TEXT NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission_id)
);
CREATE INDEX role_permissions_permission ON role_permissions (permission_id);
CREATE TABLE role_scopes (
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    scope_id TEXT NOT NULL REFERENCES api_scopes (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, scope_id)
);
CREATE TABLE role_system_permissions (
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    system_permission_key TEXT NOT NULL,
    PRIMARY KEY (role_id, system_permission_key)
);
CREATE TABLE organization_user_roles (
    org_code TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    created_on TEXT NOT NULL,
    PRIMARY KEY (org_code, user_id, role_id),
    FOREIGN KEY (org_code, user_id)
        REFERENCES organization_users (org_code, user_id) ON DELETE CASCADE
);
CREATE INDEX organization_user_roles_role ON organization_user_roles (role_id, org_code);
CREATE TABLE organization_user_permissions (
    org_code TEXT NOT NULL,
    user_id TEXT NOT NULL,
    permission_id TEXT NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (org_code, user_id, permission_id),
    FOREIGN KEY (org_code, user_id)
        REFERENCES organization_users (org_code, user_id) ON DELETE CASCADE
);
CREATE TABLE organization_user_api_scopes (
    org_code TEXT NOT NULL,
    user_id TEXT NOT NULL,
    api_id TEXT NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    scope_id TEXT NOT NULL REFERENCES api_scopes (id) ON DELETE CASCADE,
    PRIMARY KEY (org_code, user_id, api_id, scope_id),
    FOREIGN KEY (org_code, user_id)
        REFERENCES organization_users (org_code, user_id) ON DELETE CASCADE
);
CREATE TABLE organization_invites (
    seq {pk},
    code TEXT NOT NULL UNIQUE,
    org_code TEXT NOT NULL REFERENCES organizations (code) ON DELETE CASCADE,
    email TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    role_keys TEXT NOT NULL,
    is_sent {bool} NOT NULL,
    is_revoked {bool} NOT NULL,
    accepted_on TEXT,
    created_on TEXT NOT NULL
);
CREATE INDEX organization_invites_org ON organization_invites (org_code, seq);
CREATE TABLE organization_logos (
    org_code TEXT NOT NULL REFERENCES organizations (code) ON DELETE CASCADE,
    type TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data {blob} NOT NULL,
    created_on TEXT NOT NULL,
    PRIMARY KEY (org_code, type)
);
CREATE TABLE property_categories (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    context TEXT NOT NULL,
    created_on TEXT NOT NULL
);
CREATE TABLE properties (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    type TEXT NOT NULL,
    context TEXT NOT NULL,
    is_private {bool} NOT NULL,
    is_kinde_property {bool} NOT NULL,
    category_id TEXT REFERENCES property_categories (id),
    created_on TEXT NOT NULL
);
CREATE TABLE user_property_values (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    property_id TEXT NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    value TEXT,
    PRIMARY KEY (user_id, property_id)
);
CREATE TABLE organization_property_values (
    org_code TEXT NOT NULL REFERENCES organizations (code) ON DELETE CASCADE,
    property_id TEXT NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    value TEXT,
    PRIMARY KEY (org_code, property_id)
);
CREATE TABLE feature_flags (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    type TEXT NOT NULL,
    allow_override_level TEXT,
    default_value TEXT NOT NULL,
    environment_value TEXT,
    created_on TEXT NOT NULL
);
CREATE TABLE organization_feature_flags (
    org_code TEXT NOT NULL REFERENCES organizations (code) ON DELETE CASCADE,
    flag_id TEXT NOT NULL REFERENCES feature_flags (id) ON DELETE CASCADE,
    value TEXT NOT NULL,
    PRIMARY KEY (org_code, flag_id)
);
CREATE TABLE user_feature_flags (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    flag_id TEXT NOT NULL REFERENCES feature_flags (id) ON DELETE CASCADE,
    value TEXT NOT NULL,
    PRIMARY KEY (user_id, flag_id)
);
CREATE TABLE connections (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    display_name TEXT,
    strategy TEXT NOT NULL,
    options TEXT NOT NULL,
    created_on TEXT NOT NULL
);
CREATE TABLE organization_connections (
    org_code TEXT NOT NULL REFERENCES organizations (code) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    PRIMARY KEY (org_code, connection_id)
);
CREATE TABLE user_passwords (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    hashing_method TEXT NOT NULL,
    is_temporary {bool} NOT NULL,
    updated_on TEXT NOT NULL
);
CREATE TABLE user_mfa_factors (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_code TEXT,
    type TEXT NOT NULL,
    name TEXT,
    created_on TEXT NOT NULL
);
CREATE INDEX user_mfa_factors_user ON user_mfa_factors (user_id);
CREATE TABLE user_sessions (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_code TEXT,
    client_id TEXT,
    user_agent TEXT,
    ip_address TEXT,
    created_on TEXT NOT NULL,
    expires_on TEXT,
    last_active_on TEXT
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);
ALTER TABLE user_identities ADD COLUMN connection_id TEXT;
ALTER TABLE user_identities ADD COLUMN total_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_identities ADD COLUMN last_login_on TEXT
"""
