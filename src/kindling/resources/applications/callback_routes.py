"""Callbacks: an application's redirect (callback) URLs and logout URLs."""

from typing import Any

from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError
from kindling.platform.operations import Call, Router
from kindling.platform.params import Query
from kindling.platform.render import success
from kindling.resources.applications import service

router = Router("Callbacks")
#: ``DELETE`` names the URLs to remove in the query, comma-separated.
URLS = Query.string("urls", required=True)


def _body_urls(call: Call) -> list[str]:
    return service.validate_urls(call.json().get("urls"))


def _query_urls(call: Call) -> list[str]:
    raw = call.param(URLS)
    urls = [u.strip() for u in raw.split(",") if u.strip()]
    if not urls:
        raise ValidationError("urls is required", Code.URLS_REQUIRED)
    return service.validate_urls(urls)


def _register(kind: str, path: str, scope_suffix: str, ids: dict[str, str], key: str) -> None:
    """Declare the four operations of one URL list (Kinde names them differently per kind)."""

    def read(call: Call) -> dict[str, Any]:
        urls = service.get_urls(call.ctx.storage, call.path["app_id"], kind)
        if kind == "logout":
            return {"code": "OK", "message": "Success", key: urls}
        return {key: urls}

    def add(call: Call) -> dict[str, Any]:
        service.change_urls(call.ctx.storage, call.path["app_id"], kind, _body_urls(call), "add")
        return success("URLs added", "URLS_ADDED")

    def replace(call: Call) -> dict[str, Any]:
        service.change_urls(
            call.ctx.storage, call.path["app_id"], kind, _body_urls(call), "replace"
        )
        return success("URLs replaced", "URLS_REPLACED")

    def delete(call: Call) -> dict[str, Any]:
        service.change_urls(
            call.ctx.storage, call.path["app_id"], kind, _query_urls(call), "remove"
        )
        return success("URLs deleted", "URLS_DELETED")

    route = f"/applications/{{app_id}}/{path}"
    router.operation("GET", route, scope=f"read:{scope_suffix}", operation_id=ids["get"])(read)
    router.operation(
        "POST", route, scope=f"create:{scope_suffix}", operation_id=ids["add"], body=True
    )(add)
    router.operation(
        "PUT", route, scope=f"update:{scope_suffix}", operation_id=ids["replace"], body=True
    )(replace)
    router.operation(
        "DELETE",
        route,
        scope=f"delete:{scope_suffix}",
        operation_id=ids["delete"],
        query=(URLS,),
    )(delete)


_register(
    "redirect",
    "auth_redirect_urls",
    "applications_redirect_uris",
    {
        "get": "getCallbackURLs",
        "add": "addRedirectCallbackURLs",
        "replace": "replaceRedirectCallbackURLs",
        "delete": "deleteCallbackURLs",
    },
    "redirect_urls",
)
_register(
    "logout",
    "auth_logout_urls",
    "application_logout_uris",
    {
        "get": "getLogoutURLs",
        "add": "addLogoutRedirectURLs",
        "replace": "replaceLogoutRedirectURLs",
        "delete": "deleteLogoutURLs",
    },
    "logout_urls",
)
