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

    # --- environment variables (kindling.resources.environment_variables) -----------
    #: Kindling's. ``{"environment_variable": {id, key, is_secret}}``: never the value,
    #: secret or not.
    ENVIRONMENT_VARIABLE_CREATED = "environment_variable.created"
    #: Kindling's. ``{"environment_variable": {id, key, is_secret}, "updated_fields":
    #: [...]}`` (``key``, ``value``, ``is_secret``): names the value, never holds it.
    ENVIRONMENT_VARIABLE_UPDATED = "environment_variable.updated"
    #: Kindling's. ``{"environment_variable": {id, key}}``
    ENVIRONMENT_VARIABLE_DELETED = "environment_variable.deleted"

    # --- SCIM directories (kindling.resources.directories) --------------------------
    #: Kindling's. ``{"directory": {id, directory_name, provider_code, status,
    #: organization_code, enterprise_connection_id, directory_endpoint_id}}``: never the
    #: bearer token or its hash.
    DIRECTORY_CREATED = "directory.created"
    #: Kindling's. ``{"directory": {...after the change...}, "updated_fields": [...]}``
    DIRECTORY_UPDATED = "directory.updated"
    #: Kindling's. ``{"directory": {id, organization_code}}``; a directory its
    #: organization's deletion takes with it records nothing.
    DIRECTORY_DELETED = "directory.deleted"

    # --- webhooks (kindling.resources.webhooks) -------------------------------------
    # Delivering an event, and re-sending one (``POST /kindling/v1/events/{id}/resend``),
    # records nothing: deliveries are bookkeeping, not domain changes, so no delivery can
    # cause another one, even to a webhook subscribed to ``webhook.*``. Event data never
    # holds the endpoint (its query string may carry the receiver's secret).
    #: Kindling's. ``{"webhook": {id, name, event_types}}``
    WEBHOOK_CREATED = "webhook.created"
    #: Kindling's. ``{"webhook": {id, name, event_types}, "updated_fields": [...]}``
    WEBHOOK_UPDATED = "webhook.updated"
    #: Kindling's. ``{"webhook": {"id"}}``; its deliveries go with it and record nothing.
    WEBHOOK_DELETED = "webhook.deleted"

    # --- connections (kindling.resources.connections) -------------------------------
    # ``data.connection`` is ``{id, name, display_name, strategy, organization_code}``:
    # never an option value, and never the write-only ``client_secret`` or
    # ``saml_signing_private_key``. Enabling it in applications through
    # ``enabled_applications`` records the applications' own ``application.connection_*``
    # events after it.
    #: Kindling's. ``{"connection": {...}}``
    CONNECTION_CREATED = "connection.created"
    #: Kindling's. ``{"connection": {...after the change...}, "updated_fields": [...]}``
    #: (``name``, ``display_name``, ``options``; a new secret counts as ``options``).
    CONNECTION_UPDATED = "connection.updated"
    #: Kindling's. ``{"connection": {id, name, strategy}}``; the enablements it takes
    #: with it record nothing.
    CONNECTION_DELETED = "connection.deleted"

    # --- billing (kindling.resources.billing) ---------------------------------------
    #: Kindling's. A plan was defined: ``{"billing_plan": {code, name, description,
    #: features: [feature codes]}}``
    BILLING_PLAN_CREATED = "billing_plan.created"
    #: Kindling's. ``{"billing_agreement": {id, customer_id, plan_code, expires_on: null,
    #: entitlements: [{entitlement_id, feature_code}]}, "is_invoice_now", "is_prorate"}``
    BILLING_AGREEMENT_CREATED = "billing_agreement.created"
    #: Kindling's. One per agreement a new agreement replaced, recorded before its
    #: ``billing_agreement.created``: ``{"billing_agreement": {..., "expires_on"}}``
    BILLING_AGREEMENT_CANCELLED = "billing_agreement.cancelled"
    #: Kindling's. ``{"meter_usage": {id, customer_agreement_id, customer_id,
    #: billing_feature_code, meter_type_code, meter_value, meter_usage_timestamp, total}}``
    #: (``meter_value`` and the running ``total`` as strings, as Kinde sends values).
    METER_USAGE_RECORDED = "meter_usage.recorded"

    # --- subscribers (kindling.resources.subscribers) -------------------------------
    #: Kinde's. ``{"subscriber": {id, email, first_name, last_name}}``
    SUBSCRIBER_CREATED = "subscriber.created"

    # --- business (kindling.resources.business) -------------------------------------
    #: Kindling's. ``{"business": {code, name, email, phone, industry_key, timezone_key,
    #: privacy_url, terms_url, is_click_wrap, is_show_kinde_branding, kinde_perk_code,
    #: created_on}, "updated_fields": [...]}``
    BUSINESS_UPDATED = "business.updated"

    # --- mfa (kindling.resources.mfa) -----------------------------------------------
    #: Kindling's. ``{"mfa_policy": {policy, enabled_factors, is_recovery_codes_enabled},
    #: "updated_fields": [...]}``
    MFA_POLICY_UPDATED = "mfa_policy.updated"

    # --- connected apps (kindling.resources.connected_apps) -------------------------
    # ``connected_app`` is ``{"key_code_ref"}`` and ``session`` the internal ``{"id"}`` of a
    # connection (never the ``session_id`` the caller holds); the subject is ``"user":
    # {"id"}`` or ``"organization": {"code"}``. No event carries a client secret, a
    # provider token, a PKCE verifier or a ``state``. Expired unfinished sessions that are
    # pruned, and sessions cascading with their user, organization or definition, record
    # nothing.
    #: Kindling's. A definition was added: ``{"connected_app": {key_code_ref, name,
    #: authorization_endpoint, token_endpoint, revocation_endpoint, client_id,
    #: token_endpoint_auth_method, scopes}}``
    CONNECTED_APP_PROVIDER_CREATED = "connected_app.provider_created"
    #: Kindling's. ``{"connected_app": {...after the change...}, "updated_fields": [...]}``
    #: (a new client secret is listed as ``client_secret``, never shown).
    CONNECTED_APP_PROVIDER_UPDATED = "connected_app.provider_updated"
    #: Kindling's. ``{"connected_app": {"key_code_ref"}}``
    CONNECTED_APP_PROVIDER_DELETED = "connected_app.provider_deleted"
    #: Kindling's. An authorization URL was handed out: ``{"connected_app", "session"}``
    #: and the subject.
    CONNECTED_APP_AUTHORIZATION_STARTED = "connected_app.authorization_started"
    #: Kindling's. The provider's tokens are stored: ``{"connected_app", "session",
    #: "scopes": [granted]}`` and the subject.
    CONNECTED_APP_AUTHORIZED = "connected_app.authorized"
    #: Kindling's. The user refused, or the code exchange failed: ``{"connected_app",
    #: "session", "error"}`` (the provider's OAuth error or our code) and the subject.
    CONNECTED_APP_AUTHORIZATION_FAILED = "connected_app.authorization_failed"
    #: Kindling's. The access token was renewed with the refresh token:
    #: ``{"connected_app", "session"}`` and the subject.
    CONNECTED_APP_TOKEN_REFRESHED = "connected_app.token_refreshed"
    #: Kindling's. The session's tokens were revoked and forgotten: ``{"connected_app",
    #: "session", "revoked_at_provider": bool}`` and the subject.
    CONNECTED_APP_REVOKED = "connected_app.revoked"

    # --- signing keys and tokens (kindling.platform.signing, resources.signing_keys) ---
    #: Kindling's. A new key was published to sign from a later moment (publish-before-
    #: sign): ``{"signing_key": {kid, state, activates_on, published_until},
    #: "previous_signing_key": {...} | null}`` (never key material).
    SIGNING_KEY_ROTATED = "signing_key.rotated"
    #: Kindling's. An emergency revoke took a key out of the JWKS:
    #: ``{"signing_key": {kid, state, activates_on, published_until, previous_state},
    #: "replacement_signing_key": {...} | null}`` (the key that signs instead, if it did).
    SIGNING_KEY_REVOKED = "signing_key.revoked"
    #: Kindling's. An access token was revoked (RFC 7009): ``{"token": {jti, client_id,
    #: expires_on}}`` (the token itself is never recorded).
    TOKEN_REVOKED = "token.revoked"
