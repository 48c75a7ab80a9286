"""Audit log: who did what to what, from where, with what result (append-only)."""

# One row per recorded domain event (written by the unit of work in the change's own
# transaction, ``event_id`` joins it to the outbox), per refused Management API or
# console change, and per issued or refused token (written in batches, refusals
# coalesced per second: ``count``). ``occurred_at`` is Unix milliseconds, so time
# filters and retention pruning compare integers. ``details`` is a small JSON object
# (audiences, scopes, HTTP status); never a secret or a token. The CHECKs bound every
# text column: the writer truncates values to these lengths, so a CHECK that fires is
# a bug, and the change it belongs to fails with it (fail closed).
SQL = """
CREATE TABLE audit (
    seq {pk},
    occurred_at {bigint} NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT,
    ip TEXT,
    request_id TEXT,
    action TEXT NOT NULL,
    target_type TEXT,
    target_id TEXT,
    result TEXT NOT NULL,
    error_code TEXT,
    count {bigint} NOT NULL DEFAULT 1,
    event_id TEXT,
    details TEXT NOT NULL DEFAULT '{{}}',
    CHECK (result IN ('success', 'failure')),
    CHECK (count >= 1),
    CHECK (length(actor_type) <= 32),
    CHECK (actor_id IS NULL OR length(actor_id) <= 256),
    CHECK (ip IS NULL OR length(ip) <= 64),
    CHECK (request_id IS NULL OR length(request_id) <= 128),
    CHECK (length(action) <= 128),
    CHECK (target_type IS NULL OR length(target_type) <= 64),
    CHECK (target_id IS NULL OR length(target_id) <= 256),
    CHECK (error_code IS NULL OR length(error_code) <= 128),
    CHECK (event_id IS NULL OR length(event_id) <= 64),
    CHECK (length(details) <= 16384)
);
CREATE INDEX audit_occurred_at ON audit (occurred_at);
CREATE INDEX audit_actor ON audit (actor_id, seq);
CREATE INDEX audit_action ON audit (action, seq);
CREATE INDEX audit_target ON audit (target_id, seq)
"""
