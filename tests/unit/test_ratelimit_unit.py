"""Rate limits and bounded input without sockets: settings, keys, counters, the hook,
the pipeline's header bound and body read-ahead, and the duplicate-key check.

``tests/test_rate_limits.py`` and ``tests/test_bounded_input.py`` cover the same
behaviour through real server processes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from kindling.config import Settings
from kindling.oauth.bearer import BearerError, Principal
from kindling.platform.engine import StorageUnavailable
from kindling.platform.errors import ValidationError
from kindling.platform.operations import refuse_duplicate_keys
from kindling.web.pipeline import RequestInfo, RequestPipeline
from kindling.web.ratelimit import (
    Counters,
    Policy,
    RateLimitHook,
    RateLimitSettingsError,
    _address_key,
    token_client_id,
)

Message = dict[str, Any]


def settings(**limits: str) -> Settings:
    return Settings(rate_limits=True, **limits)  # type: ignore[arg-type]


# --- settings ---------------------------------------------------------------------------


def test_kindling_serve_turns_rate_limits_on_and_code_built_settings_leave_them_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KINDLING_RATE_LIMITS", raising=False)
    assert Settings.from_env().rate_limits is True
    assert Settings().rate_limits is False
    for off in ("off", "OFF", "false", "0", "no"):
        monkeypatch.setenv("KINDLING_RATE_LIMITS", off)
        assert Settings.from_env().rate_limits is False
    monkeypatch.setenv("KINDLING_RATE_LIMITS", "sometimes")
    with pytest.raises(ValueError, match="KINDLING_RATE_LIMITS"):
        Settings.from_env()


def test_limits_come_from_their_variables_in_the_limits_syntax(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KINDLING_RATE_LIMIT_TOKEN", "5/second;100/hour")
    monkeypatch.setenv("KINDLING_RATE_LIMIT_API_ANONYMOUS", "off")
    monkeypatch.setenv("KINDLING_REDIS_URL", "redis://cache:6379/2")
    loaded = Settings.from_env()
    policy = Policy.from_settings(loaded)
    assert [(i.amount, i.get_expiry()) for i in policy.token] == [(5, 1), (100, 3600)]
    assert policy.api_anonymous == ()
    assert [(i.amount, i.get_expiry()) for i in policy.token_failures] == [(10, 60)]
    assert loaded.redis_url == "redis://cache:6379/2"
    assert "cache:6379" not in repr(loaded)  # a Redis URL may carry a password


@pytest.mark.parametrize("bad", ["fifty per second", "50/fortnight", "", "-1/second"])
def test_a_malformed_limit_names_its_variable(bad: str) -> None:
    with pytest.raises(RateLimitSettingsError, match="KINDLING_RATE_LIMIT_API"):
        Policy.from_settings(settings(rate_limit_api=bad))


def test_the_header_bound_is_a_whole_number_of_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDLING_MAX_HEADER_BYTES", "65536")
    assert Settings.from_env().max_header_bytes == 65536
    for bad in ("lots", "100", "-5", "1.5"):
        monkeypatch.setenv("KINDLING_MAX_HEADER_BYTES", bad)
        with pytest.raises(ValueError, match="KINDLING_MAX_HEADER_BYTES"):
            Settings.from_env()


# --- keys -------------------------------------------------------------------------------


def basic(client_id: str, secret: str) -> list[tuple[bytes, bytes]]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return [(b"authorization", f"Basic {raw}".encode())]


def test_the_client_id_is_read_as_the_token_endpoint_reads_it() -> None:
    # Basic credentials are form-encoded before base64 (RFC 6749 §2.3.1).
    assert token_client_id(basic("a%2Bb", "s"), b"client_id=other") == "a+b"
    assert token_client_id([], b"grant_type=client_credentials&client_id=abc%20d&x=1") == "abc d"
    assert token_client_id([], b"client_id=first&client_id=second") == "first"
    assert token_client_id([], b"xclient_id=no&my_client_id=no") is None
    assert token_client_id([], b"client_id=") is None
    assert token_client_id([], b"client_id=%FF%FE") is None
    assert token_client_id([], None) is None
    # Malformed Basic names no client; the body is not read for a client then either.
    assert token_client_id([(b"authorization", b"Basic !!!")], b"client_id=x") == "x"


def test_addresses_are_keyed_by_ipv4_and_ipv6_slash_64() -> None:
    assert _address_key("10.1.2.3") == "10.1.2.3"
    assert _address_key("2001:db8:1:2:aaaa::1") == _address_key("2001:db8:1:2:ffff::9")
    assert _address_key("2001:db8:1:2::1") != _address_key("2001:db8:1:3::1")
    assert _address_key("::ffff:10.1.2.3") == "10.1.2.3"
    assert _address_key(None) == "unknown"


# --- counters ---------------------------------------------------------------------------


def test_an_unreachable_redis_is_warned_about_once_and_counting_goes_on_in_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    (item,) = Policy.from_settings(settings(rate_limit_token="3/minute")).token
    counters = Counters("redis://127.0.0.1:1/0")

    async def run() -> list[bool]:
        return [await counters.hit(item, "token", "c") for _ in range(5)]

    with caplog.at_level(logging.WARNING, logger="kindling.ratelimit"):
        assert asyncio.run(run()) == [True, True, True, False, False]
        retry = asyncio.run(counters.retry_after(item, "token", "c"))
    assert 1 <= retry <= 60
    warnings = [r for r in caplog.records if "Redis is unreachable" in r.getMessage()]
    assert len(warnings) == 1
    assert counters.shared is False


# --- the hook ---------------------------------------------------------------------------


def info(path: str, headers: list[tuple[bytes, bytes]], body: bytes | None = None) -> RequestInfo:
    point = "token" if path == "/oauth2/token" else "management"
    return RequestInfo("POST", path, "10.9.8.7", "rid", point, headers, body)


class Bearer:
    """A ``BearerCheck`` whose check is ``verify`` (header -> client id, or BearerError);
    it remembers what it accepted, as the Management API's ``BearerVerifier`` does."""

    def __init__(self, verify: Callable[[str], str]) -> None:
        self.verify = verify
        self.known: dict[str, Principal] = {}

    def cached(self, authorization: str | None) -> Principal | None:
        return self.known.get(authorization or "")

    def principal(self, authorization: str | None) -> Principal:
        assert authorization
        client_id = self.verify(authorization)
        found = Principal(client_id, frozenset(), None, None, {})
        self.known[authorization] = found
        return found


def make_hook(verify: Callable[[str], str], **limits: str) -> RateLimitHook:
    return RateLimitHook(Policy.from_settings(settings(**limits)), Counters(), Bearer(verify))


def no_tokens(authorization: str) -> str:
    raise BearerError(401, "INVALID_TOKEN", "bad", "invalid_token", "kindling")


def test_failures_counted_after_the_response_lock_the_client_before_the_next() -> None:
    hook = make_hook(no_tokens, rate_limit_token_failures="2/minute")
    request = info("/oauth2/token", [], b"client_id=victim&client_secret=guess")

    async def run() -> list[int | None]:
        statuses: list[int | None] = []
        for _ in range(3):
            answer = await hook.before(request)
            statuses.append(None if answer is None else answer.status)
            if answer is None:
                hook.after(request, 401, 0.001)
                await asyncio.sleep(0)  # the failure is counted in a task
        other = await hook.before(info("/oauth2/token", [], b"client_id=someone-else"))
        statuses.append(None if other is None else other.status)
        return statuses

    assert asyncio.run(run()) == [None, None, 429, None]


def test_a_token_429_carries_the_oauth_shape_and_both_retry_headers() -> None:
    hook = make_hook(no_tokens, rate_limit_token="1/minute")
    request = info("/oauth2/token", basic("cid", "secret"))

    async def run() -> Any:
        assert await hook.before(request) is None
        return await hook.before(request)

    answer = asyncio.run(run())
    assert answer.status == 429
    assert json.loads(answer.body)["error"] == "too_many_requests"
    headers = dict(answer.headers)
    assert headers["Retry-After"] == headers["RateLimit-Reset"]
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert headers["Cache-Control"] == "no-store"


def test_the_api_counts_verified_applications_apart_from_unverified_requests() -> None:
    calls: list[str] = []

    def verify(authorization: str) -> str:
        calls.append(authorization)
        if authorization == "Bearer good.jwt.shape":
            return "app-1"
        raise BearerError(401, "INVALID_TOKEN", "bad", "invalid_token", "kindling")

    hook = make_hook(verify, rate_limit_api="2/minute", rate_limit_api_anonymous="1/minute")
    good = info("/api/v1/users", [(b"authorization", b"Bearer good.jwt.shape")])
    forged = info("/api/v1/users", [(b"authorization", b"Bearer forged.jwt.shape")])

    async def run() -> list[int | None]:
        out = []
        for request in (forged, good, forged, good, good):
            answer = await hook.before(request)
            out.append(None if answer is None else answer.status)
        return out

    assert asyncio.run(run()) == [None, None, 429, None, 429]
    # The good token was verified once and then remembered.
    assert calls.count("Bearer good.jwt.shape") == 1


def test_a_new_bearer_token_is_verified_off_the_event_loop_once() -> None:
    """The verification (RS256, and the keyring's view, a database read on PostgreSQL)
    runs in a worker thread: while it waits, the loop goes on serving; requests with the
    same new token share it; a database fault names no application and is not kept."""
    release = threading.Event()
    threads: list[int] = []
    outage = True

    def verify(authorization: str) -> str:
        threads.append(threading.get_ident())
        if authorization == "Bearer during.the.outage":
            if outage:
                raise StorageUnavailable("the database is down", "unreachable")
            return "app-2"
        assert release.wait(10), "the loop never got to release the verification"
        return "app-1"

    hook = make_hook(verify, rate_limit_api="2/minute", rate_limit_api_anonymous="1/minute")
    new = info("/api/v1/users", [(b"authorization", b"Bearer slow.to.verify")])

    async def run() -> list[int | None]:
        first = asyncio.create_task(hook.before(new))
        second = asyncio.create_task(hook.before(new))
        await asyncio.sleep(0.05)
        # The verification is blocked in its thread, and the loop still runs this.
        assert not first.done() and not second.done()
        release.set()
        answers = [await first, await second, await hook.before(new)]
        return [None if a is None else a.status for a in answers]

    loop_thread = threading.get_ident()
    # Two requests with the same token in the application's budget (2/minute), then 429.
    assert asyncio.run(run()) == [None, None, 429]
    assert len(threads) == 1 and threads[0] != loop_thread

    down = info("/api/v1/users", [(b"authorization", b"Bearer during.the.outage")])

    async def during_outage() -> list[int | None]:
        nonlocal outage
        statuses = []
        answer = await hook.before(down)  # counted against the address (1/minute)
        statuses.append(None if answer is None else answer.status)
        outage = False
        answer = await hook.before(down)  # verified now: the application's own budget
        statuses.append(None if answer is None else answer.status)
        return statuses

    assert asyncio.run(during_outage()) == [None, None]


def test_a_header_that_is_no_bearer_jwt_takes_no_thread() -> None:
    calls: list[str] = []

    def verify(authorization: str) -> str:
        calls.append(authorization)
        return "app-1"

    hook = make_hook(verify, rate_limit_api_anonymous="1/minute")

    async def run() -> list[int | None]:
        out = []
        for header in (b"Basic YTpi", b"Bearer opaque-token", b"Bearer a.b"):
            answer = await hook.before(info("/api/v1/users", [(b"authorization", header)]))
            out.append(None if answer is None else answer.status)
        return out

    # All three are anonymous (one address budget of 1/minute) and none was verified.
    assert asyncio.run(run()) == [None, 429, 429]
    assert calls == []


# --- the pipeline -----------------------------------------------------------------------


def call(
    app: Any, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> list[Message]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": headers,
        "client": ("10.1.2.3", 5),
        "query_string": b"",
    }
    chunks = [body[:3], body[3:]]
    sent: list[Message] = []

    async def receive() -> Message:
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_the_pipeline_refuses_oversized_or_numerous_headers_with_431() -> None:
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    pipeline = RequestPipeline(app, (), max_header_bytes=4096)
    big = [(b"authorization", b"Bearer " + b"a" * 5000)]
    many = [(f"x-{i}".encode(), b"1") for i in range(101)]
    for path, headers in (("/api/v1/users", big), ("/api/v1/users", many)):
        sent = call(pipeline, path, headers)
        assert sent[0]["status"] == 431
        assert json.loads(sent[1]["body"])["errors"][0]["code"] == "REQUEST_HEADERS_TOO_LARGE"
    token = call(pipeline, "/oauth2/token", big)
    assert token[0]["status"] == 431 and json.loads(token[1]["body"])["error"] == "invalid_request"
    assert reached == []
    assert call(pipeline, "/healthz", many[:100]) == [] and reached == ["/healthz"]


def test_hooks_see_the_token_body_and_the_endpoint_still_reads_all_of_it() -> None:
    seen: list[bytes | None] = []
    read: list[bytes] = []

    class Watcher:
        async def before(self, request: RequestInfo) -> None:
            seen.append(request.body)

        def after(self, request: RequestInfo, status: int, duration: float) -> None:
            pass

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        read.append(body)

    pipeline = RequestPipeline(app, (Watcher(),))
    form = b"grant_type=client_credentials&client_id=abc"
    call(pipeline, "/oauth2/token", [], form)
    call(pipeline, "/api/v1/users", [], b'{"a": 1}')
    assert seen == [form, None]
    assert read == [form, b'{"a": 1}']


# --- duplicate JSON keys ----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 1, "a": 2}',
        b'{"a": {"b": 1, "c": 2, "b": 3}}',
        b'{"list": [{"x": 1}, {"y": 1, "y": 1}]}',
    ],
)
def test_a_repeated_key_in_any_object_is_duplicate_json_key(raw: bytes) -> None:
    with pytest.raises(ValidationError) as caught:
        refuse_duplicate_keys(raw)
    assert caught.value.code == "DUPLICATE_JSON_KEY"


def test_distinct_keys_pass_and_a_long_repeated_key_is_cut_in_the_message() -> None:
    refuse_duplicate_keys(b'{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}], "c": {}}')
    long = "k" * 500
    with pytest.raises(ValidationError) as caught:
        refuse_duplicate_keys(
            json.dumps({"x": 1}).replace("}", f', "{long}": 1, "{long}": 2}}').encode()
        )
    assert len(caught.value.message) < 120
