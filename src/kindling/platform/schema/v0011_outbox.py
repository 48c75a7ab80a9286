"""Outbox of domain events, written in the transaction of the change they describe."""

SQL = """
CREATE TABLE outbox (
    seq {pk},
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    occurred_on TEXT NOT NULL,
    request_id TEXT
);
CREATE INDEX outbox_type ON outbox (type, seq)
"""
