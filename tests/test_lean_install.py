"""An SQLite install needs no PostgreSQL driver: ``pip install kindling`` leaves psycopg out
(it is the ``postgres`` extra), the server never imports it for SQLite, and a PostgreSQL URL
without it is refused with one line saying what to install.

The missing driver is simulated in a child process (``sys.modules["psycopg"] = None`` makes
every ``import psycopg`` fail as if it were not installed), so the test needs no second venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import free_port

_WITHOUT_DRIVER = (
    "import sys\n"
    "sys.modules['psycopg'] = None\n"
    "sys.modules['psycopg_pool'] = None\n"
    "from kindling.cli.main import main\n"
    "sys.argv = ['kindling', *sys.argv[1:]]\n"
    "main()\n"
)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    return {**env, "KINDLING_DATA_DIR": str(tmp_path / "data"), **extra}


def test_an_sqlite_server_does_not_import_the_postgresql_driver(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "import kindling.cli.main, kindling.serve\n"
        "from kindling.bootstrap import bootstrap\n"
        "from kindling.config import Settings\n"
        "from kindling.context import build_context\n"
        "from kindling.web.app import create_app\n"
        "ctx = build_context(Settings(data_dir=Path(sys.argv[1])))\n"
        "bootstrap(ctx, 'http://localhost:9')\n"
        "create_app(ctx)\n"
        "ctx.close()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('psycopg', 'psycopg_pool', 'psycopg_binary'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "data")],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_a_postgresql_url_without_the_driver_is_one_line_naming_the_extra(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_DRIVER, "serve", "--port", str(free_port())],
        env=_env(tmp_path, KINDLING_DATABASE_URL="postgresql://nobody@127.0.0.1:9/none"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    output = (done.stdout + done.stderr).strip()
    assert "Traceback" not in output
    assert output.splitlines()[-1] == (
        "Error: the database URL names PostgreSQL, but its driver is not installed: "
        "pip install 'kindling[postgres]' (psycopg)"
    )


_SERVER_IMPORTS = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "import kindling.cli.main, kindling.serve\n"
    "from kindling.bootstrap import bootstrap\n"
    "from kindling.config import Settings\n"
    "from kindling.context import build_context\n"
    "from kindling.web.app import create_app\n"
    "redis = sys.argv[2] or None\n"
    "settings = Settings(data_dir=Path(sys.argv[1]), rate_limits=True, metrics=True,\n"
    "                    redis_url=redis)\n"
    "ctx = build_context(settings)\n"
    "bootstrap(ctx, 'http://localhost:9')\n"
    "create_app(ctx)\n"
    "ctx.close()\n"
    "lazy = ('limits', 'yaml', 'wrapt', 'deprecated')\n"
    "reconciler = 'kindling.environment_file.reconcile'\n"
    "print(json.dumps(sorted(m for m in sys.modules\n"
    "                        if m.split('.')[0] in lazy or m == reconciler)))\n"
)


def _server_imports(tmp_path: Path, redis_url: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _SERVER_IMPORTS, str(tmp_path / "data"), redis_url],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_without_redis_or_a_seed_file_the_server_imports_neither_limits_nor_yaml(
    tmp_path: Path,
) -> None:
    # Rate limits on, counted in process: the ``limits`` library (and its Redis, MongoDB
    # and Memcached storages) is for KINDLING_REDIS_URL; PyYAML and the reconciler are for
    # applying or exporting an environment file.
    assert _server_imports(tmp_path, "") == []


def test_with_redis_the_rate_limiter_uses_the_limits_library(tmp_path: Path) -> None:
    found = _server_imports(tmp_path, "redis://127.0.0.1:1/0")
    assert "limits" in found and "yaml" not in found
