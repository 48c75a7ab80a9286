"""Application property values; indexes for property and feature-flag lookups and cascades."""

# Deleting a property or a flag cascades to its values and overrides, whose primary keys
# start with the subject; the ``*_property`` / ``*_flag`` indexes keep those cascades cheap.
SQL = """
CREATE TABLE application_property_values (
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    property_id TEXT NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    value TEXT,
    PRIMARY KEY (application_id, property_id)
);
CREATE INDEX application_property_values_property
    ON application_property_values (property_id);
CREATE INDEX user_property_values_property ON user_property_values (property_id);
CREATE INDEX organization_property_values_property
    ON organization_property_values (property_id);
CREATE INDEX properties_context ON properties (context, seq);
CREATE INDEX properties_category ON properties (category_id);
CREATE INDEX property_categories_context ON property_categories (context, seq);
CREATE INDEX organization_feature_flags_flag ON organization_feature_flags (flag_id);
CREATE INDEX user_feature_flags_flag ON user_feature_flags (flag_id)
"""
