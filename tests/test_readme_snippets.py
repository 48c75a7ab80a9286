"""The README's official-SDK snippets, run as they are against ``kindling serve --tls``.

README.md marks each block a reader copies with ``<!-- snippet: NAME -->`` on the line
before its fence: ``sdk-env`` (the shell variables), ``python-sdk`` (``kinde-python-sdk``
2.4.0) and ``js-sdk`` (``@kinde/management-api-js`` 0.18.0). Each run gets exactly the
variables ``sdk-env`` exports, with this server's values (domain, the first run's client
id and secret, its local CA), and no inherited variable of the same kinds (``KINDE_*``,
``NODE_*``, CA bundles), so a snippet that needs anything the README does not say fails.
Its output is checked line by line against what the server answers to the same request.

The Python block runs with ``-W error::DeprecationWarning:__main__``: the 2.4.0 shortcut
methods (``client.get_users()`` ...) warn with ``stacklevel=2``, so a deprecated call in the
block itself is an error there, while a dependency's own deprecations are not the README's
business. ``test_python_guard_catches_a_deprecated_call`` shows the guard is live.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support import KindlingServer

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
JS_DIR = Path(__file__).with_name("js")
JS_PACKAGE = "@kinde/management-api-js"
SNIPPET = re.compile(r"^<!-- snippet: ([a-z0-9-]+) -->\n```([a-z]+)\n(.*?)^```$", re.M | re.S)
#: What each snippet is written in (the fence's language).
LANGUAGES = {"sdk-env": "sh", "python-sdk": "python", "js-sdk": "js"}
#: Variables an inherited environment must not leak into a run.
FOREIGN = ("KINDE_", "NODE_", "SSL_CERT_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
TIMEOUT = 90


def snippets() -> dict[str, tuple[str, str]]:
    """Every marked block of the README: name -> (language, code)."""
    found: dict[str, tuple[str, str]] = {}
    for name, language, code in SNIPPET.findall(README.read_text(encoding="utf-8")):
        assert name not in found, f"snippet {name!r} is marked twice in README.md"
        found[name] = (language, code)
    return found


def snippet(name: str) -> str:
    language, code = snippets()[name]
    assert language == LANGUAGES[name], f"snippet {name!r} is fenced as {language!r}"
    return code


def documented_variables() -> dict[str, str]:
    """``export NAME=value`` lines of the ``sdk-env`` block, in order."""
    return dict(re.findall(r"^export ([A-Z][A-Z0-9_]*)=(\S*)", snippet("sdk-env"), re.M))


def documented_env(server: KindlingServer) -> dict[str, str]:
    """This process's environment without SDK or CA settings, plus exactly the README's."""
    assert server.ca_path, server.output
    ours = {
        "KINDE_DOMAIN": server.domain,
        "KINDE_MANAGEMENT_CLIENT_ID": server.client_id,
        "KINDE_MANAGEMENT_CLIENT_SECRET": server.client_secret,
        "REQUESTS_CA_BUNDLE": server.ca_path,
        "SSL_CERT_FILE": server.ca_path,
        "NODE_EXTRA_CA_CERTS": server.ca_path,
    }
    names = list(documented_variables())
    unknown = sorted(set(names) - set(ours))
    assert not unknown, f"README exports variables this test cannot fill: {unknown}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    env.pop("PYTHONWARNINGS", None)
    env.update({name: ours[name] for name in names})
    return env


def listed_users(server: KindlingServer) -> list[dict[str, Any]]:
    """``GET /api/v1/users?page_size=10`` (the snippets' request), after creating one user
    so that the page is never empty."""
    token = server.token()
    headers = {"Authorization": f"Bearer {token}"}
    email = f"readme-{uuid.uuid4().hex[:12]}@example.com"
    body = {
        "profile": {"given_name": "Readme"},
        "identities": [{"type": "email", "details": {"email": email}}],
    }
    with server.client() as http:
        created = http.post("/api/v1/user", json=body, headers=headers)
        assert created.status_code == 200, created.text
        page = http.get("/api/v1/users", params={"page_size": 10}, headers=headers)
    assert page.status_code == 200, page.text
    users: list[dict[str, Any]] = page.json()["users"]
    assert users
    return users


def _js_text(user: dict[str, Any], key: str) -> str:
    """How ``console.log`` writes a field of the parsed JSON."""
    if key not in user:
        return "undefined"
    value = user[key]
    return "null" if value is None else str(value)


def test_readme_marks_the_three_sdk_snippets() -> None:
    found = snippets()
    assert set(LANGUAGES) <= set(found), sorted(found)
    for name in LANGUAGES:
        snippet(name)


def test_env_block_names_the_variables_the_sdks_read(tls_server: KindlingServer) -> None:
    """The JS SDK's three variables (its README's), the Python SDK's two CA bundles and
    Node's, at the path where ``kindling serve --tls`` really writes the CA."""
    variables = documented_variables()
    assert list(variables) == [
        "KINDE_DOMAIN",
        "KINDE_MANAGEMENT_CLIENT_ID",
        "KINDE_MANAGEMENT_CLIENT_SECRET",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "NODE_EXTRA_CA_CERTS",
    ]
    assert variables["KINDE_DOMAIN"] == "localhost:8000"  # the default port, no scheme
    assert tls_server.ca_path
    assert Path(tls_server.ca_path) == (tls_server.data_dir / "tls" / "ca.pem").resolve()
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"):
        assert variables[name] == "$PWD/kindling-data/tls/ca.pem", name
    # Every CA line the banner prints is in the README.
    for line in tls_server.output.splitlines():
        exported = re.match(r"\s*export ([A-Z_]+)=", line)
        if exported:
            assert exported.group(1) in variables, line


def test_readme_names_the_installed_sdk_versions() -> None:
    """The headings say which SDK versions the snippets were checked with."""
    text = README.read_text(encoding="utf-8")
    python = re.search(r"^### Python: `kinde-python-sdk` (\d+\.\d+)", text, re.M)
    js = re.search(r"^### JavaScript: `@kinde/management-api-js` (\d+\.\d+)", text, re.M)
    assert python and js
    installed = importlib.metadata.version("kinde-python-sdk")
    assert installed.startswith(python.group(1) + "."), installed
    manifest = JS_DIR / "node_modules" / JS_PACKAGE / "package.json"
    if manifest.is_file():
        version = json.loads(manifest.read_text(encoding="utf-8"))["version"]
        assert version.startswith(js.group(1) + "."), version


def _run_python(code: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "readme_snippet.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning:__main__", str(script)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def test_python_sdk_snippet_lists_users(tls_server: KindlingServer, tmp_path: Path) -> None:
    users = listed_users(tls_server)
    proc = _run_python(snippet("python-sdk"), documented_env(tls_server), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "DeprecationWarning" not in proc.stderr, proc.stderr
    assert proc.stdout.splitlines() == [f"{u['id']} {u.get('email')}" for u in users]


def test_python_guard_catches_a_deprecated_call(tls_server: KindlingServer, tmp_path: Path) -> None:
    """The same block with 2.4.0's deprecated shortcut instead fails under the same flags."""
    current = snippet("python-sdk")
    assert current.count("client.users_api.get_users(") == 1
    deprecated = current.replace("client.users_api.get_users(", "client.get_users(")
    proc = _run_python(deprecated, documented_env(tls_server), tmp_path)
    assert proc.returncode != 0
    assert "DeprecationWarning: get_users() is deprecated" in proc.stderr, proc.stderr


def test_js_sdk_snippet_lists_users(tls_server: KindlingServer) -> None:
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH; the README's JS snippet needs Node.js 20+")
    if not (JS_DIR / "node_modules" / JS_PACKAGE / "package.json").is_file():
        pytest.fail(f"{JS_PACKAGE} is missing; run (cd tests/js && npm ci --no-audit --no-fund)")
    users = listed_users(tls_server)
    # An ES module on stdin resolves its imports from the working directory: tests/js.
    proc = subprocess.run(
        ["node", "--input-type=module"],
        input=snippet("js-sdk"),
        env=documented_env(tls_server),
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    expected = [f"{u['id']} {_js_text(u, 'email')}" for u in users]
    assert proc.stdout.splitlines() == expected, proc.stderr
