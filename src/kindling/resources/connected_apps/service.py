"""Connected apps: provider definitions, and the OAuth 2.0 authorization code flow run
against them on a user's or an organization's behalf.

The flow (RFC 6749 §4.1, with PKCE, RFC 7636):

1. ``start_authorization`` (``GET /connected_apps/auth_url``) opens a pending session for
   a user or an organization and builds the provider's authorization URL: our callback as
   ``redirect_uri``, a fresh ``state`` and an S256 ``code_challenge``. The caller gets the
   URL and a ``session_id``; we keep only keyed hashes of the session id and the state.
2. The user approves at the provider, which sends the browser to our callback with
   ``code`` and ``state``. ``settle_callback`` uses the state once (it is bound to
   that one session and cleared as it is used, RFC 6749 §10.12; a pending session
   expires after ``AUTHORIZATION_TTL``), exchanges the code at the token endpoint and
   stores the provider's tokens sealed; the callback then sends the user on to the
   app's ``callback_url`` with the outcome (``callback_location``), if it has one.
3. ``access_token`` (``GET /connected_apps/token``) answers the session's access token,
   refreshed with the refresh token (RFC 6749 §6) when it expires within
   ``REFRESH_MARGIN``.
4. ``revoke`` (``POST /connected_apps/revoke``) revokes the refresh and access tokens at
   the provider's revocation endpoint (RFC 7009) and forgets the session. If the provider
   cannot be reached the tokens are kept, so that a retry can still revoke them.

Provider requests never run inside a database transaction (a transaction would hold
SQLite's write lock for the provider's whole answer time); instead each step changes the
session with a conditional update (``consume_state``, ``finish_authorization``,
``replace_tokens``), and refreshes of one session are serialized in the process.

Every change records its event in its transaction (``connected_app.*``,
``platform/event_types.py``); no event carries a secret, a token, a session id or a state.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import secrets
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from kindling.clock import Clock, isoformat
from kindling.platform.bodies import UNSET, Body, decode_body, given
from kindling.platform.codes import Code, DerivedCode, derived
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import (
    AlreadyExists,
    Conflict,
    KindlingError,
    NotFound,
    ValidationError,
)
from kindling.platform.event_types import EventType
from kindling.platform.ids import hex_id
from kindling.platform.storage import Storage
from kindling.platform.validation import SCOPE_KEY, optional_text, required_text
from kindling.resources.connected_apps import provider as oauth
from kindling.resources.connected_apps.model import (
    AUTH_METHODS,
    AUTHORIZED,
    FAILED,
    PENDING,
    ConnectedAppSession,
    Provider,
)
from kindling.resources.connected_apps.repository import CONNECTED_APPS_REPO
from kindling.resources.connected_apps.sealing import ConnectedAppKeys, unseal

#: How long a handed-out authorization URL can be completed, in seconds.
AUTHORIZATION_TTL = 600
#: An access token expiring within this many seconds is refreshed before it is answered.
REFRESH_MARGIN = 60
#: ``key_code_ref``: a reference used in code and in our URLs, so URL-safe.
KEY_CODE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
KEY_CODE_REF_MAX = 128
NAME_MAX = 128
CLIENT_ID_MAX = 255
CLIENT_SECRET_MAX = 1024
URL_MAX = 2048
MAX_SCOPES = 50
MAX_AUTHORIZATION_PARAMS = 20
AUTHORIZATION_PARAM_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
AUTHORIZATION_PARAM_VALUE_MAX = 512
DEFAULT_TIMEOUT = 10
MIN_TIMEOUT = 1
MAX_TIMEOUT = 60
DEFAULT_AUTH_METHOD = "client_secret_basic"
#: Parameters of the authorization request Kindling sets itself (RFC 6749 §4.1.1,
#: RFC 7636 §4.3); a provider definition may not override them.
RESERVED_PARAMS = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    }
)
#: RFC 6749 §5.2's characters of an ``error`` value, for echoing one safely.
_ERROR_TEXT = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class ProviderUnavailableError(KindlingError):
    """The provider could not be reached or gave no usable answer (a 400 with
    ``CONNECTED_APP_PROVIDER_UNAVAILABLE``: the only error status the contract declares)."""

    status_code = 400


# --- provider definitions ----------------------------------------------------------------


class ProviderBody(Body, frozen=True):
    """``POST`` and ``PATCH /kindling/v1/connected_apps/providers``. On PATCH an absent
    field stays as it is; ``revocation_endpoint`` and ``callback_url`` may be sent as
    null to clear them."""

    key_code_ref: object = None
    name: object = None
    authorization_endpoint: object = None
    token_endpoint: object = None
    revocation_endpoint: object = UNSET
    client_id: object = None
    client_secret: object = None
    token_endpoint_auth_method: object = None
    scopes: object = None
    authorization_params: object = None
    callback_url: object = UNSET
    timeout_seconds: object = None


def _invalid(field: str) -> DerivedCode:
    return derived(f"INVALID_{field.upper()}")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_url(value: Any, field: str) -> str:
    """An absolute ``https`` URL (``http`` only for a loopback host, as RFC 8252 §7.3
    allows for native apps), without credentials or a fragment (RFC 6749 §3.1, §3.1.2)."""
    text = required_text(value, field, URL_MAX, field.upper())
    bad = ValidationError(
        f"{field} must be an absolute https URL (http only for a loopback host), "
        "without credentials or a fragment",
        _invalid(field),
    )
    if any(ch.isspace() for ch in text):
        raise bad
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - a bad port raises ValueError here
    except ValueError:
        raise bad from None
    if parts.scheme not in ("https", "http") or not host or parts.fragment or "@" in parts.netloc:
        raise bad
    if parts.scheme == "http" and not _is_loopback(host):
        raise bad
    return text


def _optional_url(value: Any, field: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return validate_url(value, field)


def validate_key_code_ref(value: Any) -> str:
    ref = required_text(value, "key_code_ref", KEY_CODE_REF_MAX, "KEY_CODE_REF")
    if not KEY_CODE_REF.fullmatch(ref):
        raise ValidationError(
            "key_code_ref may contain only letters, digits, '_', '-' and '.'",
            Code.INVALID_KEY_CODE_REF,
        )
    return ref


def _scopes(value: Any) -> tuple[str, ...]:
    """Scope tokens (RFC 6749 §3.3): a list of strings, or one space-separated string."""
    if value is None:
        return ()
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise ValidationError("scopes must be a list of strings", Code.INVALID_SCOPES)
    scopes = tuple(dict.fromkeys(s.strip() for s in items if s.strip()))
    if len(scopes) > MAX_SCOPES:
        raise ValidationError(f"at most {MAX_SCOPES} scopes", Code.TOO_MANY_SCOPES)
    if not all(SCOPE_KEY.fullmatch(s) for s in scopes):
        raise ValidationError(
            "a scope is printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)",
            Code.INVALID_SCOPES,
        )
    return scopes


def _authorization_params(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    bad = ValidationError(
        "authorization_params must be an object of short string values, named with "
        "letters, digits, '_', '-' or '.', and not a parameter Kindling sets itself",
        Code.INVALID_AUTHORIZATION_PARAMS,
    )
    if not isinstance(value, dict):
        raise bad
    if len(value) > MAX_AUTHORIZATION_PARAMS:
        raise ValidationError(
            f"at most {MAX_AUTHORIZATION_PARAMS} authorization_params",
            Code.TOO_MANY_AUTHORIZATION_PARAMS,
        )
    params: list[tuple[str, str]] = []
    for name, item in value.items():
        if (
            not AUTHORIZATION_PARAM_NAME.fullmatch(name)
            or name in RESERVED_PARAMS
            or not isinstance(item, str)
            or len(item) > AUTHORIZATION_PARAM_VALUE_MAX
            or any(ord(ch) < 0x20 for ch in item)
        ):
            raise bad
        params.append((name, item))
    return tuple(params)


def _timeout(value: Any) -> int:
    if value is None:
        return DEFAULT_TIMEOUT
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not (MIN_TIMEOUT <= value <= MAX_TIMEOUT)
    ):
        raise ValidationError(
            f"timeout_seconds must be an integer from {MIN_TIMEOUT} to {MAX_TIMEOUT}",
            Code.INVALID_TIMEOUT_SECONDS,
        )
    return value


def _auth_method(value: Any) -> str:
    if value is None:
        return DEFAULT_AUTH_METHOD
    if value not in AUTH_METHODS:
        raise ValidationError(
            f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}",
            Code.INVALID_TOKEN_ENDPOINT_AUTH_METHOD,
        )
    return str(value)


def _client_secret(value: Any) -> str:
    secret = required_text(value, "client_secret", CLIENT_SECRET_MAX, "CLIENT_SECRET")
    return secret


def _secret_label(provider_id: str) -> str:
    return f"connected_app_providers:{provider_id}:client_secret"


def provider_data(provider: Provider) -> dict[str, Any]:
    """A provider as its events show it: never the client secret."""
    return {
        "key_code_ref": provider.key_code_ref,
        "name": provider.name,
        "authorization_endpoint": provider.authorization_endpoint,
        "token_endpoint": provider.token_endpoint,
        "revocation_endpoint": provider.revocation_endpoint,
        "client_id": provider.client_id,
        "token_endpoint_auth_method": provider.token_endpoint_auth_method,
        "scopes": list(provider.scopes),
    }


def _provider_not_found(key_code_ref: str) -> NotFound:
    return NotFound(
        f"No connected app has key_code_ref {key_code_ref}", Code.CONNECTED_APP_NOT_FOUND
    )


def _ref_taken() -> AlreadyExists:
    return AlreadyExists(
        "A connected app with this key_code_ref already exists", Code.CONNECTED_APP_EXISTS
    )


def create_provider(storage: Storage, clock: Clock, keys: ConnectedAppKeys, body: Any) -> Provider:
    """Define a connected app; its client secret is sealed and never shown again."""
    data = decode_body(body, ProviderBody)
    key_code_ref = validate_key_code_ref(data.key_code_ref)
    name = optional_text(data.name, "name", NAME_MAX, "NAME") or key_code_ref
    authorization_endpoint = validate_url(data.authorization_endpoint, "authorization_endpoint")
    token_endpoint = validate_url(data.token_endpoint, "token_endpoint")
    revocation_endpoint = _optional_url(
        None if not given(data.revocation_endpoint) else data.revocation_endpoint,
        "revocation_endpoint",
    )
    client_id = required_text(data.client_id, "client_id", CLIENT_ID_MAX, "CLIENT_ID")
    method = _auth_method(data.token_endpoint_auth_method)
    secret: str | None = None
    if method == "none":
        if data.client_secret is not None:
            raise ValidationError(
                "a public client (token_endpoint_auth_method none) has no client_secret",
                Code.CLIENT_SECRET_NOT_ALLOWED,
            )
    else:
        secret = _client_secret(data.client_secret)
    scopes = _scopes(data.scopes)
    params = _authorization_params(data.authorization_params)
    callback_url = _optional_url(
        None if not given(data.callback_url) else data.callback_url, "callback_url"
    )
    timeout = _timeout(data.timeout_seconds)
    provider_id = "connected_app_" + hex_id()
    now = isoformat(clock.now())
    provider = Provider(
        id=provider_id,
        key_code_ref=key_code_ref,
        name=name,
        authorization_endpoint=authorization_endpoint,
        token_endpoint=token_endpoint,
        revocation_endpoint=revocation_endpoint,
        client_id=client_id,
        client_secret_sealed=(
            None if secret is None else keys.secrets.seal(_secret_label(provider_id), secret)
        ),
        token_endpoint_auth_method=method,
        scopes=scopes,
        authorization_params=params,
        callback_url=callback_url,
        timeout_seconds=timeout,
        created_on=now,
        updated_on=now,
    )
    try:
        with storage.transaction() as uow:
            repo = uow[CONNECTED_APPS_REPO]
            if repo.get_provider_by_ref(key_code_ref) is not None:
                raise _ref_taken()
            repo.add_provider(provider)
            uow.record(
                EventType.CONNECTED_APP_PROVIDER_CREATED, {"connected_app": provider_data(provider)}
            )
    except IntegrityViolation:
        raise _ref_taken() from None
    return provider


#: The fields of a provider an update may change, as ``updated_fields`` names them.
_FIELDS = (
    "name",
    "authorization_endpoint",
    "token_endpoint",
    "revocation_endpoint",
    "client_id",
    "token_endpoint_auth_method",
    "scopes",
    "authorization_params",
    "callback_url",
    "timeout_seconds",
)


def update_provider(
    storage: Storage, clock: Clock, keys: ConnectedAppKeys, key_code_ref: str, body: Any
) -> Provider:
    """Change a definition; absent fields stay. Sessions already authorized keep their
    tokens (a new client secret is used from their next refresh or revocation on)."""
    data = decode_body(body, ProviderBody)
    if data.key_code_ref is not None and data.key_code_ref != key_code_ref:
        raise ValidationError("key_code_ref cannot be changed", Code.KEY_CODE_REF_NOT_ALLOWED)
    changes: dict[str, Any] = {}
    if data.name is not None:
        changes["name"] = required_text(data.name, "name", NAME_MAX, "NAME")
    if data.authorization_endpoint is not None:
        changes["authorization_endpoint"] = validate_url(
            data.authorization_endpoint, "authorization_endpoint"
        )
    if data.token_endpoint is not None:
        changes["token_endpoint"] = validate_url(data.token_endpoint, "token_endpoint")
    if given(data.revocation_endpoint):
        changes["revocation_endpoint"] = _optional_url(
            data.revocation_endpoint, "revocation_endpoint"
        )
    if data.client_id is not None:
        changes["client_id"] = required_text(
            data.client_id, "client_id", CLIENT_ID_MAX, "CLIENT_ID"
        )
    if data.token_endpoint_auth_method is not None:
        changes["token_endpoint_auth_method"] = _auth_method(data.token_endpoint_auth_method)
    if data.scopes is not None:
        changes["scopes"] = _scopes(data.scopes)
    if data.authorization_params is not None:
        changes["authorization_params"] = _authorization_params(data.authorization_params)
    if given(data.callback_url):
        changes["callback_url"] = _optional_url(data.callback_url, "callback_url")
    if data.timeout_seconds is not None:
        changes["timeout_seconds"] = _timeout(data.timeout_seconds)
    new_secret = None if data.client_secret is None else _client_secret(data.client_secret)
    if not changes and new_secret is None:
        raise ValidationError(
            "give at least one field of the connected app to change", Code.NO_FIELDS_TO_UPDATE
        )
    with storage.transaction() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        current = repo.get_provider_by_ref(key_code_ref)
        if current is None:
            raise _provider_not_found(key_code_ref)
        updated = replace(current, **changes)
        sealed = current.client_secret_sealed
        if updated.token_endpoint_auth_method == "none":
            if new_secret is not None:
                raise ValidationError(
                    "a public client (token_endpoint_auth_method none) has no client_secret",
                    Code.CLIENT_SECRET_NOT_ALLOWED,
                )
            sealed = None
        elif new_secret is not None:
            sealed = keys.secrets.seal(_secret_label(current.id), new_secret)
        elif sealed is None:
            raise ValidationError(
                f"token_endpoint_auth_method {updated.token_endpoint_auth_method} needs a "
                "client_secret",
                Code.CLIENT_SECRET_REQUIRED,
            )
        fields = [f for f in _FIELDS if getattr(updated, f) != getattr(current, f)]
        if new_secret is not None or (sealed is None) != (current.client_secret_sealed is None):
            fields.append("client_secret")
        if not fields:
            return current
        updated = replace(updated, client_secret_sealed=sealed, updated_on=isoformat(clock.now()))
        repo.update_provider(updated)
        uow.record(
            EventType.CONNECTED_APP_PROVIDER_UPDATED,
            {"connected_app": provider_data(updated), "updated_fields": fields},
        )
    return updated


def get_provider(storage: Storage, key_code_ref: str) -> Provider:
    with storage.read() as uow:
        provider = uow[CONNECTED_APPS_REPO].get_provider_by_ref(key_code_ref)
    if provider is None:
        raise _provider_not_found(key_code_ref)
    return provider


def list_providers(storage: Storage) -> list[Provider]:
    with storage.read() as uow:
        return uow[CONNECTED_APPS_REPO].list_providers()


def delete_provider(storage: Storage, key_code_ref: str) -> None:
    """Delete a definition and its unfinished sessions. Refused (409
    ``CONNECTED_APP_IN_USE``) while sessions hold tokens: those are revoked first, so that
    no provider token outlives its record here."""
    with storage.transaction() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        provider = repo.get_provider_by_ref(key_code_ref)
        if provider is None:
            raise _provider_not_found(key_code_ref)
        held = repo.count_sessions(provider.id, AUTHORIZED)
        if held:
            raise Conflict(
                f"{held} connected session(s) still hold tokens of {key_code_ref}: "
                "revoke them first (POST /api/v1/connected_apps/revoke)",
                Code.CONNECTED_APP_IN_USE,
            )
        repo.delete_provider(provider.id)
        uow.record(
            EventType.CONNECTED_APP_PROVIDER_DELETED,
            {"connected_app": {"key_code_ref": key_code_ref}},
        )


# --- the authorization flow -------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizationStart:
    """What ``GET /connected_apps/auth_url`` answers: the URL to send the user to and the
    session it opened."""

    url: str
    session_id: str


@dataclass(frozen=True)
class Completion:
    """The outcome of our callback: which connected app was authorized and where the user
    goes back to in the app (None when neither the call nor the definition named one)."""

    key_code_ref: str
    callback_url: str | None


@dataclass(frozen=True)
class CallbackOutcome:
    """What our callback settled: the connected app, where the user goes back to in the
    app (None when neither the call nor the definition named one) and, when the flow
    failed after its state was used, why (a 400 error; None when authorized)."""

    key_code_ref: str
    callback_url: str | None
    error: KindlingError | None = None


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    #: Unix seconds; None when the provider gave no ``expires_in``.
    expires_at: int | None


_LOCKS = tuple(threading.Lock() for _ in range(64))


@contextmanager
def _serialized(session_id: str) -> Iterator[None]:
    """Serialize refreshes and revocations of one session within this process, so one
    refresh token is not spent twice (providers that rotate refresh tokens would then
    refuse the second use and may revoke the grant)."""
    with _LOCKS[zlib.crc32(session_id.encode("utf-8")) % len(_LOCKS)]:
        yield


def _label(session_id: str, field: str) -> str:
    return f"connected_app_sessions:{session_id}:{field}"


def _subject(session: ConnectedAppSession) -> dict[str, Any]:
    if session.user_id is not None:
        return {"user": {"id": session.user_id}}
    return {"organization": {"code": session.org_code}}


def _event_data(provider: Provider, session: ConnectedAppSession, **extra: Any) -> dict[str, Any]:
    return {
        "connected_app": {"key_code_ref": provider.key_code_ref},
        "session": {"id": session.id},
        **_subject(session),
        **extra,
    }


def _client(keys: ConnectedAppKeys, provider: Provider) -> oauth.Client:
    secret = None
    if provider.client_secret_sealed is not None:
        secret = unseal(keys.secrets, _secret_label(provider.id), provider.client_secret_sealed)
    return oauth.Client(
        client_id=provider.client_id,
        client_secret=secret,
        auth_method=provider.token_endpoint_auth_method,
        timeout=float(provider.timeout_seconds),
    )


def _pkce_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(code_verifier))`` (RFC 7636 §4.2, method S256)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(provider: Provider, redirect_uri: str, state: str, challenge: str) -> str:
    """The provider's authorization endpoint with our request added to any query it has
    (RFC 6749 §3.1: that query is kept)."""
    parts = urlsplit(provider.authorization_endpoint)
    query: list[tuple[str, str]] = parse_qsl(parts.query, keep_blank_values=True)
    query.extend(provider.authorization_params)
    query.extend(
        [
            ("response_type", "code"),
            ("client_id", provider.client_id),
            ("redirect_uri", redirect_uri),
        ]
    )
    if provider.scopes:
        query.append(("scope", " ".join(provider.scopes)))
    query.extend(
        [("state", state), ("code_challenge", challenge), ("code_challenge_method", "S256")]
    )
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def _blank_to_none(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def start_authorization(
    storage: Storage,
    clock: Clock,
    keys: ConnectedAppKeys,
    redirect_uri: str,
    key_code_ref: str,
    user_id: str | None = None,
    org_code: str | None = None,
    override_callback_url: str | None = None,
) -> AuthorizationStart:
    """Open a pending session for exactly one user or organization and build the URL that
    sends the user to the provider."""
    ref = key_code_ref.strip()
    if not ref:
        raise ValidationError("key_code_ref is required", Code.KEY_CODE_REF_REQUIRED)
    user = _blank_to_none(user_id)
    org = _blank_to_none(org_code)
    if user is not None and org is not None:
        raise ValidationError(
            "give user_id or org_code, not both: a connection belongs to one of them",
            Code.TOO_MANY_PARAMETERS,
        )
    if user is None and org is None:
        raise ValidationError(
            "user_id or org_code is required: the connection belongs to one of them",
            Code.USER_ID_OR_ORG_CODE_REQUIRED,
        )
    override = _optional_url(override_callback_url, "override_callback_url")
    now = clock.now()
    session_id = secrets.token_urlsafe(32)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)
    internal_id = "cas_" + hex_id()
    with storage.transaction() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        repo.prune_sessions(int(now))
        provider = repo.get_provider_by_ref(ref)
        if provider is None:
            raise _provider_not_found(ref)
        if user is not None and not repo.user_exists(user):
            raise NotFound(f"No user has id {user}", Code.USER_NOT_FOUND)
        if org is not None and not repo.organization_exists(org):
            raise NotFound(f"No organization has code {org}", Code.ORGANIZATION_NOT_FOUND)
        session = ConnectedAppSession(
            id=internal_id,
            session_hash=keys.hasher.hash(session_id),
            provider_id=provider.id,
            user_id=user,
            org_code=org,
            status=PENDING,
            state_hash=keys.hasher.hash(state),
            redirect_uri=redirect_uri,
            callback_url=override or provider.callback_url,
            code_verifier_sealed=keys.tokens.seal(_label(internal_id, "code_verifier"), verifier),
            access_token_sealed=None,
            refresh_token_sealed=None,
            access_token_expires_at=None,
            granted_scope=None,
            version=0,
            created_on=isoformat(now),
            expires_at=int(now) + AUTHORIZATION_TTL,
        )
        repo.add_session(session)
        uow.record(EventType.CONNECTED_APP_AUTHORIZATION_STARTED, _event_data(provider, session))
    url = authorization_url(provider, redirect_uri, state, _pkce_challenge(verifier))
    return AuthorizationStart(url=url, session_id=session_id)


def _echo(text: str) -> str:
    """A provider's error value, safe to put in our message."""
    return _ERROR_TEXT.sub("?", text)[:128]


def _fail(storage: Storage, provider: Provider, session: ConnectedAppSession, error: str) -> None:
    with storage.transaction() as uow:
        if uow[CONNECTED_APPS_REPO].fail_authorization(session.id):
            uow.record(
                EventType.CONNECTED_APP_AUTHORIZATION_FAILED,
                _event_data(provider, session, error=error),
            )


def _expiry(now: float, tokens: oauth.TokenSet) -> int | None:
    return None if tokens.expires_in is None else int(now) + tokens.expires_in


def _granted(tokens: oauth.TokenSet, provider: Provider, before: str | None) -> str | None:
    """The granted scope: the provider's answer, else what was granted before, else what
    was asked for (RFC 6749 §5.1: omitted means as requested)."""
    return tokens.scope or before or (" ".join(provider.scopes) or None)


def _forget_quietly(keys: ConnectedAppKeys, provider: Provider, tokens: oauth.TokenSet) -> None:
    """Best effort: revoke tokens we obtained but can no longer keep."""
    if provider.revocation_endpoint is None:
        return
    client = _client(keys, provider)
    for hint, token in (
        ("refresh_token", tokens.refresh_token),
        ("access_token", tokens.access_token),
    ):
        if token is None:
            continue
        try:
            oauth.revoke(provider.revocation_endpoint, client, token, hint)
        except (oauth.ProviderRefused, oauth.ProviderUnavailable):
            pass


def settle_callback(
    storage: Storage,
    clock: Clock,
    keys: ConnectedAppKeys,
    state: str,
    code: str | None = None,
    error: str | None = None,
) -> CallbackOutcome:
    """Our callback: use ``state`` once, then exchange ``code`` for the provider's tokens.

    An unknown, used or expired state is ``INVALID_STATE`` (raised) and changes nothing:
    there is no session, so no app to send the user back to. Once the state is used the
    session is settled either way, and the outcome names its connected app and
    ``callback_url``: a refusal at the provider (``error``, RFC 6749 §4.1.2.1), a missing
    code or a failed exchange leave it ``failed`` and are returned in ``error``, so the
    callback can take the user back to the app with the outcome.
    """
    session, provider = _use_state(storage, clock, keys, state)
    try:
        _authorize(storage, clock, keys, provider, session, code, error)
    except (ValidationError, ProviderUnavailableError) as exc:
        return CallbackOutcome(provider.key_code_ref, session.callback_url, exc)
    return CallbackOutcome(provider.key_code_ref, session.callback_url)


def complete_authorization(
    storage: Storage,
    clock: Clock,
    keys: ConnectedAppKeys,
    state: str,
    code: str | None = None,
    error: str | None = None,
) -> Completion:
    """``settle_callback``, with a failure raised rather than returned."""
    outcome = settle_callback(storage, clock, keys, state, code=code, error=error)
    if outcome.error is not None:
        raise outcome.error
    return Completion(key_code_ref=outcome.key_code_ref, callback_url=outcome.callback_url)


def _use_state(
    storage: Storage, clock: Clock, keys: ConnectedAppKeys, state: str
) -> tuple[ConnectedAppSession, Provider]:
    """The pending session ``state`` is bound to, with the state used up (RFC 6749 §10.12)."""
    if not state.strip():
        raise ValidationError("state is required", Code.STATE_REQUIRED)
    now = clock.now()
    with storage.transaction() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        session = repo.consume_state(keys.hasher.hash(state), int(now))
        if session is None:
            raise ValidationError(
                "state is unknown, was used already or has expired: request a new "
                "authorization URL",
                Code.INVALID_STATE,
            )
        provider = repo.get_provider(session.provider_id)
    assert provider is not None  # the session's foreign key keeps its provider
    return session, provider


def _authorize(
    storage: Storage,
    clock: Clock,
    keys: ConnectedAppKeys,
    provider: Provider,
    session: ConnectedAppSession,
    code: str | None,
    error: str | None,
) -> None:
    """Settle a session whose state was just used: authorized, or failed (raised)."""
    error = _blank_to_none(error)
    if error is not None:
        _fail(storage, provider, session, _echo(error))
        raise ValidationError(
            f"the provider did not authorize the connection ({_echo(error)})",
            Code.CONNECTED_APP_ACCESS_DENIED,
        )
    code = _blank_to_none(code)
    if code is None or session.code_verifier_sealed is None:
        _fail(storage, provider, session, Code.CODE_REQUIRED)
        raise ValidationError("the provider sent no authorization code", Code.CODE_REQUIRED)
    verifier = unseal(
        keys.tokens, _label(session.id, "code_verifier"), session.code_verifier_sealed
    )
    try:
        tokens = oauth.exchange_code(
            provider.token_endpoint, _client(keys, provider), code, session.redirect_uri, verifier
        )
    except oauth.ProviderRefused as exc:
        _fail(storage, provider, session, _echo(exc.error))
        raise ValidationError(
            f"the provider refused the authorization code ({_echo(exc.error)})",
            Code.CONNECTED_APP_PROVIDER_ERROR,
        ) from None
    except oauth.ProviderUnavailable as exc:
        _fail(storage, provider, session, Code.CONNECTED_APP_PROVIDER_UNAVAILABLE)
        raise ProviderUnavailableError(str(exc), Code.CONNECTED_APP_PROVIDER_UNAVAILABLE) from None
    done = clock.now()
    scope = _granted(tokens, provider, None)
    with storage.transaction() as uow:
        finished = uow[CONNECTED_APPS_REPO].finish_authorization(
            session.id,
            keys.tokens.seal(_label(session.id, "access_token"), tokens.access_token),
            None
            if tokens.refresh_token is None
            else keys.tokens.seal(_label(session.id, "refresh_token"), tokens.refresh_token),
            _expiry(done, tokens),
            scope,
            isoformat(done),
        )
        if finished:
            uow.record(
                EventType.CONNECTED_APP_AUTHORIZED,
                _event_data(provider, session, scopes=(scope or "").split()),
            )
    if not finished:
        _forget_quietly(keys, provider, tokens)
        raise ValidationError(
            "the session was revoked while it was being authorized",
            Code.CONNECTED_APP_SESSION_NOT_FOUND,
        )


#: The RFC 6749 §4.1.2.1 ``error`` value the app's ``callback_url`` receives for a failure;
#: any other failure of ours is ``server_error``.
_CALLBACK_ERRORS: dict[str, str] = {
    Code.CONNECTED_APP_ACCESS_DENIED: "access_denied",
    Code.CONNECTED_APP_PROVIDER_UNAVAILABLE: "temporarily_unavailable",
}
#: The parameters ``callback_location`` sets; the same names already in the app's URL go.
_OUTCOME_PARAMS = frozenset({"key_code_ref", "error", "error_description", "error_code"})


def callback_location(callback_url: str, outcome: CallbackOutcome) -> str:
    """Where our callback sends the user: the app's ``callback_url`` with the outcome
    added to any query it has (RFC 6749 §3.1.2 keeps that query), in the style of an
    authorization response (RFC 6749 §4.1.2): ``key_code_ref`` always; on failure also
    ``error`` (an RFC 6749 §4.1.2.1 value), ``error_description`` (our message, in the
    characters §4.1.2.1 allows) and ``error_code`` (Kindling's code). No token, session
    id or state is ever put in it."""
    parts = urlsplit(callback_url)
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name not in _OUTCOME_PARAMS
    ]
    query.append(("key_code_ref", outcome.key_code_ref))
    failure = outcome.error
    if failure is not None:
        query.extend(
            [
                ("error", _CALLBACK_ERRORS.get(str(failure.code), "server_error")),
                ("error_description", _ERROR_TEXT.sub("?", failure.message)[:256]),
                ("error_code", str(failure.code)),
            ]
        )
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def _session_not_found() -> ValidationError:
    return ValidationError(
        "session_id does not name a connected app session (it was revoked, or never existed)",
        Code.CONNECTED_APP_SESSION_NOT_FOUND,
    )


def _find(
    storage: Storage, keys: ConnectedAppKeys, session_id: str
) -> tuple[ConnectedAppSession, Provider]:
    if not session_id.strip():
        raise ValidationError("session_id is required", Code.SESSION_ID_REQUIRED)
    with storage.read() as uow:
        repo = uow[CONNECTED_APPS_REPO]
        session = repo.get_session_by_hash(keys.hasher.hash(session_id))
        provider = None if session is None else repo.get_provider(session.provider_id)
    if session is None or provider is None:
        raise _session_not_found()
    return session, provider


def _reread(storage: Storage, session_id: str) -> ConnectedAppSession | None:
    with storage.read() as uow:
        return uow[CONNECTED_APPS_REPO].get_session(session_id)


def _current(keys: ConnectedAppKeys, session: ConnectedAppSession) -> IssuedToken:
    assert session.access_token_sealed is not None
    token = unseal(keys.tokens, _label(session.id, "access_token"), session.access_token_sealed)
    return IssuedToken(access_token=token, expires_at=session.access_token_expires_at)


def _fresh(session: ConnectedAppSession, now: float) -> bool:
    expires = session.access_token_expires_at
    return expires is None or expires - now > REFRESH_MARGIN


def _authorized(session: ConnectedAppSession | None) -> ConnectedAppSession:
    if session is None:
        raise _session_not_found()
    if session.status != AUTHORIZED:
        raise ValidationError(
            f"the connected app session is not authorized ({session.status}): the user has "
            "not completed the provider's consent"
            + (
                " or it failed; request a new authorization URL" if session.status == FAILED else ""
            ),
            Code.CONNECTED_APP_SESSION_NOT_AUTHORIZED,
        )
    return session


def access_token(
    storage: Storage, clock: Clock, keys: ConnectedAppKeys, session_id: str
) -> IssuedToken:
    """The session's access token, refreshed first when it expires within
    ``REFRESH_MARGIN`` seconds and a refresh token is held.

    A token that cannot be refreshed but has not expired yet is still answered (the
    provider being down does not take a valid token away); an expired one without a
    refresh token is ``CONNECTED_APP_TOKEN_EXPIRED`` (authorize again).
    """
    found, provider = _find(storage, keys, session_id)
    session = _authorized(found)
    if _fresh(session, clock.now()):
        return _current(keys, session)
    with _serialized(session.id):
        session = _authorized(_reread(storage, session.id))
        now = clock.now()
        if _fresh(session, now):
            return _current(keys, session)
        expires = session.access_token_expires_at
        still_valid = expires is not None and expires > now
        if session.refresh_token_sealed is None:
            if still_valid:
                return _current(keys, session)
            raise ValidationError(
                "the provider's access token has expired and no refresh token was issued: "
                "authorize the connected app again",
                Code.CONNECTED_APP_TOKEN_EXPIRED,
            )
        refresh_token = unseal(
            keys.tokens, _label(session.id, "refresh_token"), session.refresh_token_sealed
        )
        try:
            tokens = oauth.refresh(provider.token_endpoint, _client(keys, provider), refresh_token)
        except oauth.ProviderRefused as exc:
            if still_valid:
                return _current(keys, session)
            raise ValidationError(
                f"the provider refused the refresh token ({_echo(exc.error)}): authorize the "
                "connected app again",
                Code.CONNECTED_APP_PROVIDER_ERROR,
            ) from None
        except oauth.ProviderUnavailable as exc:
            if still_valid:
                return _current(keys, session)
            raise ProviderUnavailableError(
                str(exc), Code.CONNECTED_APP_PROVIDER_UNAVAILABLE
            ) from None
        done = clock.now()
        kept_refresh = tokens.refresh_token or refresh_token
        with storage.transaction() as uow:
            replaced = uow[CONNECTED_APPS_REPO].replace_tokens(
                session.id,
                session.version,
                keys.tokens.seal(_label(session.id, "access_token"), tokens.access_token),
                keys.tokens.seal(_label(session.id, "refresh_token"), kept_refresh),
                _expiry(done, tokens),
                _granted(tokens, provider, session.granted_scope),
                isoformat(done),
            )
            if replaced:
                uow.record(EventType.CONNECTED_APP_TOKEN_REFRESHED, _event_data(provider, session))
        if not replaced:
            # Revoked meanwhile, or refreshed by another instance: answer what is stored.
            return _current(keys, _authorized(_reread(storage, session.id)))
        return IssuedToken(access_token=tokens.access_token, expires_at=_expiry(done, tokens))


def revoke(storage: Storage, clock: Clock, keys: ConnectedAppKeys, session_id: str) -> None:
    """Revoke the session's tokens at the provider (RFC 7009: the refresh token, which
    ends the grant, then the access token) and forget the session.

    A provider without a revocation endpoint has its tokens forgotten only. A provider
    that cannot be reached, or refuses, leaves everything as it was
    (``CONNECTED_APP_PROVIDER_UNAVAILABLE`` / ``CONNECTED_APP_PROVIDER_ERROR``), so the
    call can be repeated; ``unsupported_token_type`` (RFC 7009 §2.2.1) for one of the two
    tokens is not a failure.
    """
    found, provider = _find(storage, keys, session_id)
    with _serialized(found.id):
        session = _reread(storage, found.id)
        if session is None:
            raise _session_not_found()
        at_provider = False
        if session.status == AUTHORIZED and provider.revocation_endpoint is not None:
            client = _client(keys, provider)
            held: list[tuple[str, bytes | None]] = [
                ("refresh_token", session.refresh_token_sealed),
                ("access_token", session.access_token_sealed),
            ]
            for hint, sealed in held:
                if sealed is None:
                    continue
                token = unseal(keys.tokens, _label(session.id, hint), sealed)
                try:
                    oauth.revoke(provider.revocation_endpoint, client, token, hint)
                except oauth.ProviderRefused as exc:
                    if exc.error == "unsupported_token_type":
                        continue
                    raise ValidationError(
                        f"the provider refused to revoke the {hint} ({_echo(exc.error)})",
                        Code.CONNECTED_APP_PROVIDER_ERROR,
                    ) from None
                except oauth.ProviderUnavailable as exc:
                    raise ProviderUnavailableError(
                        f"{exc}; the tokens are kept so that revoking can be retried",
                        Code.CONNECTED_APP_PROVIDER_UNAVAILABLE,
                    ) from None
            at_provider = True
        with storage.transaction() as uow:
            deleted = uow[CONNECTED_APPS_REPO].delete_session(session.id)
            if deleted:
                uow.record(
                    EventType.CONNECTED_APP_REVOKED,
                    _event_data(provider, session, revoked_at_provider=at_provider),
                )
        if not deleted:
            raise _session_not_found()
