"""Users: ``GET /users``, and ``GET``/``POST``/``PATCH``/``DELETE /user`` (id in the query)."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.pagination import keyset_page
from kindling.platform.params import NEXT_TOKEN, PAGE_SIZE, Query
from kindling.platform.render import compact, paged, success
from kindling.resources.users import service
from kindling.resources.users.model import User, UserSummary

router = Router("Users")
_NULLABLE = ("created_on", "failed_sign_ins", "last_signed_in", "total_sign_ins")
#: ``billing`` is accepted and shows nothing: Kindling has no billing.
EXPAND = Query.expand({"organizations", "identities", "billing"})
ID = Query.string("id", required=True)
USER_ID = Query.string("user_id")
EMAIL = Query.string("email")
USERNAME = Query.string("username")
PHONE = Query.string("phone")
HAS_ORGANIZATION = Query.boolean("has_organization")
ACTIVE_SINCE = Query.string("active_since")
IS_DELETE_PROFILE = Query.boolean("is_delete_profile")


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


def detail(
    user: User, expand: frozenset[str], organizations: list[str] | None = None
) -> dict[str, Any]:
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
        PAGE_SIZE,
        USER_ID,
        NEXT_TOKEN,
        EMAIL,
        USERNAME,
        PHONE,
        EXPAND,
        HAS_ORGANIZATION,
        ACTIVE_SINCE,
    ),
    inline=lambda query: "has_organization" not in query,
)
def get_users(call: Call) -> dict[str, Any]:
    """A keyset page: the same cost on page 10,000 as on page 1, a bounded read (``inline``)
    except with ``has_organization``, which may scan many users to fill a page."""
    storage, expand = call.ctx.storage, call.param(EXPAND)
    user_id, email = call.param(USER_ID), call.param(EMAIL)
    username, phone = call.param(USERNAME), call.param(PHONE)
    has_organization = call.param(HAS_ORGANIZATION)
    # The cursor is bound to the filters it was issued for.
    listing = "users|" + "|".join(v or "" for v in (user_id, email, username, phone))
    if has_organization is not None:
        listing += f"|org={has_organization}"

    def by_sequence(after: int | None, size: int) -> tuple[list[UserSummary], int | None]:
        return service.user_summaries_page(
            storage,
            after,
            size,
            user_id,
            email,
            username,
            phone,
            has_organization=has_organization,
            with_identities="identities" in expand,
            with_organizations="organizations" in expand,
        )

    users, token = keyset_page(
        call.ctx.cursors,
        listing,
        call.param(PAGE_SIZE),
        call.param(NEXT_TOKEN),
        by_sequence=by_sequence,
    )
    # Each UserSummary encodes as Kinde's item (see its docstring): no dict per user.
    return paged("users", users, token)


@router.operation(
    "GET",
    "/user",
    scope="read:users",
    operation_id="getUserData",
    query=(ID, EXPAND),
    inline=lambda query: True,
)
def get_user_data(call: Call) -> dict[str, Any]:
    user, organizations = service.get_user_with_organizations(call.ctx.storage, call.param(ID))
    return detail(user, call.param(EXPAND), organizations)


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
    query=(ID,),
    body=True,
)
def update_user(call: Call) -> dict[str, Any]:
    user = service.update_user(call.ctx.storage, call.param(ID), call.json())
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
    query=(ID, IS_DELETE_PROFILE),
)
def delete_user(call: Call) -> dict[str, Any]:
    # ``is_delete_profile`` is checked but changes nothing: a deleted user is gone whole.
    service.delete_user(call.ctx.storage, call.param(ID))
    return success("User successfully deleted", "USER_DELETED")
