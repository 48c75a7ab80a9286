"""Kindling's Python client of Kinde's Management API.

::

    from kindling.sdk import ManagementClient

    with ManagementClient("localhost:8000", "<client id>", "<client secret>") as client:
        for user in client.users.iterate(page_size=500):
            print(user["id"])

It works against Kindling and, the API being the same, against Kinde. It depends on
httpx alone and imports nothing else from ``kindling`` (an import-linter contract and
``tests/test_sdk_contract.py`` check that), so it can ship as a distribution of its own.
The typed surface (``client.<resource>.<operation>``, the ``TypedDict`` models in
``kindling.sdk.models``) is generated from the contract by ``scripts/gen_sdk.py``.
"""

from kindling.sdk._auth import (
    CachedToken,
    FileTokenCache,
    MemoryTokenCache,
    RedisTokenCache,
    TokenCache,
)
from kindling.sdk._base import FileContent
from kindling.sdk._client import AsyncManagementClient, ManagementClient
from kindling.sdk._config import base_url
from kindling.sdk._errors import (
    BadRequest,
    ConfigurationError,
    Conflict,
    Forbidden,
    KindeAPIError,
    KindeError,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from kindling.sdk._retry import RetryPolicy
from kindling.sdk._version import __version__

__all__ = [
    "AsyncManagementClient",
    "BadRequest",
    "CachedToken",
    "ConfigurationError",
    "Conflict",
    "FileContent",
    "FileTokenCache",
    "Forbidden",
    "KindeAPIError",
    "KindeError",
    "ManagementClient",
    "MemoryTokenCache",
    "NotFound",
    "RateLimited",
    "RedisTokenCache",
    "RetryPolicy",
    "ServerError",
    "TokenCache",
    "TransportError",
    "Unauthorized",
    "__version__",
    "base_url",
]
