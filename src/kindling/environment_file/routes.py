"""The environment file over HTTP, for ``kindling apply|export --remote URL``.

Two Kindling operations (not Kinde's: under ``/kindling/v1``, beside the other
extensions), run by the same code as the local commands:

* ``GET /kindling/v1/environment``: the export, as JSON (the file's mapping). The token
  needs every read scope in ``READ_SCOPES``.
* ``POST /kindling/v1/environment[?dry_run=true][&prune=true]``: apply the JSON document
  in the body; answers the plan ``{"applied": bool, "changes": [{action, kind, key,
  fields}]}``. The token needs every write scope of each section the document has
  (``SECTION_SCOPES``), so a token that could not make a change through the Management
  API cannot make it through the file either. The calling application is never pruned.

An invalid document is a 400 ``INVALID_ENVIRONMENT_FILE`` whose message lists every
problem, one per line, as ``path: message``; a change the server refuses keeps the
service's code and status, its message ``path: message`` (the CLI turns paths back into
line numbers of the local file).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kindling.oauth.bearer import require_scope
from kindling.platform.operations import Call, Operation, Router
from kindling.platform.params import Query

# The operations are mounted at start-up; what they run (PyYAML, the schema, the
# reconciler, the export) is imported by the first request that needs it.
if TYPE_CHECKING:
    from .model import Document

PATH = "/environment"
DRY_RUN = Query.boolean("dry_run", default=False)
PRUNE = Query.boolean("prune", default=False)

#: What ``GET /kindling/v1/environment`` reads.
READ_SCOPES = (
    "read:apis",
    "read:applications",
    "read:users",
    "read:organizations",
    "read:organization_users",
    "read:roles",
    "read:permissions",
    "read:environment_feature_flags",
    "read:properties",
    "read:webhooks",
)
#: The write scopes each section of a document needs (its creates, updates, deletes).
SECTION_SCOPES: dict[str, tuple[str, ...]] = {
    "apis": (
        "create:apis",
        "delete:apis",
        "create:api_scopes",
        "update:api_scopes",
        "delete:apis_scopes",
    ),
    "permissions": ("create:permissions", "update:permissions", "delete:permissions"),
    "roles": ("create:roles", "update:roles", "delete:roles", "update:role_permissions"),
    "feature_flags": (
        "create:feature_flags",
        "update:feature_flags",
        "delete:feature_flags",
        "update:environment_feature_flags",
        "delete:environment_feature_flags",
    ),
    "properties": (
        "create:properties",
        "update:properties",
        "delete:properties",
        "create:property_categories",
    ),
    "users": (
        "create:users",
        "update:users",
        "delete:users",
        "create:user_identities",
        "update:identities",
        "delete:identities",
        "update:user_properties",
    ),
    "organizations": (
        "create:organizations",
        "update:organizations",
        "delete:organizations",
        "create:organization_users",
        "delete:organization_users",
        "delete:organization_user_roles",
        "delete:organization_user_permissions",
        "update:organization_feature_flags",
        "delete:organization_feature_flags",
        "update:organization_properties",
    ),
    "applications": (
        "create:applications",
        "update:applications",
        "delete:applications",
        "update:application_tokens",
        "update:apis",
        "update:application_properties",
    ),
    "webhooks": ("create:webhooks", "update:webhooks", "delete:webhooks"),
}


def required_scopes(document: Document) -> list[str]:
    """The write scopes applying ``document`` needs, in section order."""
    needed: list[str] = []
    for section, scopes in SECTION_SCOPES.items():
        if section in document.present:
            needed.extend(s for s in scopes if s not in needed)
    return needed


router = Router("Environment file")


@router.operation("GET", PATH, scope=None, operation_id="exportEnvironment")
def export_environment(call: Call) -> dict[str, Any]:
    """The environment as an environment file (JSON), as ``kindling export`` writes it."""
    from .export import export_data

    for scope in READ_SCOPES:
        require_scope(call.principal, scope)
    return export_data(call.ctx)


@router.operation(
    "POST",
    PATH,
    scope=None,
    operation_id="applyEnvironment",
    query=(DRY_RUN, PRUNE),
    body=True,
)
def apply_environment(call: Call) -> dict[str, Any]:
    """Apply an environment file (JSON body) in one transaction; answer the plan."""
    from .reconcile import apply_document
    from .schema import validate
    from .source import Source

    source = Source.from_value(call.json())
    document = validate(source)
    for scope in required_scopes(document):
        require_scope(call.principal, scope)
    plan = apply_document(
        call.ctx,
        document,
        source,
        prune=call.param(PRUNE),
        dry_run=call.param(DRY_RUN),
        keep_client_id=call.principal.client_id,
    )
    return plan.as_json()


def operations() -> list[Operation]:
    """The operations the web layer mounts at ``/kindling/v1``."""
    return list(router.operations)
