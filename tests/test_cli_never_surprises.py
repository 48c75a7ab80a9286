"""The CLI never surprises (issue 11): read commands refuse a data dir ``kindling serve``
never set up, creating nothing; ``serve`` listens before it prints a secret; expected
failures are one line and an exit status; the data commands run the same code on a data
dir and on a remote server (``--remote``, ``--profile`` with a 0600 profiles file) and
print the same JSON; ``kindling completion`` prints working completion scripts.

The CLI runs in process (click's ``CliRunner``) against the session ``sqlite_server``'s
data dir and over HTTP against the same server.
"""

from __future__ import annotations

import json
import os
import pty
import socket
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from kindling.cli.errors import Exit, KindlingGroup
from kindling.cli.main import cli
from tests.support import KindlingServer, free_port

#: Variables that would point a command elsewhere than the test says.
_CLEARED = (
    "KINDLING_DATA_DIR",
    "KINDLING_DATABASE_URL",
    "KINDLING_MASTER_KEY",
    "KINDLING_PROFILE",
    "KINDLING_DEBUG",
    "KINDLING_ISSUER",
    "KINDE_MANAGEMENT_CLIENT_ID",
    "KINDE_MANAGEMENT_CLIENT_SECRET",
    "KINDE_DOMAIN",
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Where this test's profiles file lives (``KINDLING_CONFIG``)."""
    return tmp_path / "config" / "profiles.toml"


@pytest.fixture
def run(config: Path) -> Iterator[Any]:
    """Invoke ``kindling`` in process with a clean environment plus ``env``."""
    runner = CliRunner()

    def invoke(
        *args: str, env: Mapping[str, str] | None = None, input: str | None = None
    ) -> Result:
        full: dict[str, str | None] = {name: None for name in _CLEARED}
        full["KINDLING_CONFIG"] = str(config)
        full.update(env or {})
        return runner.invoke(cli, list(args), env=full, input=input, prog_name="kindling")

    yield invoke


def one_line_error(result: Result) -> str:
    """The single ``Error: ...`` line a failure prints on stderr (and no traceback)."""
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def payload(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def local(server: KindlingServer) -> dict[str, str]:
    return {"KINDLING_DATA_DIR": str(server.data_dir)}


def remote_args(server: KindlingServer) -> list[str]:
    return [
        "--remote",
        server.base_url,
        "--client-id",
        server.client_id,
        "--client-secret",
        server.client_secret,
    ]


# --- a data dir that was never set up ------------------------------------------------------

READ_COMMANDS = [
    ["apps", "list"],
    ["users", "list", "--json"],
    ["roles", "list"],
    ["webhooks", "list"],
    ["keys", "list"],
    ["audit"],
    ["token", "--app", "x", "--audience", "y"],
    ["postman", "export"],
    ["webhooks", "deliveries"],
    ["admin", "set-password", "--generate"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_commands_refuse_a_data_dir_that_was_never_set_up_and_create_nothing(
    run: Any, tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "typo"
    result = run(*command, "--data-dir", str(missing))
    assert result.exit_code == Exit.USAGE, result.output
    line = one_line_error(result)
    assert "kindling serve" in line and str(missing) in line
    assert not missing.exists()
    # An existing directory that is not a data dir stays as it was.
    empty = tmp_path / "empty"
    empty.mkdir()
    again = run(*command, env={"KINDLING_DATA_DIR": str(empty)})
    assert again.exit_code == Exit.USAGE and "not a Kindling data dir" in again.stderr
    assert list(empty.iterdir()) == []
    assert list(tmp_path.iterdir()) == [empty]


def test_serve_on_an_unwritable_data_dir_is_one_line(run: Any, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = Path("/sys/kindling-never-writable")  # not even root may create it
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "data"
    result = run("serve", "--port", str(free_port()), "--data-dir", str(target))
    assert result.exit_code == Exit.ERROR, result.output
    assert "permission denied" in one_line_error(result)
    assert "secret" not in result.stdout and not target.exists()


def test_serve_on_a_port_in_use_prints_no_secret_and_creates_nothing(
    run: Any, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data_dir = tmp_path / "data"
        result = run("serve", "--port", str(port), "--data-dir", str(data_dir))
    assert result.exit_code == Exit.ERROR, result.output
    line = one_line_error(result)
    assert line == f"Error: cannot listen on 127.0.0.1:{port}: address already in use"
    assert result.stdout == ""  # no banner, no client secret, no admin password
    assert not data_dir.exists()


def test_an_unreachable_database_is_one_line_with_its_own_status(run: Any, tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        env = {
            "KINDLING_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/test",
            "KINDLING_MASTER_KEY": "k" * 43,
            "KINDLING_DB_CONNECT_TIMEOUT": "2",
        }
        for command in (["users", "list"], ["keys", "list"]):
            result = run(*command, "--data-dir", str(tmp_path / "d"), env=env)
            assert result.exit_code == Exit.UNAVAILABLE, result.output
            assert "the database is unavailable" in one_line_error(result)
    assert not (tmp_path / "d").exists()


def test_help_documents_the_exit_statuses(run: Any) -> None:
    result = run("--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Exit status:" in text
    for status in ("0 success", "1 error", "2 usage", "4 not authorized", "5 unavailable"):
        assert status in text


def test_only_unexpected_errors_show_a_traceback_and_only_when_debugging() -> None:
    @click.group(cls=KindlingGroup)
    def root() -> None:
        pass

    @root.command()
    def boom() -> None:
        raise RuntimeError("a bug")

    runner = CliRunner()
    quiet = runner.invoke(root, ["boom"], env={"KINDLING_DEBUG": None})
    assert quiet.exit_code == Exit.ERROR
    line = one_line_error(quiet)
    assert "RuntimeError: a bug" in line and "--debug" in line
    loud = runner.invoke(root, ["boom"], env={"KINDLING_DEBUG": "1"})
    assert isinstance(loud.exception, RuntimeError)  # propagates, with its traceback


# --- unknown ids, locally and remotely -----------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["apps", "show", "nope"],
        ["apps", "delete", "nope", "--yes"],
        ["users", "show", "kp_nope"],
        ["roles", "delete", "nope", "--yes"],
        ["orgs", "show", "org_nope"],
        ["apis", "show", "nope"],
        ["webhooks", "delete", "nope", "--yes"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_an_unknown_id_is_one_line_and_status_1_locally_and_remotely(
    run: Any, sqlite_server: KindlingServer, command: list[str]
) -> None:
    here = run(*command, env=local(sqlite_server))
    there = run(*remote_args(sqlite_server), *command)
    for result in (here, there):
        assert result.exit_code == Exit.ERROR, result.output
        assert "not found" in one_line_error(result).lower()
    assert here.stderr == there.stderr


def test_apps_authorize_refuses_unknown_audiences_and_scopes_before_changing_anything(
    run: Any, sqlite_server: KindlingServer
) -> None:
    env = local(sqlite_server)
    made = payload(
        run("apps", "create", "--name", f"aud-{uuid.uuid4().hex[:6]}", "--json", env=env)
    )
    nowhere = run("apps", "authorize", made["id"], "--api", "https://nowhere.example", env=env)
    assert nowhere.exit_code == Exit.ERROR
    assert "https://nowhere.example" in one_line_error(nowhere)
    bad_scope = run(
        "apps",
        "authorize",
        made["id"],
        "--api",
        sqlite_server.audience,
        "--scope",
        "read:users",
        "--scope",
        "fly:away",
        env=env,
    )
    assert bad_scope.exit_code == Exit.ERROR and "fly:away" in one_line_error(bad_scope)
    management = next(
        a for a in payload(run("apis", "list", "--json", env=env)) if a["is_management_api"]
    )
    api = payload(run("apis", "show", management["id"], "--json", env=env))
    assert made["id"] not in {a["id"] for a in api["applications"]}  # not even authorized


# --- one implementation, local and remote ----------------------------------------------------


def test_local_and_remote_give_the_same_json_and_name_their_own_audit_actor(
    run: Any, sqlite_server: KindlingServer
) -> None:
    suffix = uuid.uuid4().hex[:8]
    role = payload(
        run(
            "roles",
            "create",
            "--key",
            f"r-{suffix}",
            "--name",
            "CLI role",
            "--json",
            env=local(sqlite_server),
        )
    )
    permission = payload(
        run(
            *remote_args(sqlite_server),
            "permissions",
            "create",
            "--key",
            f"p:{suffix}",
            "--name",
            "CLI permission",
            "--json",
        )
    )
    org = payload(
        run("orgs", "create", "--name", f"Org {suffix}", "--json", env=local(sqlite_server))
    )
    for command in (
        ["roles", "list"],
        ["permissions", "list"],
        ["orgs", "list"],
        ["apps", "list"],
        ["apis", "list"],
        ["flags", "list"],
        ["roles", "show", role["id"]],
        ["orgs", "show", org["code"]],
    ):
        here = payload(run(*command, "--json", env=local(sqlite_server)))
        there = payload(run(*remote_args(sqlite_server), *command, "--json"))
        assert here == there, command
    listed = payload(run("roles", "list", "--json", env=local(sqlite_server)))
    assert {"id": role["id"], "key": f"r-{suffix}"}.items() <= next(
        r for r in listed if r["id"] == role["id"]
    ).items()
    # The data dir's audit log names the CLI's OS user for the local change and the
    # M2M application for the remote one.
    made_here = payload(
        run("audit", "--json", "--target", f"role:{role['id']}", env=local(sqlite_server))
    )
    assert [(r["action"], r["actor"]["type"]) for r in made_here] == [("role.created", "cli")]
    made_there = payload(
        run(
            "audit",
            "--json",
            "--target",
            f"permission:{permission['id']}",
            env=local(sqlite_server),
        )
    )
    assert [(r["action"], r["actor"]["type"], r["actor"]["id"]) for r in made_there] == [
        ("permission.created", "application", sqlite_server.client_id)
    ]
    # Deleting, remotely, what was made locally.
    deleted = payload(run(*remote_args(sqlite_server), "roles", "delete", role["id"], "--json"))
    assert deleted == {"id": role["id"], "deleted": True}
    assert run("roles", "show", role["id"], env=local(sqlite_server)).exit_code == Exit.ERROR


def test_apps_lifecycle_remotely_with_a_profile_in_a_0600_file(
    run: Any, sqlite_server: KindlingServer, config: Path
) -> None:
    added = run(
        "profile",
        "add",
        "dev",
        "--url",
        sqlite_server.base_url,
        "--client-id",
        sqlite_server.client_id,
        "--client-secret-stdin",
        input=sqlite_server.client_secret + "\n",
    )
    assert added.exit_code == 0, added.output
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    assert sqlite_server.client_secret in config.read_text()
    listed = payload(run("profile", "list", "--json"))
    assert listed == [
        {
            "name": "dev",
            "url": sqlite_server.base_url,
            "client_id": sqlite_server.client_id,
            "ca_file": None,
        }
    ]
    assert sqlite_server.client_secret not in run("profile", "list").stdout
    assert (
        run(
            "profile",
            "add",
            "dev",
            "--url",
            sqlite_server.base_url,
            "--client-id",
            "x",
            "--client-secret-stdin",
            input="s\n",
        ).exit_code
        == Exit.USAGE
    )

    name = f"profiled-{uuid.uuid4().hex[:8]}"
    created = payload(run("--profile", "dev", "apps", "create", "--name", name, "--json"))
    assert created["name"] == name and created["issuer"] == sqlite_server.issuer
    authorized = payload(
        run(
            "--profile",
            "dev",
            "apps",
            "authorize",
            created["id"],
            "--api",
            sqlite_server.audience,
            "--scope",
            "read:roles",
            "--json",
        )
    )
    assert authorized["granted_scopes"] == ["read:roles"]
    token = sqlite_server.token(
        client_id=created["client_id"], client_secret=created["client_secret"]
    )
    with sqlite_server.client() as http:
        roles = http.get("/api/v1/roles", headers={"Authorization": f"Bearer {token}"})
        users = http.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert roles.status_code == 200 and users.status_code == 403
    shown = payload(run("--profile", "dev", "apps", "show", created["id"], "--json"))
    assert shown["name"] == name
    rotated = payload(
        run("--profile", "dev", "apps", "rotate-secret", created["id"], "--grace", "0", "--json")
    )
    assert rotated["client_secret"] != created["client_secret"]
    deleted = payload(run("--profile", "dev", "apps", "delete", created["id"], "--json"))
    assert deleted == {"id": created["id"], "deleted": True}
    names = {a["name"] for a in payload(run("apps", "list", "--json", env=local(sqlite_server)))}
    assert name not in names

    # A profiles file that others can read is refused, not used.
    config.chmod(0o644)
    refused = run("--profile", "dev", "roles", "list")
    assert refused.exit_code == Exit.USAGE and "chmod 600" in one_line_error(refused)
    config.chmod(0o600)
    unknown = run("--profile", "staging", "roles", "list")
    assert unknown.exit_code == Exit.USAGE and "dev" in one_line_error(unknown)
    assert run("profile", "remove", "dev").exit_code == 0
    assert payload(run("profile", "list", "--json")) == []


def test_remote_mode_refuses_what_it_cannot_do_in_one_line(
    run: Any, sqlite_server: KindlingServer
) -> None:
    wrong = run(
        "--remote",
        sqlite_server.base_url,
        "--client-id",
        sqlite_server.client_id,
        "--client-secret",
        "not-the-secret",
        "users",
        "list",
    )
    assert wrong.exit_code == Exit.UNAUTHORIZED and "invalid_client" in one_line_error(wrong)
    local_only = run(*remote_args(sqlite_server), "keys", "list")
    assert local_only.exit_code == Exit.USAGE and "data dir only" in local_only.stderr
    both = run(
        *remote_args(sqlite_server), "users", "list", "--data-dir", str(sqlite_server.data_dir)
    )
    assert both.exit_code == Exit.USAGE and "exclude each other" in both.stderr
    no_secret = run("--remote", sqlite_server.base_url, "users", "list")
    assert no_secret.exit_code == Exit.USAGE and "KINDE_MANAGEMENT_CLIENT_ID" in no_secret.stderr
    down = run(
        "--remote",
        f"http://127.0.0.1:{free_port()}",
        "--client-id",
        "a",
        "--client-secret",
        "b",
        "users",
        "list",
    )
    assert down.exit_code == Exit.UNAVAILABLE and "cannot reach" in one_line_error(down)


# --- progress bars: on a terminal only ---------------------------------------------------


def on_a_terminal(server: KindlingServer, *args: str) -> str:
    """What ``kindling ARGS`` writes when stdout and stderr are a terminal (a pty)."""
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env.update(local(server), COLUMNS="100", TERM="xterm")
    with subprocess.Popen(
        [sys.executable, "-m", "kindling", *args],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env=env,
    ) as process:
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(60) == 0, b"".join(chunks)
    os.close(primary)
    return b"".join(chunks).decode("utf-8", "replace")


def test_listings_draw_a_progress_bar_on_a_terminal_and_never_into_json(
    run: Any, sqlite_server: KindlingServer
) -> None:
    drawn = on_a_terminal(sqlite_server, "apps", "list")
    assert "Applications" in drawn and "\x1b[" in drawn  # the transient bar, on the terminal
    assert "ID (client id)" in drawn
    plain = on_a_terminal(sqlite_server, "apps", "list", "--json")
    assert "\x1b[" not in plain
    assert json.loads(plain) == payload(run("apps", "list", "--json", env=local(sqlite_server)))
    piped = run("apps", "list", env=local(sqlite_server))  # not a terminal: no bar
    assert piped.exit_code == 0 and "\x1b[" not in piped.output


# --- shell completion ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o nosort -F"), ("zsh", "#compdef kindling"), ("fish", "complete")],
)
def test_completion_prints_a_script_that_asks_kindling(run: Any, shell: str, marker: str) -> None:
    result = run("completion", shell)
    assert result.exit_code == 0, result.output
    assert marker in result.stdout and "_KINDLING_COMPLETE" in result.stdout


def test_the_completion_protocol_completes_commands_and_options(run: Any) -> None:
    result = run(
        env={"_KINDLING_COMPLETE": "bash_complete", "COMP_WORDS": "kindling ap", "COMP_CWORD": "1"}
    )
    assert result.exit_code == 0, result.output
    completed = set(result.stdout.split())
    assert {"plain,apps", "plain,apis"} <= completed
    assert all(item.startswith("plain,ap") for item in completed)
    options = run(
        env={
            "_KINDLING_COMPLETE": "bash_complete",
            "COMP_WORDS": "kindling users list --e",
            "COMP_CWORD": "3",
        }
    )
    assert "plain,--email" in options.stdout.split()
