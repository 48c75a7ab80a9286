"""The Management API's resources, one package each; this tuple registers them.

Adding a resource is one line here: its package name. The package's ``resource()``
says what it brings (routers, repositories); the composition root
(``kindling.context``) builds the registry from this tuple. Nothing is imported
here, so a resource's model can be imported from anywhere without cycles.
See ``docs/architecture.md``.
"""

REGISTERED = (
    "users",
    "organizations",
    "roles",
    "permissions",
    "properties",
    "feature_flags",
    "environment",
    "applications",
    "apis",
    "api_keys",
    "admin",
    "timezones",
    "industries",
    "environment_variables",
    "directories",
    "billing",
    "subscribers",
    "business",
    "mfa",
    "connected_apps",
    "connections",
    "webhooks",
    "signing_keys",
    "audit",
)
