"""``kindling serve``: first-run setup, TLS, the banner, and uvicorn.

Worker processes are started by uvicorn from ``kindling.web.asgi:from_env``;
they read the same ``KINDLING_*`` settings, which ``run`` exports. Logging is
configured through uvicorn's ``log_config`` (``kindling.web.logs.logging_config``),
which uvicorn applies in every worker process too; the access log is written by
the request pipeline (``kindling.web.pipeline``), so uvicorn's own is off.
"""

import os
import shlex
import sys

import uvicorn

from kindling.bootstrap import BootstrapResult, bootstrap
from kindling.config import Settings
from kindling.context import build_context
from kindling.crypto.tls import TLSFiles, ensure_local_tls
from kindling.resources.admin.service import OWNER_USERNAME
from kindling.web.logs import logging_config


def _tls_files(settings: Settings, password: str) -> TLSFiles | None:
    if not settings.tls:
        return None
    if settings.tls_cert is not None and settings.tls_key is not None:
        return TLSFiles(
            ca_cert=None, cert=settings.tls_cert, key=settings.tls_key, key_password=None
        )
    hostnames = list(settings.tls_hostnames)
    if settings.host not in ("0.0.0.0", "::", "127.0.0.1", "localhost", ""):
        hostnames.append(settings.host)
    return ensure_local_tls(settings.data_dir / "tls", hostnames, password)


def banner(result: BootstrapResult, settings: Settings, tls: TLSFiles | None) -> str:
    issuer = result.issuer
    lines = [f"Kindling is serving {issuer}", f"  issuer:         {issuer}"]
    lines.append(f"  token endpoint: {issuer}/oauth2/token")
    lines.append(f"  JWKS:           {issuer}/.well-known/jwks")
    lines.append(f"  Management API: {result.audience} (audience)")
    lines.append(f"  admin console:  {issuer}/admin")
    lines.append(f"  API docs:       {issuer}/api/docs")
    cacert = ""
    if tls is not None and tls.ca_cert is not None:
        ca = str(tls.ca_cert.resolve())
        cacert = f" --cacert {shlex.quote(ca)}"
        lines += [
            "",
            f"Local CA: {ca}",
            "Trust it in the official Kinde SDKs with:",
            f"  export REQUESTS_CA_BUNDLE={shlex.quote(ca)}   # Python: token requests",
            f"  export SSL_CERT_FILE={shlex.quote(ca)}        # Python: API calls",
            f"  export NODE_EXTRA_CA_CERTS={shlex.quote(ca)}  # Node.js",
        ]
    if result.previous_issuer and result.previous_issuer != issuer:
        lines += [
            "",
            f"The issuer changed from {result.previous_issuer}; tokens it issued "
            "no longer verify here.",
        ]
    if result.client_id and result.client_secret:
        lines += [
            "",
            "First run: a bootstrap M2M application was authorized for the Management API.",
            f"  client id:     {result.client_id}",
            f"  client secret: {result.client_secret}",
            "The secret is shown only now; store it safely.",
            "",
            "Get a token:",
            f"  TOKEN=$(curl{cacert} -s -X POST {issuer}/oauth2/token \\",
            "    -H 'Content-Type: application/x-www-form-urlencoded' \\",
            "    -d grant_type=client_credentials \\",
            f"    -d client_id={result.client_id} \\",
            f"    -d client_secret={result.client_secret} \\",
            f"    -d audience={result.audience} \\",
            "    | python3 -c 'import json,sys; d=json.load(sys.stdin); "
            'sys.exit(json.dumps(d)) if "error" in d else print(d["access_token"])\')',
            "",
            "Call the Management API with it:",
            f'  curl{cacert} -s {issuer}/api/v1/users -H "Authorization: Bearer $TOKEN"',
        ]
    if result.admin_password:
        lines += [
            "",
            f"Admin console: {issuer}/admin",
            f"  username: {OWNER_USERNAME}",
            f"  password: {result.admin_password}",
            "The password is shown only now; change it with `kindling admin set-password`.",
        ]
    return "\n".join(lines)


def run(settings: Settings, access_log: bool = True) -> None:
    """Set up, print the banner and serve; ``access_log`` turns the pipeline's access log on."""
    log_config = logging_config(settings.log_format, access_log)
    ctx = build_context(settings)
    try:
        issuer = settings.public_issuer()
        result = bootstrap(ctx, issuer)
        tls = _tls_files(settings, ctx.master.derive("tls-key-password").hex())
    finally:
        ctx.close()
    print(banner(result, settings, tls), flush=True)
    os.environ["KINDLING_DATA_DIR"] = str(settings.data_dir.resolve())
    os.environ["KINDLING_ISSUER"] = issuer
    if settings.database_url:
        os.environ["KINDLING_DATABASE_URL"] = settings.database_url
    sys.stdout.flush()
    uvicorn.run(
        "kindling.web.asgi:from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        ssl_certfile=str(tls.cert) if tls else None,
        ssl_keyfile=str(tls.key) if tls else None,
        ssl_keyfile_password=tls.key_password if tls else None,
        # The request pipeline writes the access log (with request ids), not uvicorn.
        access_log=False,
        log_config=log_config,
        proxy_headers=False,
        server_header=False,
        log_level="info",
        # The stdlib event loop, not uvloop: with a saturated worker, uvloop let some
        # connections wait up to ~1.9 s (p99 0.1-1.2 s at 64 connections) while the stdlib
        # loop serves them in turn; throughput is the same within noise because RSA signing
        # dominates (see bench/README.md).
        loop="asyncio",
    )
