"""Billing: plans and their features, agreements, entitlements and metered usage."""

# Plans start empty; they are defined through Kindling's ``POST /kindling/v1/billing/plans``
# (Kinde's Management API has no plan endpoint). At most one agreement per customer is
# active (``expires_on IS NULL``): the partial unique index makes that hold even when two
# agreements are created for one customer at once. ``billing_usage_totals`` holds the
# running total per agreement and feature, updated in place by an upsert so concurrent
# usage records never lose an addition; ``billing_meter_usage`` keeps every record.
SQL = """
CREATE TABLE billing_plans (
    seq {pk},
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    created_on TEXT NOT NULL
);
CREATE TABLE billing_plan_features (
    plan_code TEXT NOT NULL REFERENCES billing_plans (code) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    feature_code TEXT NOT NULL,
    feature_name TEXT NOT NULL,
    price_name TEXT,
    unit_amount {bigint},
    fixed_charge {bigint},
    limit_min {bigint},
    limit_max {bigint},
    PRIMARY KEY (plan_code, feature_code)
);
CREATE TABLE billing_agreements (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    plan_code TEXT NOT NULL REFERENCES billing_plans (code),
    created_on TEXT NOT NULL,
    expires_on TEXT
);
CREATE INDEX billing_agreements_customer ON billing_agreements (customer_id, seq);
CREATE UNIQUE INDEX billing_agreements_one_active
    ON billing_agreements (customer_id) WHERE expires_on IS NULL;
CREATE TABLE billing_entitlements (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    agreement_id TEXT NOT NULL REFERENCES billing_agreements (id) ON DELETE CASCADE,
    feature_code TEXT NOT NULL,
    UNIQUE (agreement_id, feature_code)
);
CREATE TABLE billing_meter_usage (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    agreement_id TEXT NOT NULL REFERENCES billing_agreements (id) ON DELETE CASCADE,
    feature_code TEXT NOT NULL,
    meter_type TEXT NOT NULL,
    meter_value {bigint} NOT NULL,
    usage_on TEXT NOT NULL,
    recorded_on TEXT NOT NULL
);
CREATE INDEX billing_meter_usage_agreement ON billing_meter_usage (agreement_id, feature_code, seq);
CREATE TABLE billing_usage_totals (
    agreement_id TEXT NOT NULL REFERENCES billing_agreements (id) ON DELETE CASCADE,
    feature_code TEXT NOT NULL,
    total {bigint} NOT NULL,
    updated_on TEXT NOT NULL,
    PRIMARY KEY (agreement_id, feature_code)
)
"""
