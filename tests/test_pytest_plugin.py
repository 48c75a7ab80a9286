"""The pytest plugin (``kindling.testing.plugin``, entry point ``pytest11``) as users run it.

* ``examples/pytest-project`` — a user's "orders API" whose tests use the ``kindling``
  fixture and ``mint`` — passes when run the way its README says (``python -m pytest
  examples/pytest-project``), TLS marker included.
* The same suite against a deliberately lax token check (signature, ``exp``, ``aud``,
  ``iss`` and ``typ`` unchecked) fails exactly the tests whose minted tokens must be
  refused: the negative tokens really are bad, and the fixture is what catches it. That run
  also refuses any import of a test-only package from Kindling's code, so the plugin works
  with the base install plus pytest.
* In this suite, through the same fixture: a minted token has the claims of a real one,
  and Kindling's own bearer check accepts it and refuses each negative variant.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from importlib.metadata import packages_distributions, requires
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from kindling.testing import Kindling, TokenRequestError

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "pytest-project"
RUN_TIMEOUT = 180
#: Other plugins of this venv that a user's project would not have; loading them costs
#: seconds per run. The kindling plugin itself still comes from its entry point.
UNRELATED_PLUGINS = ["-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:anyio"]

#: The example's tests that a token check ignoring signature, exp, aud, iss and typ fails.
LAX_FAILURES = {
    "test_bad_tokens_are_refused[expired]",
    "test_bad_tokens_are_refused[wrong-audience]",
    "test_bad_tokens_are_refused[foreign-key]",
    "test_bad_tokens_are_refused[wrong-typ]",
    "test_bad_tokens_are_refused[unknown-kid]",
    "test_bad_tokens_are_refused[wrong-issuer]",
    "test_bad_tokens_are_refused[no-exp]",
    # A Management API token has the wrong audience and none of the orders scopes: a
    # check that ignores aud answers 403, not the 401 the test expects.
    "test_a_management_api_token_is_not_for_this_api",
}

#: A pytest plugin (loaded with ``-p``) that swaps the example's verifier for one that
#: only decodes, and makes any import of a test-only package from Kindling's code fail.
LAX_PLUGIN = '''
"""Break the orders API's token check; allow Kindling only its base install."""
import importlib.abc
import sys

import jwt

TEST_ONLY = set(%(test_only)r)


def _importer():
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__") or ""
        if not name.startswith(("importlib", "_frozen_importlib")) and name != __name__:
            return name
        frame = frame.f_back
    return ""


class BaseInstallOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in TEST_ONLY and _importer().startswith("kindling"):
            raise ImportError(f"kindling imported {name}, which the base install lacks")
        return None


sys.meta_path.insert(0, BaseInstallOnly())


def lax_verify(self, token):
    return jwt.decode(token, options={"verify_signature": False})


def pytest_sessionstart(session):
    import orders_api

    orders_api.TokenVerifier.verify = lax_verify
'''


def _distribution(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def base_install_lacks() -> set[str]:
    """Top-level modules of the ``test`` extra's packages that the base install lacks
    (pytest aside: the plugin needs it), from the installed kindling's metadata."""
    requirements = requires("kindling") or []
    base = {_distribution(r) for r in requirements if "extra ==" not in r}
    extra = {_distribution(r) for r in requirements if re.search(r"extra\s*==\s*.test.", r)}
    # The test extra names kindling itself (``kindling[postgres]``): never "test-only".
    only = extra - base - {"pytest", "kindling"}
    assert "pyjwt" in only  # the metadata was read (the example's verifier needs PyJWT)
    return {
        module
        for module, dists in packages_distributions().items()
        if any(_distribution(d) in only for d in dists)
    }


def _pytest(args: list[str], cwd: Path, extra_path: Path | None = None) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KINDLING_"))}
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *UNRELATED_PLUGINS, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def _outcomes(report: Path) -> dict[str, str]:
    """Each test case's name and outcome (passed, failed, error, skipped) from JUnit XML."""
    found: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
        found[case.attrib["name"]] = outcome
    return found


def test_the_example_project_passes(tmp_path: Path) -> None:
    report = tmp_path / "example.xml"
    result = _pytest(["examples/pytest-project", "-q", f"--junitxml={report}"], REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    outcomes = _outcomes(report)
    assert set(outcomes.values()) == {"passed"}, outcomes
    # The run really covered good tokens, every negative helper, and the TLS marker.
    assert "test_a_real_token_reads_and_writes" in outcomes
    assert "test_over_tls_with_the_local_ca" in outcomes
    assert LAX_FAILURES <= set(outcomes)
    assert "test_the_seeded_worker_may_only_read" in outcomes  # kindling_seed reached serve
    assert len(outcomes) == 15, sorted(outcomes)


def test_a_lax_token_check_fails_the_negative_tests(tmp_path: Path) -> None:
    plugin = textwrap.dedent(LAX_PLUGIN) % {"test_only": sorted(base_install_lacks())}
    (tmp_path / "lax_verifier.py").write_text(plugin, encoding="utf-8")
    report = tmp_path / "lax.xml"
    result = _pytest(
        [str(EXAMPLE), "-q", "-p", "lax_verifier", "-k", "not tls", f"--junitxml={report}"],
        tmp_path,
        extra_path=tmp_path,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    outcomes = _outcomes(report)
    failed = {name for name, outcome in outcomes.items() if outcome != "passed"}
    assert failed == LAX_FAILURES, result.stdout
    # The rest still passes: real tokens, scope checks and a missing token do not depend
    # on the verifier, and Kindling never needed a test-only package.
    assert "base install lacks" not in result.stdout
    assert {n for n, o in outcomes.items() if o == "passed"} == {
        "test_a_real_token_reads_and_writes",
        "test_a_token_with_only_some_scopes_gets_only_those",
        "test_a_minted_token_like_the_real_one_is_accepted",
        "test_a_token_without_the_scope_is_forbidden",
        "test_no_token_is_refused",
        "test_the_seeded_worker_may_only_read",
    }


def _users(kindling: Kindling, token: str) -> httpx.Response:
    return httpx.get(
        f"{kindling.base_url}/api/v1/users",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_minted_tokens_are_what_kindling_itself_accepts_and_refuses(kindling: Kindling) -> None:
    real = kindling.token()
    minted = kindling.mint()
    real_claims = jwt.decode(real, options={"verify_signature": False})
    minted_claims = jwt.decode(minted, options={"verify_signature": False})
    assert set(minted_claims) == set(real_claims)
    for name in ("aud", "azp", "gty", "iss", "scp", "scope", "v"):
        assert minted_claims[name] == real_claims[name], name
    assert jwt.get_unverified_header(minted) == jwt.get_unverified_header(real)
    # Verifiable with the published JWKS, like the real one.
    key = jwt.PyJWKClient(kindling.jwks_url).get_signing_key_from_jwt(minted)
    jwt.decode(minted, key.key, algorithms=["RS256"], audience=kindling.audience)

    assert _users(kindling, minted).status_code == 200
    for bad in (
        {"expired": True},
        {"audience": "https://elsewhere.example.com"},
        {"foreign_key": True},
        {"typ": "at+jwt"},
        {"issuer": "https://elsewhere.example.com"},
    ):
        refused = _users(kindling, kindling.mint(**bad))  # type: ignore[arg-type]
        assert refused.status_code == 401, (bad, refused.text)
    no_scope = _users(kindling, kindling.mint(scopes=["read:roles"]))
    assert no_scope.status_code == 403, no_scope.text


def test_token_asks_the_server_and_add_api_authorizes_your_api(kindling: Kindling) -> None:
    scoped = jwt.decode(kindling.token(scopes=["read:users"]), options={"verify_signature": False})
    assert scoped["scp"] == ["read:users"] and scoped["aud"] == [kindling.audience]
    audience = "https://plugin-test.example.com"
    with pytest.raises(TokenRequestError) as refused:
        kindling.token(audience=audience)  # no such API yet
    assert refused.value.status in (400, 401)
    added = kindling.add_api(audience, ["read:things", "write:things"])
    assert added["scopes"] == ["read:things", "write:things"]
    assert kindling.add_api(audience, ["read:things"])["id"] == added["id"]  # idempotent
    claims = jwt.decode(kindling.token(audience=audience), options={"verify_signature": False})
    assert claims["aud"] == [audience] and claims["scp"] == ["read:things", "write:things"]
    with pytest.raises(TokenRequestError) as wrong:
        kindling.token(client_secret="not-the-secret")
    assert wrong.value.status == 401 and wrong.value.body["error"] == "invalid_client"
