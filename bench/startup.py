"""Benchmark (not a test): how fast ``kindling serve`` is ready, and how much memory it idles at.

For each of ``--runs`` starts (5 by default) this launches ``kindling serve --workers 1`` on a
data dir set up beforehand (so no first-run key generation is timed), polls ``GET /healthz``
every 5 ms, and records the seconds from the process start to the first answered request,
and the CPU seconds the server process had used by then (utime + stime from
``/proc/<pid>/stat``: on this shared host the wall clock measures the neighbours too, the
CPU time much less so).
Once answered it waits ``--idle`` seconds (2 by default) and reads the worker's resident set
(``VmRSS`` in ``/proc/<pid>/status``; with one worker uvicorn serves in the process it
started). Prints the median and the range of both, and the modules the server imported
that an SQLite-only server does not need (``--modules``), then stops the server.

    python bench/startup.py [--runs 5] [--idle 2] [--src DIR] [--database-url URL] [--modules]

``--src`` runs another copy of ``src/`` (an A/B: ``git worktree add --detach /tmp/base HEAD``
and ``--src /tmp/base/src``). Everything listens on 127.0.0.1 and every run is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MASTER_KEY = "startup-bench-" + "k" * 32
#: Modules an SQLite server answering HTTP/1.1 has no use for (``--modules``): without
#: ``KINDLING_REDIS_URL`` nor a file to apply, ``limits`` (and what it brings) and PyYAML too.
UNNEEDED = (
    "psycopg",
    "psycopg_pool",
    "websockets",
    "watchfiles",
    "dotenv",
    "uvloop",
    "wsproto",
    "limits",
    "deprecated",
    "wrapt",
    "yaml",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(src: Path, data: Path, database_url: str | None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(src), KINDLING_DATA_DIR=str(data))
    env["KINDLING_MASTER_KEY"] = MASTER_KEY
    if database_url:
        env["KINDLING_DATABASE_URL"] = database_url
    return env


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _cpu_s(pid: int) -> float:
    """utime + stime of ``pid`` so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_start(
    src: Path, data: Path, database_url: str | None, idle: float
) -> tuple[float, int, float]:
    """Seconds from the process start to the first answered ``/healthz``; idle RSS (KiB);
    the CPU seconds the server had used when it first answered."""
    port = _free_port()
    cmd = [sys.executable, "-m", "kindling", "serve", "--port", str(port), "--workers", "1"]
    cmd.append("--no-access-log")
    url = f"http://127.0.0.1:{port}/healthz"
    started = time.perf_counter()
    process = subprocess.Popen(
        cmd,
        env=_env(src, data, database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = started + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"the server did not answer (exit {process.returncode})")
            time.sleep(0.005)
        ready = time.perf_counter() - started
        cpu = _cpu_s(process.pid)
        time.sleep(idle)
        return ready, _rss_kib(process.pid), cpu
    finally:
        process.terminate()
        process.wait(timeout=10)


def unneeded_modules(src: Path, data: Path, database_url: str | None) -> list[str]:
    """The ``UNNEEDED`` top-level modules ``kindling serve`` and its application import."""
    code = (
        "import sys, json\n"
        "import kindling.cli.main, kindling.serve  # what `kindling serve` imports first\n"
        "from kindling.web.asgi import from_env\n"
        "app = from_env()\n"
        "import uvicorn.config\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({UNNEEDED!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(src, data, database_url),
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=2.0)
    parser.add_argument("--src", type=Path, default=REPO / "src")
    parser.add_argument("--database-url")
    parser.add_argument("--modules", action="store_true")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="kindling-startup-"))
    try:
        # The first run (keys, bootstrap application) happens here, not timed.
        one_start(args.src, data, args.database_url, 0.0)
        readies, rss, cpus = [], [], []
        for _ in range(args.runs):
            ready, kib, cpu = one_start(args.src, data, args.database_url, args.idle)
            readies.append(ready)
            rss.append(kib)
            cpus.append(cpu)
        result = {
            "src": str(args.src),
            "ready_s_median": round(statistics.median(readies), 3),
            "ready_s": [round(r, 3) for r in readies],
            "ready_cpu_s_median": round(statistics.median(cpus), 3),
            "ready_cpu_s": [round(c, 3) for c in cpus],
            "idle_rss_mib_median": round(statistics.median(rss) / 1024, 1),
            "idle_rss_mib": [round(k / 1024, 1) for k in rss],
        }
        if args.modules:
            result["unneeded_modules_imported"] = unneeded_modules(
                args.src, data, args.database_url
            )
        print(
            f"ready (process start -> first /healthz answered): median "
            f"{result['ready_s_median']} s over {args.runs} "
            f"({min(readies):.3f}-{max(readies):.3f}), CPU used by then: median "
            f"{result['ready_cpu_s_median']} s ({min(cpus):.2f}-{max(cpus):.2f}); "
            "idle RSS of the worker: median "
            f"{result['idle_rss_mib_median']} MiB ({min(rss) / 1024:.1f}-{max(rss) / 1024:.1f})"
        )
        print(json.dumps(result))
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
