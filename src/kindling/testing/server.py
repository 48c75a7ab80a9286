"""An isolated ``kindling serve`` for a test session, and tokens good and bad.

``Kindling(data_dir).start()`` prepares a fresh data directory *in process*, through the
same first-run set-up ``kindling serve`` runs (``kindling.bootstrap``): environment,
signing key, the Kinde Management API and the bootstrap M2M application, whose client id
and secret it keeps. Nothing is read back from the server's banner. It then starts a real
``kindling serve`` subprocess on a free port (optionally with TLS and a seed file) and
waits for ``/readyz``. Its output goes to ``server.log`` in the data directory, which holds
no secret: the secrets were made before the server started, so it prints none.

``token()`` asks the running server's ``POST /oauth2/token`` (client credentials, RFC 6749
§4.4, Kinde's ``audience`` parameter). ``mint()`` signs claims of your choosing with the
server's own current signing key, loaded from the data directory, for the negative cases
a resource server must refuse: expired (RFC 7519 §4.1.4), another audience (§4.1.3), a
scope missing, a token of another ``typ`` (RFC 8725 §3.11), or a signature by a key that
only borrows the server's ``kid``.

Only the standard library and Kindling's own base install are used (no pytest, no HTTP
client), so this module works wherever ``kindling`` is installed; ``kindling.testing.plugin``
wraps it in pytest fixtures.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from kindling.platform.context import Context

#: The name of the application made when the data directory was set up before (the first
#: run's bootstrap application's secret is gone then).
PLUGIN_APP_NAME = "Kindling pytest plugin"
#: How long ``mint(expired=True)`` tokens have been expired, in seconds: more than any
#: sensible verifier's leeway (Kindling's own bearer check allows 60 s).
EXPIRED_BY = 600
DEFAULT_LIFETIME = 86_400
ACCESS_TOKEN_TYP = "JWT"


class TokenRequestError(Exception):
    """``POST /oauth2/token`` did not answer 200; ``status`` and ``body`` say what it did."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(f"token request refused ({status}): {dict(body)}")
        self.status = status
        self.body = dict(body)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(data_dir: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """The subprocess's environment: ours without any ``KINDLING_*`` setting, so the
    server uses only its own data directory; rate limits off unless asked for."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    env["KINDLING_DATA_DIR"] = str(data_dir)
    env["KINDLING_RATE_LIMITS"] = "off"
    env.update(extra)
    return env


class Kindling:
    """A running, isolated Kindling server with an M2M application for the tests.

    ``client_id``/``client_secret`` belong to an application authorized for the Kinde
    Management API with every scope; ``add_api`` registers your own API (audience and
    scopes) and authorizes it too, so ``token(audience=...)`` gets real tokens for it.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        tls: bool = False,
        seed: Path | None = None,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.tls = tls
        self.seed = Path(seed).resolve() if seed is not None else None
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self._extra_env = dict(env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._ctx: Context | None = None
        self._foreign: rsa.RSAPrivateKey | None = None
        self.client_id = ""
        self.client_secret = ""
        #: The admin console owner's password (``admin``), when this start set it up.
        self.admin_password: str | None = None

    # --- where things are ------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://localhost:{self.port}"

    @property
    def issuer(self) -> str:
        """The ``iss`` of the server's tokens (and its base URL)."""
        return self.base_url

    @property
    def domain(self) -> str:
        """What the official Kinde SDKs take as the domain (they add ``https://``)."""
        return f"localhost:{self.port}"

    @property
    def audience(self) -> str:
        """The Kinde Management API's audience, ``<issuer>/api``."""
        return f"{self.issuer}/api"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/oauth2/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks"

    @property
    def ca_file(self) -> str | None:
        """The local CA's certificate (PEM) to trust when TLS is on; None without TLS."""
        return str(self.data_dir / "tls" / "ca.pem") if self.tls else None

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts the server's local CA (the system's without TLS)."""
        return ssl.create_default_context(cafile=self.ca_file)

    def env(self) -> dict[str, str]:
        """The environment the server runs with (``KINDLING_DATA_DIR`` and friends)."""
        return _server_env(self.data_dir, self._extra_env)

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> Kindling:
        """Set up the data directory, start ``kindling serve`` and wait until it is ready."""
        if self._process is not None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        self._prepare()
        args = [
            sys.executable,
            "-m",
            "kindling",
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--issuer",
            self.issuer,
            "--no-access-log",
        ]
        if self.tls:
            args.append("--tls")
        if self.seed is not None:
            args += ["--seed", str(self.seed)]
        with open(self.log_file, "wb") as log:
            self._process = subprocess.Popen(
                args, env=self.env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _prepare(self) -> None:
        """First-run set-up in process, as ``kindling serve`` does it, keeping the secret."""
        from kindling.bootstrap import bootstrap
        from kindling.config import Settings
        from kindling.context import build_context
        from kindling.resources.apis.service import authorize_application
        from kindling.resources.applications.service import add_application

        settings = Settings(data_dir=self.data_dir, issuer=self.issuer, tls=self.tls)
        ctx = self._ctx = build_context(settings)
        result = bootstrap(ctx, self.issuer)
        if result.client_id and result.client_secret:
            self.client_id, self.client_secret = result.client_id, result.client_secret
        else:  # a data directory set up before: a new application of our own
            with ctx.storage.transaction() as uow:
                created = add_application(uow, ctx.hasher, ctx.clock, PLUGIN_APP_NAME, "m2m")
                authorize_application(uow, ctx.clock, created.application.id, result.audience, None)
            self.client_id = created.application.id
            self.client_secret = created.client_secret
        self.admin_password = result.admin_password

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer"
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"kindling serve exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            if not self.tls or Path(str(self.ca_file)).exists():
                try:
                    status, _ = self._request("GET", "/readyz")
                    if status == 200:
                        return
                    last = f"/readyz answered {status}"
                except (OSError, ssl.SSLError) as exc:
                    last = str(exc)
            time.sleep(0.05)
        raise RuntimeError(
            f"kindling serve was not ready after {self.startup_timeout:.0f} s ({last}):\n"
            + self.log_tail()
        )

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output."""
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server (SIGINT, then SIGKILL after 5 s) and close the data directory."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._ctx is not None:
            self._ctx.close()
            self._ctx = None

    def __enter__(self) -> Kindling:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _context(self) -> Context:
        if self._ctx is None:
            raise RuntimeError("the Kindling server is not started")
        return self._ctx

    # --- HTTP (standard library only) ----------------------------------------------------

    def _request(
        self, method: str, path: str, form: Sequence[tuple[str, str]] | None = None
    ) -> tuple[int, dict[str, Any]]:
        data = urllib.parse.urlencode(form).encode("ascii") if form is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        request.add_header("Accept", "application/json")
        context = self.ssl_context() if self.tls else None
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"raw": raw.decode("utf-8", "replace")}
        return status, body if isinstance(body, dict) else {"value": body}

    def token_response(
        self,
        scopes: Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> dict[str, Any]:
        """The token endpoint's whole success body (RFC 6749 §5.1)."""
        audiences = [audience] if isinstance(audience, str) else list(audience or [self.audience])
        form: list[tuple[str, str]] = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id or self.client_id),
            ("client_secret", client_secret or self.client_secret),
        ]
        form += [("audience", a) for a in audiences]
        if scopes is not None:
            form.append(("scope", " ".join(scopes)))
        status, body = self._request("POST", "/oauth2/token", form)
        if status != 200:
            raise TokenRequestError(status, body)
        return body

    def token(
        self,
        scopes: Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> str:
        """A real access token from ``POST /oauth2/token``: for the Management API unless
        ``audience`` says otherwise, with every granted scope unless ``scopes`` lists some.
        Raises ``TokenRequestError`` when the server refuses."""
        body = self.token_response(scopes, audience, client_id, client_secret)
        return str(body["access_token"])

    # --- your own API ----------------------------------------------------------------

    def add_api(
        self, audience: str, scopes: Sequence[str] = (), name: str | None = None
    ) -> dict[str, Any]:
        """Register an API (``audience``) with ``scopes`` and authorize the test application
        for it with all of them. Idempotent: an existing API gets the missing scopes."""
        from kindling.resources.apis.repository import APIS_REPO
        from kindling.resources.apis.service import add_scope, authorize_application, create_api

        ctx = self._context()
        with ctx.storage.read() as uow:
            api = uow[APIS_REPO].get_by_audience(audience)
            existing = {s.key for s in uow[APIS_REPO].scopes(api.id)} if api else set()
        if api is None:
            api = create_api(ctx.storage, ctx.clock, name or audience, audience)
        for key in scopes:
            if key not in existing:
                add_scope(ctx.storage, api.id, key, None)
        with ctx.storage.transaction() as uow:
            _, granted = authorize_application(uow, ctx.clock, self.client_id, audience, None)
        return {"id": api.id, "audience": audience, "scopes": granted}

    # --- minted tokens -------------------------------------------------------------------

    def granted_scopes(self, audiences: Sequence[str], client_id: str | None = None) -> list[str]:
        """The scopes the application holds for those audiences (what a real token carries)."""
        from kindling.resources.apis.service import application_authorizations

        ctx = self._context()
        with ctx.storage.read() as uow:
            found = application_authorizations(uow, client_id or self.client_id, audiences)
        merged: dict[str, None] = {}
        for authorization in found:
            merged.update(dict.fromkeys(authorization.scopes))
        return list(merged)

    def _foreign_key(self) -> rsa.RSAPrivateKey:
        from kindling.crypto.keys import generate_private_key

        if self._foreign is None:
            self._foreign = generate_private_key()
        return self._foreign

    def mint(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        audience: str | Sequence[str] | None = None,
        scopes: Sequence[str] | None = None,
        expired: bool = False,
        lifetime: int = DEFAULT_LIFETIME,
        foreign_key: bool = False,
        typ: str = ACCESS_TOKEN_TYP,
        kid: str | None = None,
        issuer: str | None = None,
        client_id: str | None = None,
    ) -> str:
        """Sign Kinde M2M access-token claims with the server's current signing key.

        With no arguments the token looks like one from ``token()``: ``aud``, ``azp``,
        ``exp``, ``gty``, ``iat``, ``iss``, ``jti``, ``scope``, ``scp`` and ``v``, the
        Management API's audience and the scopes granted for it. For negative cases:

        * ``expired=True``: ``exp`` lies ``EXPIRED_BY`` seconds in the past;
        * ``audience="..."`` (or a list): another ``aud``;
        * ``scopes=[...]``: exactly these scopes (``[]``: none);
        * ``foreign_key=True``: signed by a fresh RSA key under the server's ``kid``,
          so only the signature is wrong;
        * ``typ="..."``: another JOSE ``typ`` header; ``kid="..."``: another key id;
          ``issuer="..."``: another ``iss``;
        * ``claims={...}``: set claims last; a value of None removes the claim.
        """
        from kindling.crypto.jws import Signer
        from kindling.crypto.keys import SigningKey

        ctx = self._context()
        audiences = [audience] if isinstance(audience, str) else list(audience or [self.audience])
        app = client_id or self.client_id
        chosen = list(scopes) if scopes is not None else self.granted_scopes(audiences, app)
        now = int(time.time())
        exp = now - EXPIRED_BY if expired else now + lifetime
        body: dict[str, Any] = {
            "aud": audiences,
            "azp": app,
            "exp": exp,
            "gty": ["client_credentials"],
            "iat": exp - lifetime,
            "iss": issuer or self.issuer,
            "jti": str(uuid.uuid4()),
            "scope": " ".join(chosen),
            "scp": chosen,
            "v": "2",
        }
        for name, value in (claims or {}).items():
            if value is None:
                body.pop(name, None)
            else:
                body[name] = value
        view = ctx.keyring.current()
        signer_kid = view.signer_kid
        private = view.private.get(signer_kid) if signer_kid else None
        if signer_kid is None or private is None:
            raise RuntimeError("the server has no usable signing key")
        if foreign_key:
            private = self._foreign_key()
        return Signer(SigningKey(kid or signer_kid, private), typ).sign(body)

    # --- the CLI -----------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``kindling ARGS`` on this server's data directory."""
        return subprocess.run(
            [sys.executable, "-m", "kindling", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
