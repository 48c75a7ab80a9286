"""The request pipeline as an ASGI callable: request ids, hooks, errors, log formats.

These call ``RequestPipeline`` directly with an ASGI scope and in-memory
receive/send (no sockets); ``tests/test_pipeline.py`` covers the same behaviour
end to end through real server processes.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import anyio.to_thread
import pytest
from starlette.concurrency import run_in_threadpool

from kindling.config import Settings
from kindling.oauth.requests import MAX_BODY
from kindling.platform.storage import current_request_id
from kindling.web.logs import JsonFormatter, RequestIdFilter, TextFormatter, logging_config
from kindling.web.pipeline import (
    HookResponse,
    RequestInfo,
    RequestPipeline,
    _read_ahead,
    entry_point,
    is_sane_request_id,
    loggable_path,
)

HEX32 = re.compile(r"[0-9a-f]{32}")
Message = dict[str, Any]


def http_scope(
    path: str = "/healthz",
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers or [],
        "client": ("10.1.2.3", 50123),
        "server": ("127.0.0.1", 8000),
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def call(app: Any, scope: dict[str, Any]) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, _receive, send))
    return sent


def header(sent: list[Message], name: bytes) -> list[bytes]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    return [value for key, value in start["headers"] if key == name]


def body_of(sent: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


class Echo:
    """A tiny application: answers 200 and remembers what it saw of the request id."""

    def __init__(self) -> None:
        self.calls = 0
        self.seen: str | None = None
        self.in_thread: str | None = None
        self.in_anyio_thread: str | None = None
        self.headers = [(b"content-type", b"text/plain")]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        self.seen = current_request_id.get()
        self.in_thread = await run_in_threadpool(current_request_id.get)
        self.in_anyio_thread = await anyio.to_thread.run_sync(current_request_id.get)
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Records of the kindling loggers, through the request-id filter like a real handler."""
    found: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found.append(record)

    handler = Keep()
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("kindling")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield found
    logger.removeHandler(handler)
    logger.setLevel(previous)


# --- request ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["abc", "a" * 128, "0f8fad5b-d9cb-469f-a165-70867728950e", "Root:1-5759e988.bd862e3f_x"],
)
def test_a_sane_incoming_request_id_is_kept_and_set_for_the_request(value: str) -> None:
    app = Echo()
    sent = call(RequestPipeline(app), http_scope(headers=[(b"x-request-id", value.encode())]))
    assert header(sent, b"x-request-id") == [value.encode()]
    assert app.seen == app.in_thread == app.in_anyio_thread == value
    assert current_request_id.get() is None


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"a" * 129,
        b"abc def",
        b"abc\r\nx-injected: 1",
        b"abc\nfake log line",
        b"abc\x00",
        b"caf\xc3\xa9",
        b"a/b",
        b'"quoted"',
        b"a=b;c",
    ],
)
def test_an_insane_request_id_is_replaced_by_a_new_one(value: bytes) -> None:
    app = Echo()
    sent = call(RequestPipeline(app), http_scope(headers=[(b"x-request-id", value)]))
    [given] = header(sent, b"x-request-id")
    assert HEX32.fullmatch(given.decode()) and given != value
    assert app.seen == given.decode()
    assert not is_sane_request_id(value)


def test_without_a_request_id_each_request_gets_a_new_one() -> None:
    app = Echo()
    pipeline = RequestPipeline(app)
    ids = {header(call(pipeline, http_scope()), b"x-request-id")[0] for _ in range(5)}
    assert len(ids) == 5 and all(HEX32.fullmatch(i.decode()) for i in ids)


def test_the_first_request_id_header_decides() -> None:
    headers = [(b"x-request-id", b"first"), (b"x-request-id", b"second")]
    sent = call(RequestPipeline(Echo()), http_scope(headers=headers))
    assert header(sent, b"x-request-id") == [b"first"]
    insane_first = [(b"x-request-id", b"no good"), (b"x-request-id", b"second")]
    [given] = header(
        call(RequestPipeline(Echo()), http_scope(headers=insane_first)), b"x-request-id"
    )
    assert HEX32.fullmatch(given.decode())


def test_the_applications_own_header_list_is_left_alone() -> None:
    app = Echo()
    call(RequestPipeline(app), http_scope())
    call(RequestPipeline(app), http_scope())
    assert app.headers == [(b"content-type", b"text/plain")]


def test_non_http_scopes_pass_through_untouched() -> None:
    seen: list[str] = []

    async def lifespan(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        await send({"type": "lifespan.startup.complete"})

    sent = call(RequestPipeline(lifespan), {"type": "lifespan"})
    assert seen == ["lifespan"] and sent == [{"type": "lifespan.startup.complete"}]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/oauth2/token", "token"),
        ("/oauth2/token/", "other"),
        ("/api/v1/users", "management"),
        ("/api/v1", "management"),
        ("/api/v10", "other"),
        ("/kindling/v1/environment/logo", "kindling"),
        ("/admin", "console"),
        ("/admin/users", "console"),
        ("/administrator", "other"),
        ("/api/docs", "docs"),
        ("/api/docs/assets/swagger-ui.css", "docs"),
        ("/api/openapi.json", "docs"),
        ("/.well-known/jwks.json", "discovery"),
        ("/.well-known/openid-configuration", "discovery"),
        ("/healthz", "other"),
        ("/logo", "other"),
        ("/nope", "other"),
    ],
)
def test_entry_points_are_named_by_path(path: str, expected: str) -> None:
    assert entry_point(path) == expected


# --- access log ----------------------------------------------------------------------------


def test_the_access_log_names_the_request_without_query_or_headers(
    records: list[logging.LogRecord],
) -> None:
    scope = http_scope(
        "/api/v1/users",
        headers=[(b"authorization", b"Bearer sekrit-token"), (b"x-request-id", b"req-1")],
        query=b"client_secret=hunter2",
    )
    call(RequestPipeline(Echo()), scope)
    [line] = [r for r in records if r.name == "kindling.access"]
    assert line.request_id == "req-1"  # type: ignore[attr-defined]
    text = line.getMessage()
    assert text.startswith("GET /api/v1/users 200 ") and "10.1.2.3" in text
    assert "hunter2" not in text and "sekrit" not in text and "?" not in text
    fields = {k: getattr(line, k) for k in ("method", "path", "status", "client_ip")}
    assert fields == {
        "method": "GET",
        "path": "/api/v1/users",
        "status": 200,
        "client_ip": "10.1.2.3",
    }
    assert line.entry_point == "management"  # type: ignore[attr-defined]
    assert line.duration_ms >= 0  # type: ignore[attr-defined]


def test_a_path_with_control_characters_is_logged_on_one_line(
    records: list[logging.LogRecord],
) -> None:
    call(RequestPipeline(Echo()), http_scope("/a\nINFO forged line\r"))
    [line] = [r for r in records if r.name == "kindling.access"]
    assert "\n" not in line.getMessage() and "\r" not in line.getMessage()
    assert "/a\\nINFO forged line\\r" in line.getMessage()
    assert loggable_path("/plain/path") == "/plain/path"


def test_no_access_line_is_built_when_the_access_log_is_off(
    records: list[logging.LogRecord],
) -> None:
    access = logging.getLogger("kindling.access")
    access.setLevel(logging.WARNING)
    try:
        call(RequestPipeline(Echo()), http_scope())
    finally:
        access.setLevel(logging.NOTSET)
    assert [r for r in records if r.name == "kindling.access"] == []


# --- hooks ---------------------------------------------------------------------------------


class Limiter:
    """Answers 429 for blocked paths; counts what ``after`` sees."""

    def __init__(self, blocked: set[str]) -> None:
        self.blocked = blocked
        self.before_seen: list[RequestInfo] = []
        self.after_seen: list[tuple[RequestInfo, int, float]] = []

    async def before(self, request: RequestInfo) -> HookResponse | None:
        self.before_seen.append(request)
        if request.path in self.blocked:
            return HookResponse.json(
                429, {"error": "slow_down"}, {"Retry-After": "7", "X-Limit": "1"}
            )
        return None

    def after(self, request: RequestInfo, status: int, duration: float) -> None:
        self.after_seen.append((request, status, duration))


def test_a_before_hook_answers_instead_of_the_application() -> None:
    app = Echo()
    first, second = Limiter({"/oauth2/token"}), Limiter(set())
    scope = http_scope("/oauth2/token", "POST", [(b"x-request-id", b"r-429")])
    sent = call(RequestPipeline(app, [first, second]), scope)
    assert app.calls == 0
    assert sent[0]["status"] == 429 and json.loads(body_of(sent)) == {"error": "slow_down"}
    assert header(sent, b"retry-after") == [b"7"] and header(sent, b"x-limit") == [b"1"]
    assert header(sent, b"x-request-id") == [b"r-429"]
    assert header(sent, b"content-type") == [b"application/json"]
    assert header(sent, b"content-length") == [str(len(body_of(sent))).encode()]
    # The second hook's before is skipped; every hook's after sees the 429.
    assert second.before_seen == []
    assert [(i.request_id, s) for i, s, _ in first.after_seen] == [("r-429", 429)]
    assert [(i.entry_point, s) for i, s, _ in second.after_seen] == [("token", 429)]


def test_hooks_see_the_request_and_the_status() -> None:
    hook = Limiter(set())
    call(RequestPipeline(Echo(), [hook]), http_scope("/admin/users", "GET"))
    [info] = hook.before_seen
    assert (info.method, info.path, info.client_ip, info.entry_point) == (
        "GET",
        "/admin/users",
        "10.1.2.3",
        "console",
    )
    assert HEX32.fullmatch(info.request_id)
    [(after_info, status, duration)] = hook.after_seen
    assert after_info is info and status == 200 and duration >= 0


class Broken:
    def __init__(self, fail_before: bool) -> None:
        self.fail_before = fail_before

    async def before(self, request: RequestInfo) -> HookResponse | None:
        if self.fail_before:
            raise RuntimeError("limiter backend down")
        return None

    def after(self, request: RequestInfo, status: int, duration: float) -> None:
        raise RuntimeError("metrics backend down")


def test_a_failing_before_hook_answers_500_and_is_logged_with_the_request_id(
    records: list[logging.LogRecord],
) -> None:
    app = Echo()
    scope = http_scope("/api/v1/users", headers=[(b"x-request-id", b"hook-fail")])
    sent = call(RequestPipeline(app, [Broken(fail_before=True)]), scope)
    assert app.calls == 0 and sent[0]["status"] == 500
    assert json.loads(body_of(sent))["errors"][0]["code"] == "INTERNAL_ERROR"
    assert header(sent, b"x-request-id") == [b"hook-fail"]
    errors = [r for r in records if r.levelno >= logging.ERROR]
    assert errors and all(r.request_id == "hook-fail" for r in errors)  # type: ignore[attr-defined]
    assert any(r.exc_info and "limiter backend down" in str(r.exc_info[1]) for r in errors)


def test_a_failing_after_hook_is_logged_and_the_response_stands(
    records: list[logging.LogRecord],
) -> None:
    scope = http_scope(headers=[(b"x-request-id", b"after-fail")])
    sent = call(RequestPipeline(Echo(), [Broken(fail_before=False)]), scope)
    assert sent[0]["status"] == 200 and body_of(sent) == b"ok"
    [error] = [r for r in records if r.levelno >= logging.ERROR]
    assert error.request_id == "after-fail"  # type: ignore[attr-defined]
    assert "Broken" in error.getMessage()


# --- last-resort errors --------------------------------------------------------------------


def _failing_app(sent_first: list[Message]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        for message in sent_first:
            await send(message)
        await run_in_threadpool(logging.getLogger("kindling.api").warning, "about to fail")
        raise RuntimeError("handler bug")

    return app


@pytest.mark.parametrize(("path", "key"), [("/oauth2/token", "error"), ("/api/v1/x", "errors")])
def test_an_exception_before_any_response_is_answered_500_with_the_request_id(
    path: str, key: str, records: list[logging.LogRecord]
) -> None:
    scope = http_scope(path, "POST", [(b"x-request-id", b"boom-1")])
    sent = call(RequestPipeline(_failing_app([])), scope)
    assert sent[0]["status"] == 500 and key in json.loads(body_of(sent))
    assert header(sent, b"x-request-id") == [b"boom-1"]
    if path == "/oauth2/token":
        assert header(sent, b"cache-control") == [b"no-store"]
    logged = [r for r in records if r.name != "kindling.access"]
    # The warning was logged in a worker thread; both lines carry the request id.
    assert [(r.levelname, r.request_id) for r in logged] == [  # type: ignore[attr-defined]
        ("WARNING", "boom-1"),
        ("ERROR", "boom-1"),
    ]
    [access] = [r for r in records if r.name == "kindling.access"]
    assert access.status == 500  # type: ignore[attr-defined]


def test_an_exception_after_a_complete_response_stops_in_the_pipeline(
    records: list[logging.LogRecord],
) -> None:
    start = {"type": "http.response.start", "status": 500, "headers": []}
    done = {"type": "http.response.body", "body": b"Internal Server Error"}
    sent = call(RequestPipeline(_failing_app([start, done])), http_scope())
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert len([r for r in records if r.levelno >= logging.ERROR]) == 1


def test_an_exception_in_the_middle_of_a_response_is_reraised() -> None:
    start = {"type": "http.response.start", "status": 200, "headers": []}
    part = {"type": "http.response.body", "body": b"par", "more_body": True}
    with pytest.raises(RuntimeError, match="handler bug"):
        call(RequestPipeline(_failing_app([start, part])), http_scope())
    assert current_request_id.get() is None


# --- log formats ---------------------------------------------------------------------------


def _format(formatter: logging.Formatter, request_id: str | None, **extra: Any) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("kindling.test.format")
    logger.addHandler(handler)
    logger.propagate = False
    token = current_request_id.set(request_id)
    try:
        try:
            raise ValueError("bad\nthing")
        except ValueError:
            logger.error("it %s", "failed", exc_info=True, extra=extra)
    finally:
        current_request_id.reset(token)
        logger.removeHandler(handler)
    return stream.getvalue()


def test_json_lines_are_one_object_per_record_with_the_request_id() -> None:
    out = _format(JsonFormatter(), "json-1", status=201, color_message="\x1b[1m")
    [line] = out.splitlines()
    data = json.loads(line)
    assert data["request_id"] == "json-1" and data["message"] == "it failed"
    assert data["level"] == "ERROR" and data["logger"] == "kindling.test.format"
    assert data["status"] == 201 and "color_message" not in data
    assert "ValueError: bad\nthing" in data["exception"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data["time"])
    assert json.loads(_format(JsonFormatter(), None).splitlines()[0])["request_id"] is None


def test_text_lines_carry_the_request_id_or_a_dash() -> None:
    first = _format(TextFormatter(), "text-1").splitlines()[0]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR kindling\.test\.format \[text-1\] it failed",
        first,
    )
    assert "[-] it failed" in _format(TextFormatter(), None)


def test_the_logging_config_routes_access_to_stdout_and_silences_uvicorns() -> None:
    config = logging_config("json", access_log=False)
    assert config["formatters"]["kindling"]["()"].endswith("JsonFormatter")
    assert config["loggers"]["kindling.access"]["level"] == "WARNING"
    assert config["loggers"]["kindling.access"]["handlers"] == ["stdout"]
    assert config["loggers"]["uvicorn.access"]["handlers"] == []
    assert logging_config("text")["loggers"]["kindling.access"]["level"] == "INFO"
    with pytest.raises(ValueError):
        logging_config("xml")


def test_settings_read_the_log_format_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KINDLING_LOG_FORMAT", raising=False)
    assert Settings.from_env().log_format == "text"
    monkeypatch.setenv("KINDLING_LOG_FORMAT", "JSON")
    assert Settings.from_env().log_format == "json"
    assert Settings.from_env(log_format="text").log_format == "text"


def _messages(*parts: dict[str, Any]) -> Any:
    """A ``receive`` handing out ``parts`` in order, then ``http.disconnect``."""
    queue = list(parts)

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    return receive


def _chunk(body: bytes, more: bool) -> dict[str, Any]:
    return {"type": "http.request", "body": body, "more_body": more}


async def _drain(receive: Any, n: int) -> list[dict[str, Any]]:
    return [await receive() for _ in range(n)]


@pytest.mark.parametrize(
    ("parts", "body"),
    [
        ([_chunk(b"a=1&b=2", False)], b"a=1&b=2"),
        ([_chunk(b"", False)], b""),
        ([_chunk(b"a=", True), _chunk(b"", True), _chunk(b"1", False)], b"a=1"),
        ([_chunk(b"x" * MAX_BODY, False)], b"x" * MAX_BODY),
        ([_chunk(b"x" * (MAX_BODY + 1), False)], None),
        ([_chunk(b"x" * MAX_BODY, True), _chunk(b"y", False)], None),
        ([_chunk(b"a=", True), {"type": "http.disconnect"}], None),
        ([{"type": "http.disconnect"}], None),
    ],
)
def test_read_ahead_hands_the_body_and_replays_every_message(
    parts: list[dict[str, Any]], body: bytes | None
) -> None:
    """The hooks see the body (None past MAX_BODY or without one); the endpoint then
    receives exactly the messages the client sent, in order, and then what follows."""
    sent = [dict(p) for p in parts]

    async def go() -> tuple[bytes | None, list[dict[str, Any]]]:
        seen, replay = await _read_ahead(_messages(*parts))
        return seen, await _drain(replay, len(sent) + 1)

    seen, replayed = asyncio.run(go())
    assert seen == body
    assert replayed == [*sent, {"type": "http.disconnect"}]


def test_read_ahead_stops_reading_once_past_the_bound() -> None:
    """A client streaming a huge body: the read-ahead holds at most one message past
    MAX_BODY; the rest is left for the endpoint (its own 413)."""
    parts = [_chunk(b"x" * 4096, True) for _ in range(MAX_BODY // 4096 + 10)]
    receive = _messages(*parts)

    async def go() -> int:
        seen, _ = await _read_ahead(receive)
        assert seen is None
        rest = 0
        while (await receive())["type"] == "http.request":
            rest += 1
        return rest

    left = asyncio.run(go())
    assert left == len(parts) - (MAX_BODY // 4096 + 1)
