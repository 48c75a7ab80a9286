"""Webhooks: subscriptions, a delivery per event and webhook, attempts, the fan-out cursor."""

# ``webhooks.start_seq`` is the outbox position when the webhook was created: only
# later events are delivered to it, however far behind the deliverer is. A delivery
# is unique per (webhook, event), so fanning an event out twice (two instances, a
# re-send racing the fan-out) cannot queue it twice; its id is the ``webhook-id``
# header, stable across attempts. Times the deliverer compares (``next_attempt_at``,
# ``deadline_at``, ``lease_until``) are Unix milliseconds; a delivery is claimed by
# writing a lease (owner and expiry) only where none is live, so several workers or
# instances on one database send each attempt once. ``webhook_cursors`` remembers the
# last outbox ``seq`` fanned out, advanced in the transaction that queues the
# deliveries. Deleting a webhook deletes its deliveries and their attempts.
SQL = """
CREATE TABLE webhooks (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    description TEXT,
    event_types TEXT NOT NULL,
    created_on TEXT NOT NULL,
    start_seq {bigint} NOT NULL
);
CREATE TABLE webhook_deliveries (
    seq {pk},
    id TEXT NOT NULL UNIQUE,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_seq {bigint} NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_on TEXT NOT NULL,
    next_attempt_at {bigint} NOT NULL,
    deadline_at {bigint} NOT NULL,
    lease_owner TEXT,
    lease_until {bigint},
    last_attempt_on TEXT,
    last_status_code INTEGER,
    last_error TEXT,
    delivered_on TEXT,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, seq);
CREATE TABLE webhook_attempts (
    seq {pk},
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_on TEXT NOT NULL,
    status_code INTEGER,
    latency_ms INTEGER NOT NULL,
    error TEXT,
    response_excerpt TEXT,
    response_truncated {bool} NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, seq);
CREATE TABLE webhook_cursors (
    name TEXT PRIMARY KEY,
    seq {bigint} NOT NULL
)
"""
