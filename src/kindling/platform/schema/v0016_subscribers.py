"""Subscribers, the business record and the environment's MFA policy."""

# ``subscribers.email_key`` is the case-folded email: one subscriber per address.
# ``business`` and ``mfa_policy`` hold one row each (``id = 'default'``): Kindling serves
# one environment per database, and each row is written the first time it is needed.
SQL = """
CREATE TABLE subscribers (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL,
    last_name TEXT,
    full_name TEXT NOT NULL,
    created_on TEXT NOT NULL
);
CREATE INDEX subscribers_full_name ON subscribers (full_name, seq);
CREATE INDEX subscribers_email ON subscribers (email, seq);
CREATE TABLE business (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    industry_key TEXT,
    timezone_key TEXT,
    privacy_url TEXT,
    terms_url TEXT,
    is_click_wrap {bool} NOT NULL,
    is_show_kinde_branding {bool} NOT NULL,
    kinde_perk_code TEXT,
    created_on TEXT NOT NULL
);
CREATE TABLE mfa_policy (
    id TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    enabled_factors TEXT NOT NULL,
    is_recovery_codes_enabled {bool} NOT NULL,
    updated_on TEXT NOT NULL
)
"""
