"""Benchmark helper (not a test): ``kindling serve`` with another ASGI server at the end.

    python bench/serve_under.py SERVER serve [kindling serve options ...]

Runs ``kindling serve`` itself (first-run set-up, the banner with the bootstrap
credentials, the ``KINDLING_*`` variables the workers read, the logging config), and at
the point where it would hand ``kindling.web.asgi:from_env`` to uvicorn it closes the
socket it bound and ``exec``s SERVER on the same address instead, with the same
application factory, worker count, TLS files, logging config and no access log. The
process keeps its pid, so ``bench/token_bench.sh`` pins, measures and stops it as it
does ``kindling serve``. SERVER is ``granian`` (ASGI interface, with lifespan) or
``hypercorn``. ``GRANIAN_*`` variables reach granian as usual (e.g. ``GRANIAN_LOOP``).

It exists to compare HTTP servers under the same application (issue 13); it is not a
supported way to run Kindling: the head-size bound of ``kindling.web.http_limits`` and
the "Uvicorn running on" line are uvicorn's only.
"""

import json
import os
import shutil
import socket
import sys
from typing import Any, NoReturn

import kindling.serve
from kindling.cli.main import main as kindling_main


def granian_argv(config: Any, log_config_path: str) -> list[str]:
    """granian's command line for what ``kindling serve`` configured uvicorn with."""
    argv = [
        "granian",
        "--interface=asgi",  # ASGI with lifespan (DeferredStart and the deliverer need it)
        "--factory",
        f"--host={config.host}",
        f"--port={config.port}",
        f"--workers={config.workers}",
        # The stdlib loop, as uvicorn is run (bench/README.md, "Event loop").
        f"--loop={os.environ.get('GRANIAN_LOOP', 'asyncio')}",
        "--no-ws",
        "--no-access-log",  # the request pipeline writes the access log, as under uvicorn
        f"--log-config={log_config_path}",
        f"--log-level={config.log_level}",
        f"--backlog={kindling.serve.BACKLOG}",
    ]
    if config.ssl_certfile:
        argv += [f"--ssl-certificate={config.ssl_certfile}", f"--ssl-keyfile={config.ssl_keyfile}"]
        if config.ssl_keyfile_password:
            argv.append(f"--ssl-keyfile-password={config.ssl_keyfile_password}")
    return [*argv, config.app]


def hypercorn_argv(config: Any, log_config_path: str) -> list[str]:
    """hypercorn's command line for the same (``--workers 0``: serve in this process)."""
    argv = [
        "hypercorn",
        f"--bind={config.host}:{config.port}",
        f"--workers={0 if config.workers == 1 else config.workers}",
        f"--log-config=json:{log_config_path}",
        f"--backlog={kindling.serve.BACKLOG}",
    ]
    if config.ssl_certfile:
        argv += [f"--certfile={config.ssl_certfile}", f"--keyfile={config.ssl_keyfile}"]
    return [*argv, f"{config.app}()"]


SERVERS = {"granian": granian_argv, "hypercorn": hypercorn_argv}


def exec_server(name: str, config: Any, sockets: list[socket.socket]) -> NoReturn:
    """Close ``kindling serve``'s listening sockets and become server ``name``."""
    for sock in sockets:
        sock.close()
    # Beside the data (``kindling serve`` exported its path): removed with it.
    path = os.path.join(os.environ["KINDLING_DATA_DIR"], "server-log-config.json")
    with open(path, "w") as f:
        json.dump(config.log_config, f)
    argv = SERVERS[name](config, path)
    exe = shutil.which(argv[0], path=os.path.dirname(sys.executable)) or argv[0]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(exe, argv)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in SERVERS:
        sys.exit(f"usage: serve_under.py {{{'|'.join(SERVERS)}}} serve [options]")
    name = sys.argv[1]

    class Exec(kindling.serve._Server):
        def run(self, sockets: list[socket.socket] | None = None) -> None:
            exec_server(name, self.config, sockets or [])

    class ExecWorkers:
        def __init__(self, config: Any, sockets: list[socket.socket]) -> None:
            self.config, self.sockets = config, sockets

        def run(self) -> None:
            exec_server(name, self.config, self.sockets)

    kindling.serve._Server = Exec  # type: ignore[misc]
    setattr(kindling.serve, "Multiprocess", ExecWorkers)  # noqa: B010 (not re-exported)
    sys.argv = ["kindling", *sys.argv[2:]]  # "serve" and its options
    kindling_main()


if __name__ == "__main__":
    main()
