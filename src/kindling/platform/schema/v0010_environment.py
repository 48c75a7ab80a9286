"""Environment settings (name, passkey policy) and environment logos."""

SQL = """
ALTER TABLE environment ADD COLUMN settings TEXT NOT NULL DEFAULT '{{}}';
CREATE TABLE environment_logos (
    type TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    data {blob} NOT NULL,
    created_on TEXT NOT NULL
)
"""
