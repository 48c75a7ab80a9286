"""The official Python SDK drives all five environment-variable operations over TLS.

The SDK deserializes only the spec's exact 2xx (201 for the create) into typed models
and raises on a wrong JSON type, so each call is checked for a typed, non-None result.
A secret comes back with ``value`` None from every read, and its value appears in no
answer the SDK received and in no server log line.
"""

from __future__ import annotations

import uuid

import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import BadRequestException
from kinde_sdk.management.models import (
    CreateEnvironmentVariableRequest,
    CreateEnvironmentVariableResponse,
    DeleteEnvironmentVariableResponse,
    EnvironmentVariable,
    GetEnvironmentVariableResponse,
    GetEnvironmentVariablesResponse,
    UpdateEnvironmentVariableRequest,
    UpdateEnvironmentVariableResponse,
)

from tests.support import KindlingServer


def uid() -> str:
    return uuid.uuid4().hex[:10].upper()


def create(client: ManagementClient, key: str, value: str, secret: bool | None) -> str:
    created = client.environment_variables_api.create_environment_variable(
        CreateEnvironmentVariableRequest(key=key, value=value, is_secret=secret)
    )
    assert isinstance(created, CreateEnvironmentVariableResponse)
    assert created.code == "VARIABLE_CREATED" and created.message
    assert created.environment_variable is not None and created.environment_variable.id
    return str(created.environment_variable.id)


def test_environment_variables_api_every_operation(
    client: ManagementClient, tls_server: KindlingServer
) -> None:
    api = client.environment_variables_api
    key = f"SDK_LANG_{uid()}"
    variable_id = create(client, key, "en-AU", None)

    got = api.get_environment_variable(variable_id)
    assert isinstance(got, GetEnvironmentVariableResponse) and got.code == "OK"
    variable = got.environment_variable
    assert isinstance(variable, EnvironmentVariable)
    assert (variable.id, variable.key, variable.value, variable.is_secret) == (
        variable_id,
        key,
        "en-AU",
        False,
    )
    assert variable.created_on

    listing = api.get_environment_variables()
    assert isinstance(listing, GetEnvironmentVariablesResponse) and listing.has_more is False
    assert all(isinstance(v, EnvironmentVariable) for v in listing.environment_variables or [])
    assert any(v.id == variable_id for v in listing.environment_variables or [])

    updated = api.update_environment_variable(
        variable_id, UpdateEnvironmentVariableRequest(key=key + "_V2", value="fr-FR")
    )
    assert isinstance(updated, UpdateEnvironmentVariableResponse)
    assert updated.code == "ENVIRONMENT_VARIABLE_UPDATED"
    again = api.get_environment_variable(variable_id).environment_variable
    assert again is not None and (again.key, again.value) == (key + "_V2", "fr-FR")

    deleted = api.delete_environment_variable(variable_id)
    assert isinstance(deleted, DeleteEnvironmentVariableResponse)
    assert deleted.code == "ENVIRONMENT_VARIABLE_DELETED"
    with pytest.raises(BadRequestException) as caught:
        api.get_environment_variable(variable_id)
    assert "ENVIRONMENT_VARIABLE_NOT_FOUND" in str(caught.value.body)
    assert not any(
        v.id == variable_id for v in api.get_environment_variables().environment_variables or []
    )


def test_a_secret_never_comes_back_through_the_sdk(
    client: ManagementClient, tls_server: KindlingServer
) -> None:
    api = client.environment_variables_api
    secret = f"whsec_{uuid.uuid4().hex}"
    variable_id = create(client, f"SDK_SECRET_{uid()}", secret, True)

    got = api.get_environment_variable_with_http_info(variable_id)
    assert got.status_code == 200 and secret.encode() not in (got.raw_data or b"")
    shown = got.data.environment_variable
    assert shown is not None and shown.is_secret is True and shown.value is None

    listing = api.get_environment_variables_with_http_info()
    assert secret.encode() not in (listing.raw_data or b"")
    mine = [v for v in listing.data.environment_variables or [] if v.id == variable_id]
    assert len(mine) == 1 and mine[0].value is None and mine[0].is_secret is True

    # Replacing the value keeps it a secret; making it readable needs a new value.
    api.update_environment_variable(
        variable_id, UpdateEnvironmentVariableRequest(value=secret + "-rotated")
    )
    with pytest.raises(BadRequestException) as caught:
        api.update_environment_variable(
            variable_id, UpdateEnvironmentVariableRequest(is_secret=False)
        )
    assert "VALUE_REQUIRED" in str(caught.value.body) and secret not in str(caught.value.body)
    still = api.get_environment_variable(variable_id).environment_variable
    assert still is not None and still.is_secret is True and still.value is None
    assert secret not in tls_server.output

    api.delete_environment_variable(variable_id)


def test_sdk_validation_errors(client: ManagementClient) -> None:
    api = client.environment_variables_api
    with pytest.raises(BadRequestException) as caught:
        api.create_environment_variable(
            CreateEnvironmentVariableRequest(key="not a key", value="v")
        )
    assert "INVALID_KEY" in str(caught.value.body)
    key = f"SDK_DUP_{uid()}"
    create(client, key, "one", False)
    with pytest.raises(BadRequestException) as caught:
        create(client, key, "two", True)
    assert "ENVIRONMENT_VARIABLE_KEY_EXISTS" in str(caught.value.body)
