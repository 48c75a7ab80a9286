"""Users: ``GET /users``, and ``GET``/``POST``/``PATCH``/``DELETE /user`` (id in the query)."""

from typing import Any

from kindling.platform.codes import Code, derived
from kindling.platform.errors import ValidationError
from kindling.platform.operations import Call, Param, Router
from kindling.platform.pagination import parse_page_size
from kindling.platform.render import compact, paged, success
from kindling.resources.users import service
from kindling.resources.users.model import User

router = Router("Users")
_NULLABLE = ("created_on", "failed_sign_ins", "last_signed_in", "total_sign_ins")
EXPANSIONS = frozenset({"organizations", "identities", "billing"})


def _expand(call: Call) -> set[str]:
    raw = call.query.get("expand") or ""
    wanted = {p.strip() for p in raw.split(",") if p.strip()}
    unknown = wanted - EXPANSIONS
    if unknown:
        raise ValidationError(
            f"expand accepts {', '.join(sorted(EXPANSIONS))}", Code.INVALID_EXPAND
        )
    return wanted


def _common(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "provided_id": user.provided_id,
        "phone": user.phone,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_suspended": user.is_suspended,
        "picture": user.picture,
        "total_sign_ins": user.total_sign_ins,
        "failed_sign_ins": user.failed_sign_ins,
        "last_signed_in": user.last_signed_in,
        "created_on": user.created_on,
    }


def _bool_param(call: Call, name: str) -> bool | None:
    raw = call.query.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ValidationError(f"{name} must be true or false", derived(f"INVALID_{name.upper()}"))


def list_item(
    user: User, expand: set[str], organizations: list[str] | None = None
) -> dict[str, Any]:
    item = _common(user)
    item["email"] = user.email
    if "organizations" in expand:
        item["organizations"] = list(organizations or [])
    if "identities" in expand:
        item["identities"] = [{"type": i.type, "identity": i.value} for i in user.identities]
    return compact(item, _NULLABLE)


def detail(user: User, expand: set[str], organizations: list[str] | None = None) -> dict[str, Any]:
    item = _common(user)
    item["preferred_email"] = user.email
    if "organizations" in expand:
        item["organizations"] = list(organizations or [])
    if "identities" in expand:
        item["identities"] = [{"type": i.type, "identity": i.value} for i in user.identities]
    return compact(item, _NULLABLE)


@router.operation(
    "GET",
    "/users",
    scope="read:users",
    operation_id="getUsers",
    query=(
        Param("page_size", "integer"),
        Param("user_id"),
        Param("next_token"),
        Param("email"),
        Param("username"),
        Param("phone"),
        Param("expand"),
        Param("has_organization", "boolean"),
        Param("active_since"),
    ),
)
def get_users(call: Call) -> dict[str, Any]:
    expand = _expand(call)
    size = parse_page_size(call.query.get("page_size"))
    q = call.query
    has_organization = _bool_param(call, "has_organization")
    listing = "users|" + "|".join(q.get(k, "") for k in ("user_id", "email", "username", "phone"))
    if has_organization is not None:
        listing += f"|org={has_organization}"
    after = call.ctx.cursors.decode(listing, q.get("next_token"))
    result = service.list_users_page(
        call.ctx.storage,
        after,
        size,
        q.get("user_id"),
        q.get("email"),
        q.get("username"),
        q.get("phone"),
        has_organization=has_organization,
        with_identities="identities" in expand,
        with_organizations="organizations" in expand,
    )
    cursor = result.cursor
    token = None if cursor is None else call.ctx.cursors.encode(listing, cursor)
    items = [list_item(u, expand, result.organizations.get(u.id)) for u in result.users]
    return paged("users", items, token)


@router.operation(
    "GET",
    "/user",
    scope="read:users",
    operation_id="getUserData",
    query=(Param("id", required=True), Param("expand")),
)
def get_user_data(call: Call) -> dict[str, Any]:
    expand = _expand(call)
    user, organizations = service.get_user_with_organizations(
        call.ctx.storage, call.query.get("id")
    )
    return detail(user, expand, organizations)


@router.operation("POST", "/user", scope="create:users", operation_id="createUser", body=True)
def create_user(call: Call) -> dict[str, Any]:
    user = service.create_user(call.ctx.storage, call.ctx.clock, call.json(required=False))
    return {
        "id": user.id,
        "created": True,
        "identities": [{"type": i.type, "result": {"created": True}} for i in user.identities],
    }


@router.operation(
    "PATCH",
    "/user",
    scope="update:users",
    operation_id="updateUser",
    query=(Param("id", required=True),),
    body=True,
)
def update_user(call: Call) -> dict[str, Any]:
    user = service.update_user(call.ctx.storage, call.query.get("id"), call.json())
    return compact(
        {
            "id": user.id,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "email": user.email,
            "is_suspended": user.is_suspended,
            "is_password_reset_requested": user.is_password_reset_requested,
            "picture": user.picture,
        },
        ("picture",),
    )


@router.operation(
    "DELETE",
    "/user",
    scope="delete:users",
    operation_id="deleteUser",
    query=(Param("id", required=True), Param("is_delete_profile", "boolean")),
)
def delete_user(call: Call) -> dict[str, Any]:
    service.delete_user(call.ctx.storage, call.query.get("id"))
    return success("User successfully deleted", "USER_DELETED")
