"""The environment: ``GET /environment``, its logos, and the passkey policy."""

from typing import Any
from urllib.parse import quote

from kindling.platform.multipart import multipart_fields
from kindling.platform.operations import Call, Router
from kindling.platform.render import success
from kindling.resources.environment import service

router = Router("Environments")


@router.operation("GET", "/environment", scope="read:environments", operation_id="getEnvironment")
def get_environment(call: Call) -> dict[str, Any]:
    env = service.get_environment(call.ctx.storage)
    by_type = {logo[0]: logo for logo in env.logos}
    environment: dict[str, Any] = {
        "code": "production",
        "name": str(env.settings.get("name", "Production")),
        "is_default": True,
        "is_live": True,
        "kinde_domain": service.kinde_domain(env.issuer),
        "custom_domain": None,
        "theme_code": "user_preference",
        "color_scheme": "light dark",
        "created_on": env.created_on,
    }
    for type_, field in (("light", "logo"), ("dark", "logo_dark")):
        if type_ in by_type:
            cache = quote(by_type[type_][2])
            environment[field] = f"{env.issuer}/{field}?cache={cache}"
    return success("Success", "OK", environment=environment)


@router.operation("GET", "/environment/logos", scope="read:environments", operation_id="ReadLogo")
def read_logo(call: Call) -> dict[str, Any]:
    env = service.get_environment(call.ctx.storage)
    extension = {
        "image/png": "png",
        "image/jpeg": "jpg",
        "image/gif": "gif",
        "image/webp": "webp",
        "image/svg+xml": "svg",
    }
    logos = [
        {"type": type_, "file_name": f"kinde_{type_}.{extension.get(content_type, 'img')}"}
        for type_, content_type, _ in env.logos
    ]
    return success("Success", "OK", logos=logos)


@router.operation(
    "PUT",
    "/environment/logos/{type}",
    scope="update:environments",
    operation_id="AddLogo",
    body=True,
)
def add_logo(call: Call) -> dict[str, Any]:
    fields = multipart_fields(call.headers.get("content-type"), call.raw_body)
    service.set_logo(call.ctx.storage, call.ctx.clock, call.path["type"], fields.get("logo", b""))
    return success("Logo successfully updated", "LOGO_UPDATED")


@router.operation(
    "DELETE",
    "/environment/logos/{type}",
    scope="update:environments",
    operation_id="DeleteLogo",
)
def delete_logo(call: Call) -> dict[str, Any]:
    if service.delete_logo(call.ctx.storage, call.path["type"]):
        return success("Logo successfully deleted", "LOGO_DELETED")
    return success("No logo found to delete", "NO_LOGO_FOUND")


@router.operation("GET", "/passkey", scope="read:passkey", operation_id="GetPasskey")
def get_passkey(call: Call) -> dict[str, Any]:
    policy = service.passkey_policy(call.ctx.storage)
    return success("Success", "OK", enabled=policy != "off", policy=policy)


@router.operation(
    "PUT", "/passkey", scope="update:passkey", operation_id="UpdatePasskey", body=True
)
def update_passkey(call: Call) -> dict[str, Any]:
    policy = service.set_passkey_policy(call.ctx.storage, call.json().get("policy"))
    return success(
        "Passkey settings updated", "PASSKEY_UPDATED", enabled=policy != "off", policy=policy
    )
