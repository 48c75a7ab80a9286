"""A custom-claims hook for ``tests/test_pipeline.py``: it fails for one application only.

Loaded by test servers through ``KINDLING_TOKEN_CLAIMS_HOOK``, so a token request
for the application named ``DOOMED`` logs an error inside the token endpoint (in a
worker thread on PostgreSQL) while every other application still gets tokens.
"""

from collections.abc import Mapping
from typing import Any

from kindling.oauth.ports import ClaimsContext

DOOMED = "pipeline doomed application"


def fail_for_doomed(context: ClaimsContext) -> Mapping[str, Any]:
    if context.application.name == DOOMED:
        raise RuntimeError("the claims backend refused the doomed application")
    return {}
