"""The catalogue of domain event types: every ``type`` a service may record.

A service that changes state records one of these on the unit of work
(``uow.record(EventType.USER_CREATED, {...})``); the unit of work writes it to the
outbox in the transaction of the change (see ``kindling.platform.events``). Keeping
every type in one enum means a typo is a type error, not a silent new event, and a
webhook subscriber can be offered the complete list.

Names are Kinde's webhook event types where Kinde publishes one (its "Add and manage
webhooks" page lists ``user.created``, ``user.updated``, ``user.deleted``,
``organization.created``, ``organization.updated``, ``organization.deleted``,
``role.*``, ``permission.*``, ...); such members are marked "Kinde's". For changes
Kinde publishes no name for, Kindling uses the same ``<resource>.<past-tense verb>``
shape (marked "Kindling's"), so both read alike and match ``events.EVENT_TYPE``.

Conventions every resource follows:

* An event says that state changed: a call that leaves everything as it was (a PATCH
  with the current values, enabling an enabled connection) records nothing.
* Bulk operations record one event per affected item, never one summary event.
* ``data`` is JSON, shaped like Kinde's webhook ``data`` where Kinde has one: the
  object under its resource name (``{"user": {...}}``, ``{"organization": {...}}``).
  It never holds secrets, password hashes, tokens or logo bytes.
* Deleting a resource records its own deletion only; what the schema cascades with it
  (memberships, identities, invites) records nothing further.

Groups are per resource, in the order of ``kindling.resources.REGISTERED``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EventType"]


class EventType(StrEnum):
    """Every domain event type Kindling records, grouped by resource."""

    # --- users (kindling.resources.users, users.accounts) -------------------------
    #: Kinde's. ``{"user": {id, email, username, phone, first_name, last_name, picture,
    #: provided_id, is_suspended, is_password_reset_requested, organizations: [{code}]}}``
    USER_CREATED = "user.created"
    #: Kinde's. ``{"user": {...the profile after the change...}, "updated_fields": [...]}``
    USER_UPDATED = "user.updated"
    #: Kinde's. ``{"user": {"id": ...}}``
    USER_DELETED = "user.deleted"
    #: Kindling's. ``{"user": {"id"}, "identity": {id, type, name, is_primary, connection_id}}``
    USER_IDENTITY_CREATED = "user.identity_created"
    #: Kindling's. An identity was made primary (the previous primary one is demoted with
    #: it): ``{"user": {"id"}, "identity": {..., "is_primary": true}}``
    USER_IDENTITY_UPDATED = "user.identity_updated"
    #: Kindling's. ``{"user": {"id"}, "identity": {id, type}, "promoted_identity_id"}``
    USER_IDENTITY_DELETED = "user.identity_deleted"
    #: Kindling's. ``{"user": {"id"}, "hashing_method", "is_temporary_password"}``: never the hash.
    USER_PASSWORD_UPDATED = "user.password_updated"
    #: Kindling's. One per deleted environment-level factor: ``{"user", "factor": {id, type}}``
    USER_MFA_FACTOR_DELETED = "user.mfa_factor_deleted"
    #: Kindling's. One per deleted session: ``{"user": {"id"}, "session": {"id"}}``
    USER_SESSION_DELETED = "user.session_deleted"

    # --- organizations (kindling.resources.organizations and its sub-packages) -----
    # Membership changes are ``organization.user_*`` events, never ``user.updated``: a
    # membership and the roles, permissions and scopes held in it belong to the
    # organization (its subscribers follow one organization's events), and ``user.*``
    # stays about the user's own profile and accounts. Creating a user with an
    # ``organization_code`` records ``user.created`` then ``organization.user_added``.
    #: Kinde's. ``{"organization": {code, name, handle, external_id, is_suspended}}``
    ORGANIZATION_CREATED = "organization.created"
    #: Kinde's. ``{"organization": {code, name, handle, external_id, is_suspended},
    #: "updated_fields": [...]}``: fields, settings and policies (sessions, MFA, passkey).
    ORGANIZATION_UPDATED = "organization.updated"
    #: Kinde's. ``{"organization": {code, name}}``
    ORGANIZATION_DELETED = "organization.deleted"
    #: Kindling's. ``{"organization": {"code"}, "logo": {type, content_type}}``
    ORGANIZATION_LOGO_UPDATED = "organization.logo_updated"
    #: Kindling's. ``{"organization": {"code"}, "logo": {"type"}}``
    ORGANIZATION_LOGO_DELETED = "organization.logo_deleted"
    #: Kindling's. ``{"organization": {"code"}, "connection": {"id"}}``
    ORGANIZATION_CONNECTION_ENABLED = "organization.connection_enabled"
    #: Kindling's. ``{"organization": {"code"}, "connection": {"id"}}``
    ORGANIZATION_CONNECTION_DISABLED = "organization.connection_disabled"
    #: Kindling's. A user became a member: ``{"organization": {"code"}, "user": {"id"},
    #: "roles": [{id, key}], "permissions": [{id, key}]}`` (what it was given on joining).
    ORGANIZATION_USER_ADDED = "organization.user_added"
    #: Kindling's. A member's roles, permissions or API scopes changed: ``{"organization",
    #: "user", and the non-empty ones of roles_added, roles_removed, permissions_added,
    #: permissions_removed (each a list of {id, key}), api_scopes_added and
    #: api_scopes_removed (lists of {id, key, api_id})}``.
    ORGANIZATION_USER_UPDATED = "organization.user_updated"
    #: Kindling's. ``{"organization": {"code"}, "user": {"id"}}``
    ORGANIZATION_USER_REMOVED = "organization.user_removed"
    #: Kindling's. One per deleted factor: ``{"organization", "user", "factor": {id, type}}``
    ORGANIZATION_USER_MFA_FACTOR_DELETED = "organization.user_mfa_factor_deleted"
    #: Kindling's. ``{"organization": {"code"}, "invite": {code, email, first_name,
    #: last_name, roles: [keys]}}``
    ORGANIZATION_INVITE_CREATED = "organization.invite_created"
    #: Kindling's. The first revocation only: ``{"organization": {"code"}, "invite": {"code"}}``
    ORGANIZATION_INVITE_REVOKED = "organization.invite_revoked"

    # --- other resources (roles, permissions, properties, feature flags, environment,
    # applications, apis, api keys, admin): appended below, one group per resource, in
    # the order of kindling.resources.REGISTERED, each marked Kinde's or Kindling's. ---

    # --- roles (kindling.resources.roles) -------------------------------------------
    #: Kinde's. ``{"role": {id, key, name, description, is_default_role,
    #: assignment_permission_id}}``
    ROLE_CREATED = "role.created"
    #: Kinde's. ``{"role": {...the role after the change...}, "updated_fields": [...]}``
    ROLE_UPDATED = "role.updated"
    #: Kinde's. ``{"role": {"id"}}``
    ROLE_DELETED = "role.deleted"
    #: Kindling's. One per permission given: ``{"role": {"id"}, "permission": {"id"}}``
    ROLE_PERMISSION_ADDED = "role.permission_added"
    #: Kindling's. One per permission taken away: ``{"role": {"id"}, "permission": {"id"}}``
    ROLE_PERMISSION_REMOVED = "role.permission_removed"
    #: Kindling's. ``{"role": {"id"}, "scope": {id, key, api_id}}``
    ROLE_SCOPE_ADDED = "role.scope_added"
    #: Kindling's. ``{"role": {"id"}, "scope": {id, key, api_id}}``
    ROLE_SCOPE_REMOVED = "role.scope_removed"
    #: Kindling's. One per system permission given: ``{"role": {"id"},
    #: "system_permission": {id, key}}``
    ROLE_SYSTEM_PERMISSION_ADDED = "role.system_permission_added"
    #: Kindling's. One per system permission taken away (same data).
    ROLE_SYSTEM_PERMISSION_REMOVED = "role.system_permission_removed"

    # --- permissions (kindling.resources.permissions) -------------------------------
    #: Kinde's. ``{"permission": {id, key, name, description}}``
    PERMISSION_CREATED = "permission.created"
    #: Kinde's. ``{"permission": {...after the change...}, "updated_fields": [...]}``
    PERMISSION_UPDATED = "permission.updated"
    #: Kinde's. ``{"permission": {"id"}}``; the role links it takes with it record nothing.
    PERMISSION_DELETED = "permission.deleted"

    # --- properties (kindling.resources.properties) ---------------------------------
    #: Kindling's. ``{"property_category": {id, name, context}}``
    PROPERTY_CATEGORY_CREATED = "property_category.created"
    #: Kindling's. ``{"property_category": {id, name, context}, "updated_fields": ["name"]}``
    PROPERTY_CATEGORY_UPDATED = "property_category.updated"
    #: Kindling's. ``{"property": {id, key, name, type, context, is_private, category_id,
    #: description}}``
    PROPERTY_CREATED = "property.created"
    #: Kindling's. ``{"property": {...after the change...}, "updated_fields": [...]}``
    PROPERTY_UPDATED = "property.updated"
    #: Kindling's. ``{"property": {id, key}}``; the values it takes with it record nothing.
    PROPERTY_DELETED = "property.deleted"
    #: Kindling's. One per value set or changed: ``{"property": {id, key}, "value": ...}``
    #: plus the subject, as Kinde names it: ``"user": {"id"}``, ``"organization":
    #: {"code"}`` or ``"application": {"id"}``.
    PROPERTY_VALUE_UPDATED = "property_value.updated"
    #: Kindling's. One per value removed: ``{"property": {id, key}}`` plus the subject.
    PROPERTY_VALUE_DELETED = "property_value.deleted"

    # --- feature flags (kindling.resources.feature_flags) ---------------------------
    #: Kindling's. ``{"feature_flag": {id, key, name, type, default_value,
    #: allow_override_level, description}}``
    FEATURE_FLAG_CREATED = "feature_flag.created"
    #: Kindling's. ``{"feature_flag": {...after the change...}, "updated_fields": [...]}``;
    #: the overrides a retype or lower level removes record nothing further.
    FEATURE_FLAG_UPDATED = "feature_flag.updated"
    #: Kindling's. ``{"feature_flag": {id, key}}``
    FEATURE_FLAG_DELETED = "feature_flag.deleted"
    #: Kindling's. One per override set or changed: ``{"feature_flag": {id, key},
    #: "level": "env"|"org"|"usr", "value"}`` plus ``"organization": {"code"}`` (org) or
    #: ``"user": {"id"}`` (usr).
    FEATURE_FLAG_OVERRIDE_UPDATED = "feature_flag.override_updated"
    #: Kindling's. One per override removed (same data without ``value``).
    FEATURE_FLAG_OVERRIDE_DELETED = "feature_flag.override_deleted"

    # --- environment (kindling.resources.environment) -------------------------------
    #: Kindling's. ``{"environment": {"passkey_policy"}, "updated_fields": [...]}``
    ENVIRONMENT_UPDATED = "environment.updated"
    #: Kindling's. ``{"logo": {type, content_type}}`` (never the image bytes)
    ENVIRONMENT_LOGO_UPDATED = "environment.logo_updated"
    #: Kindling's. ``{"logo": {"type"}}``
    ENVIRONMENT_LOGO_DELETED = "environment.logo_deleted"

    # --- applications (kindling.resources.applications) -----------------------------
    #: Kindling's. ``{"application": {id, name, type, org_code}}``: never the secret.
    APPLICATION_CREATED = "application.created"
    #: Kindling's. ``{"application": {id, name, type, org_code}, "updated_fields": [...]}``
    #: for settings, token lifetimes, ``redirect_uris`` and ``logout_uris``.
    APPLICATION_UPDATED = "application.updated"
    #: Kindling's. ``{"application": {"id"}}``
    APPLICATION_DELETED = "application.deleted"
    #: Kindling's. ``{"application": {"id"}, "secret": {"id"}, "previous_secrets_expire_at"}``
    #: (a Unix time): never the secret itself.
    APPLICATION_SECRET_ROTATED = "application.secret_rotated"
    #: Kindling's. ``{"application": {"id"}, "role": {"id"}}``
    APPLICATION_ACCESS_ROLE_ADDED = "application.access_role_added"
    #: Kindling's. ``{"application": {"id"}, "role": {"id"}}``
    APPLICATION_ACCESS_ROLE_REMOVED = "application.access_role_removed"
    #: Kindling's. ``{"application": {"id"}, "connection": {"id"}}``
    APPLICATION_CONNECTION_ENABLED = "application.connection_enabled"
    #: Kindling's. ``{"application": {"id"}, "connection": {"id"}}``
    APPLICATION_CONNECTION_DISABLED = "application.connection_disabled"

    # --- apis (kindling.resources.apis) ---------------------------------------------
    #: Kindling's. ``{"api": {id, name, audience, is_management_api}}``; the built-in
    #: Management API's fixed scope catalogue is not repeated as scope events.
    API_CREATED = "api.created"
    #: Kindling's. ``{"api": {...after the change...}, "updated_fields": ["audience"]}``
    API_UPDATED = "api.updated"
    #: Kindling's. ``{"api": {"id"}}``
    API_DELETED = "api.deleted"
    #: Kindling's. ``{"api": {"id"}, "scope": {id, key, description}}``
    API_SCOPE_CREATED = "api.scope_created"
    #: Kindling's. ``{"api": {"id"}, "scope": {id, key, description}, "updated_fields"}``
    API_SCOPE_UPDATED = "api.scope_updated"
    #: Kindling's. ``{"api": {"id"}, "scope": {id, key}}``
    API_SCOPE_DELETED = "api.scope_deleted"
    #: Kindling's. One per application newly authorized: ``{"api": {id, audience},
    #: "application": {"id"}, "scopes": [keys granted with the authorization]}``
    API_APPLICATION_AUTHORIZED = "api.application_authorized"
    #: Kindling's. ``{"api": {id, audience}, "application": {"id"}}``
    API_APPLICATION_DEAUTHORIZED = "api.application_deauthorized"
    #: Kindling's. One per scope newly granted to an authorized application:
    #: ``{"api": {"id"}, "application": {"id"}, "scope": {id, key}}``
    API_APPLICATION_SCOPE_GRANTED = "api.application_scope_granted"
    #: Kindling's. One per granted scope revoked (same data).
    API_APPLICATION_SCOPE_REVOKED = "api.application_scope_revoked"

    # --- api keys (kindling.resources.api_keys) -------------------------------------
    #: Kindling's. ``{"api_key": {id, name, type, status, user_id, org_code, created_by,
    #: api_id, scope_ids}}``: never the key, its hash, prefix or suffix.
    API_KEY_CREATED = "api_key.created"
    #: Kindling's. ``{"api_key": {"id"}}``
    API_KEY_ROTATED = "api_key.rotated"
    #: Kindling's. ``{"api_key": {"id"}}``
    API_KEY_REVOKED = "api_key.revoked"

    # --- admin console (kindling.resources.admin) -----------------------------------
    #: Kindling's. The owner account's password was set: ``{"admin_account": {id,
    #: username}, "account_created": bool}``: never the password or its hash.
    ADMIN_ACCOUNT_PASSWORD_CHANGED = "admin_account.password_changed"
