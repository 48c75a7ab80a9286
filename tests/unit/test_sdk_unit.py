"""``kindling.sdk`` without a server: httpx's ``MockTransport`` (its injectable transport)
answers, so token single-flight, refresh, retries and errors are exact and instant.

The caches are the real ones: files in a temporary directory and the Redis at
127.0.0.1:6379 (skipped, visibly, only when none is reachable outside CI).
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kindling.sdk import (
    AsyncManagementClient,
    BadRequest,
    CachedToken,
    ConfigurationError,
    Conflict,
    FileTokenCache,
    Forbidden,
    KindeAPIError,
    ManagementClient,
    NotFound,
    RateLimited,
    RedisTokenCache,
    RetryPolicy,
    ServerError,
    TransportError,
    Unauthorized,
    base_url,
)

DOMAIN = "tenant.example.com"
USERS = "/api/v1/users"


class Kinde:
    """A scripted Kinde: counts token requests, hands out ``t1``, ``t2``, ... and routes
    Management API calls to ``api`` (by default: an empty user list)."""

    def __init__(
        self,
        api: Callable[[httpx.Request], httpx.Response] | None = None,
        *,
        expires_in: int = 3600,
        token_delay: float = 0.0,
    ) -> None:
        self.api = api or (lambda request: httpx.Response(200, json={"users": []}))
        self.expires_in = expires_in
        self.token_delay = token_delay
        self.token_forms: list[dict[str, str]] = []
        self.calls: list[httpx.Request] = []
        self.lock = threading.Lock()

    def _token(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            form = dict(httpx.QueryParams(request.content.decode()))
            self.token_forms.append(form)
            number = len(self.token_forms)
        return httpx.Response(
            200, json={"access_token": f"t{number}", "expires_in": self.expires_in}
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            if self.token_delay:
                time.sleep(self.token_delay)
            return self._token(request)
        with self.lock:
            self.calls.append(request)
        return self.api(request)

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            await request.aread()
            return self._token(request)
        with self.lock:
            self.calls.append(request)
        return self.api(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def async_transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.ahandle)

    @property
    def tokens(self) -> int:
        return len(self.token_forms)

    def bearers(self) -> list[str]:
        return [r.headers["authorization"] for r in self.calls]


def client(kinde: Kinde, **options: Any) -> ManagementClient:
    options.setdefault("sleep", lambda seconds: None)
    return ManagementClient(DOMAIN, "cid", "csecret", transport=kinde.transport(), **options)


def aclient(kinde: Kinde, **options: Any) -> AsyncManagementClient:
    async def no_sleep(seconds: float) -> None:
        return None

    options.setdefault("sleep", no_sleep)
    return AsyncManagementClient(
        DOMAIN, "cid", "csecret", transport=kinde.async_transport(), **options
    )


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("tenant.kinde.com", "https://tenant.kinde.com"),
        ("localhost:8000", "https://localhost:8000"),
        ("127.0.0.1:8443", "https://127.0.0.1:8443"),
        ("  tenant.kinde.com  ", "https://tenant.kinde.com"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("https://tenant.kinde.com/", "https://tenant.kinde.com"),
        ("http://proxy.local:8080/kindling/", "http://proxy.local:8080/kindling"),
        ("[::1]:8000", "https://[::1]:8000"),
    ],
)
def test_a_bare_domain_means_https_and_a_url_keeps_its_scheme(domain: str, expected: str) -> None:
    assert base_url(domain) == expected


@pytest.mark.parametrize(
    "domain",
    [
        "",
        "   ",
        "ftp://tenant.kinde.com",
        "http://",
        "tenant kinde.com",
        "localhost:notaport",
        "localhost:99999",
        "https://user:pw@tenant.kinde.com",
        "https://tenant.kinde.com/?x=1",
        "https://tenant.kinde.com/#frag",
    ],
)
def test_an_unusable_domain_is_a_configuration_error(domain: str) -> None:
    with pytest.raises(ConfigurationError):
        base_url(domain)


def test_the_js_sdks_environment_variables_configure_the_client() -> None:
    kinde = Kinde()
    environ = {
        "KINDE_DOMAIN": "https://env.kinde.com",
        "KINDE_MANAGEMENT_CLIENT_ID": "env-id",
        "KINDE_MANAGEMENT_CLIENT_SECRET": "env-secret",
    }
    with ManagementClient(transport=kinde.transport(), environ=environ) as sdk:
        sdk.users.get_users()
        assert sdk.base_url == "https://env.kinde.com"
    assert kinde.token_forms == [
        {
            "grant_type": "client_credentials",
            "client_id": "env-id",
            "client_secret": "env-secret",
            "audience": "https://env.kinde.com/api",
        }
    ]
    assert str(kinde.calls[0].url) == "https://env.kinde.com/api/v1/users"
    # Arguments win over the environment.
    with ManagementClient(
        "arg.kinde.com", "arg-id", transport=kinde.transport(), environ=environ
    ) as sdk:
        sdk.users.get_users()
    assert kinde.token_forms[-1]["client_id"] == "arg-id"
    assert kinde.token_forms[-1]["client_secret"] == "env-secret"
    assert kinde.token_forms[-1]["audience"] == "https://arg.kinde.com/api"


def test_missing_settings_name_their_variables_and_never_the_secret() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ManagementClient(environ={"KINDE_MANAGEMENT_CLIENT_SECRET": "s3cret-value"})
    text = str(caught.value)
    assert "KINDE_DOMAIN" in text and "KINDE_MANAGEMENT_CLIENT_ID" in text
    assert "KINDE_MANAGEMENT_CLIENT_SECRET" not in text and "s3cret-value" not in text


def test_audience_and_scopes_go_into_the_token_request() -> None:
    kinde = Kinde()
    client(
        kinde, audience="https://other/api", scopes=["read:users", "read:roles"]
    ).users.get_users()
    client(kinde, scopes="read:users  read:roles").users.get_users()
    client(kinde).users.get_users()
    assert kinde.token_forms[0]["audience"] == "https://other/api"
    assert kinde.token_forms[0]["scope"] == "read:users read:roles"
    assert kinde.token_forms[1]["scope"] == "read:users read:roles"
    assert "scope" not in kinde.token_forms[2]  # absent: everything the app was granted


def test_no_secret_or_token_in_reprs() -> None:
    kinde = Kinde()
    sdk = client(kinde)
    token = sdk.access_token()
    assert "csecret" not in repr(sdk) and "csecret" not in repr(sdk._tokens.request)
    assert token not in repr(CachedToken(token, 1.0))


# --- the token: cached, refreshed, single-flight -----------------------------------------


def test_the_token_is_fetched_on_first_use_and_cached_across_calls() -> None:
    kinde = Kinde()
    sdk = client(kinde)
    assert kinde.tokens == 0  # nothing is sent until the first call
    for _ in range(5):
        sdk.users.get_users()
    assert kinde.tokens == 1 and sdk.token_requests == 1
    assert set(kinde.bearers()) == {"Bearer t1"}


def test_the_token_is_refreshed_refresh_margin_seconds_before_it_expires() -> None:
    clock = Clock()
    kinde = Kinde(expires_in=100)
    sdk = client(kinde, clock=clock, refresh_margin=30)
    sdk.users.get_users()
    clock.now += 69  # 31 s left: still fresh
    sdk.users.get_users()
    assert kinde.tokens == 1
    clock.now += 2  # 29 s left: inside the margin
    sdk.users.get_users()
    assert kinde.tokens == 2
    assert kinde.bearers() == ["Bearer t1", "Bearer t1", "Bearer t2"]
    with pytest.raises(ValueError):
        client(kinde, refresh_margin=-1)


def test_a_token_response_without_expires_in_is_kept_an_hour() -> None:
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "forever?"})
        return httpx.Response(200, json={})

    sdk = ManagementClient(
        DOMAIN, "c", "s", transport=httpx.MockTransport(handler), clock=clock, refresh_margin=0
    )
    sdk.access_token()
    clock.now += 3599
    sdk.access_token()
    assert sdk.token_requests == 1
    clock.now += 2
    sdk.access_token()
    assert sdk.token_requests == 2


def test_100_threads_on_a_cold_cache_make_exactly_one_token_request() -> None:
    kinde = Kinde(token_delay=0.05)  # a slow token endpoint: everyone piles up behind it
    sdk = client(kinde)
    barrier = threading.Barrier(100)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            barrier.wait()
            sdk.users.get_users()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert kinde.tokens == 1
    assert len(kinde.calls) == 100 and set(kinde.bearers()) == {"Bearer t1"}


def test_100_tasks_on_a_cold_cache_make_exactly_one_token_request() -> None:
    kinde = Kinde(token_delay=0.05)

    async def main() -> None:
        async with aclient(kinde) as sdk:
            await asyncio.gather(*(sdk.users.get_users() for _ in range(100)))
            assert sdk.token_requests == 1

    asyncio.run(main())
    assert kinde.tokens == 1
    assert len(kinde.calls) == 100 and set(kinde.bearers()) == {"Bearer t1"}


def test_a_stale_token_is_refreshed_once_for_many_waiting_threads() -> None:
    clock = Clock()
    kinde = Kinde(expires_in=100, token_delay=0.02)
    sdk = client(kinde, clock=clock, refresh_margin=10)
    sdk.users.get_users()
    clock.now += 95  # everyone now sees a stale token
    threads = [threading.Thread(target=sdk.users.get_users) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert kinde.tokens == 2


# --- 401: one refresh and one retry -------------------------------------------------------


def _refuse(token: str) -> Callable[[httpx.Request], httpx.Response]:
    def api(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == f"Bearer {token}":
            return httpx.Response(
                401,
                json={"errors": [{"code": "INVALID_TOKEN", "message": "revoked"}]},
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return httpx.Response(200, json={"users": [{"id": "kp_1"}]})

    return api


def test_a_401_fetches_a_new_token_and_retries_once() -> None:
    kinde = Kinde(_refuse("t1"))
    assert client(kinde).users.get_users() == {"users": [{"id": "kp_1"}]}
    assert kinde.tokens == 2
    assert kinde.bearers() == ["Bearer t1", "Bearer t2"]


def test_a_second_401_is_raised_as_unauthorized_after_exactly_one_retry() -> None:
    kinde = Kinde(
        lambda request: httpx.Response(
            401, json={"errors": [{"code": "INVALID_TOKEN", "message": "no"}]}
        )
    )
    with pytest.raises(Unauthorized) as caught:
        client(kinde).users.create_user({})  # POST: a 401 is retried for any method
    assert caught.value.code == "INVALID_TOKEN" and caught.value.status == 401
    assert kinde.tokens == 2 and len(kinde.calls) == 2


def test_many_401s_for_one_token_cause_one_refresh() -> None:
    kinde = Kinde(_refuse("t1"))
    sdk = client(kinde)
    sdk.access_token()
    threads = [threading.Thread(target=sdk.users.get_users) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert kinde.tokens == 2  # t1 dropped once; everyone retried with t2


def test_async_a_401_fetches_a_new_token_and_retries_once() -> None:
    kinde = Kinde(_refuse("t1"))

    async def main() -> Any:
        async with aclient(kinde) as sdk:
            return await sdk.users.get_users()

    assert asyncio.run(main()) == {"users": [{"id": "kp_1"}]}
    assert kinde.tokens == 2 and kinde.bearers() == ["Bearer t1", "Bearer t2"]


# --- typed errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (
            400,
            {"errors": [{"code": "INVALID_PAGE_SIZE", "message": "m"}]},
            BadRequest,
            "INVALID_PAGE_SIZE",
        ),
        (
            403,
            {"errors": [{"code": "INSUFFICIENT_SCOPE", "message": "m"}]},
            Forbidden,
            "INSUFFICIENT_SCOPE",
        ),
        (
            404,
            {"errors": {"code": "API_KEY_NOT_FOUND", "message": "m"}},
            NotFound,
            "API_KEY_NOT_FOUND",
        ),
        (409, {"errors": [{"code": "ALREADY_EXISTS", "message": "m"}]}, Conflict, "ALREADY_EXISTS"),
        (
            500,
            {"errors": [{"code": "INTERNAL_ERROR", "message": "m"}]},
            ServerError,
            "INTERNAL_ERROR",
        ),
        (
            503,
            {"errors": [{"code": "SERVICE_UNAVAILABLE", "message": "m"}]},
            ServerError,
            "SERVICE_UNAVAILABLE",
        ),
        (418, {"code": "TEAPOT", "message": "m"}, KindeAPIError, "TEAPOT"),
    ],
)
def test_error_answers_are_typed_by_status_and_carry_kindes_code(
    status: int, body: dict[str, Any], kind: type[KindeAPIError], code: str
) -> None:
    kinde = Kinde(lambda request: httpx.Response(status, json=body))
    with pytest.raises(KindeAPIError) as caught:
        client(kinde).users.get_users()
    error = caught.value
    assert type(error) is kind
    assert (error.status, error.code, error.message) == (status, code, "m")
    assert error.errors == [{"code": code, "message": "m"}]
    assert error.response is not None and error.response.status_code == status
    assert code in str(error)


def test_a_refused_client_is_unauthorized_with_the_oauth_error_code() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"error": "invalid_client", "error_description": "bad secret"}
        )

    sdk = ManagementClient(DOMAIN, "c", "wrong", transport=httpx.MockTransport(handler))
    with pytest.raises(Unauthorized) as caught:
        sdk.users.get_users()
    assert caught.value.code == "invalid_client" and caught.value.message == "bad secret"


def test_a_non_json_error_keeps_its_text() -> None:
    kinde = Kinde(lambda request: httpx.Response(502, text="upstream down"))
    with pytest.raises(ServerError) as caught:
        client(kinde).users.get_users()
    assert caught.value.code is None and caught.value.message == "upstream down"


# --- 429 ------------------------------------------------------------------------------------


class Limited:
    """Answers 429 (with ``headers``) ``times`` times, then 200."""

    def __init__(self, times: int, headers: dict[str, str] | None = None) -> None:
        self.times = times
        self.headers = headers or {}
        self.seen = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        if self.seen <= self.times:
            return httpx.Response(
                429,
                json={"errors": [{"code": "TOO_MANY_REQUESTS", "message": "slow down"}]},
                headers=self.headers,
            )
        return httpx.Response(200, json={"users": []})


def test_a_429_is_retried_after_ratelimit_reset_with_a_little_jitter() -> None:
    sleeps: list[float] = []
    limited = Limited(2, {"RateLimit-Reset": "3"})
    sdk = client(Kinde(limited), sleep=sleeps.append)
    assert sdk.users.get_users() == {"users": []}
    assert limited.seen == 3 and len(sleeps) == 2
    assert all(3 <= s <= 4 for s in sleeps), sleeps  # the default jitter is up to 1 s


def test_retry_after_as_an_http_date_and_the_longer_of_two_headers() -> None:
    clock = Clock()
    date = email.utils.formatdate(clock.now + 7, usegmt=True)
    sleeps: list[float] = []
    policy = RetryPolicy(jitter=0)
    sdk = client(
        Kinde(Limited(1, {"Retry-After": date})), sleep=sleeps.append, clock=clock, retry=policy
    )
    sdk.users.get_users()
    assert sleeps == [pytest.approx(7, abs=1)]
    sleeps.clear()
    headers = {"Retry-After": "2", "RateLimit-Reset": "5"}
    client(Kinde(Limited(1, headers)), sleep=sleeps.append, retry=policy).users.get_users()
    assert sleeps == [5]


def test_jitter_never_takes_a_wait_past_max_wait() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_wait=5, jitter=60, rate_limit_retries=20)
    limited = Limited(20, {"Retry-After": "4.5"})
    client(Kinde(limited), sleep=sleeps.append, retry=policy).users.get_users()
    assert len(sleeps) == 20
    assert all(4.5 <= s <= 5 for s in sleeps), sleeps
    assert len(set(sleeps)) > 1  # jittered, not one fixed value


def test_a_429_without_a_wait_backs_off_exponentially() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(jitter=0, backoff=0.25)
    client(Kinde(Limited(3)), sleep=sleeps.append, retry=policy).users.get_users()
    assert sleeps == [0.25, 0.5, 1.0]


def test_retries_are_capped_then_rate_limited_carries_reset_at() -> None:
    clock = Clock()
    sleeps: list[float] = []
    limited = Limited(10, {"RateLimit-Reset": "2"})
    sdk = client(Kinde(limited), sleep=sleeps.append, clock=clock)
    with pytest.raises(RateLimited) as caught:
        sdk.users.get_users()
    assert limited.seen == 4 and len(sleeps) == 3  # three retries by default
    error = caught.value
    assert error.status == 429 and error.code == "TOO_MANY_REQUESTS"
    assert error.retry_after == 2 and error.reset_at == clock.now + 2


def test_a_wait_longer_than_max_wait_is_not_slept_through() -> None:
    sleeps: list[float] = []
    limited = Limited(1, {"RateLimit-Reset": "3600"})
    with pytest.raises(RateLimited) as caught:
        client(Kinde(limited), sleep=sleeps.append).users.get_users()
    assert sleeps == [] and limited.seen == 1 and caught.value.retry_after == 3600


def test_unsafe_methods_are_not_retried_on_429_unless_the_caller_opts_in() -> None:
    sleeps: list[float] = []
    limited = Limited(1, {"RateLimit-Reset": "1"})
    sdk = client(Kinde(limited), sleep=sleeps.append)
    with pytest.raises(RateLimited):
        sdk.roles.create_role({"name": "r", "key": "r"})
    assert limited.seen == 1 and sleeps == []
    # Per call ...
    limited = Limited(1, {"RateLimit-Reset": "1"})
    sdk = client(Kinde(limited), sleep=sleeps.append)
    sdk.request("POST", "/api/v1/roles", json={"name": "r", "key": "r"}, retry_unsafe=True)
    assert limited.seen == 2 and len(sleeps) == 1
    # ... or for the whole client.
    limited = Limited(1, {"RateLimit-Reset": "1"})
    sdk = client(Kinde(limited), sleep=sleeps.append, retry=RetryPolicy(retry_unsafe=True))
    sdk.roles.create_role({"name": "r", "key": "r"})
    assert limited.seen == 2


def test_async_a_429_is_retried_with_the_injected_sleep() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    limited = Limited(2, {"RateLimit-Reset": "1"})

    async def main() -> Any:
        async with aclient(Kinde(limited), sleep=sleep) as sdk:
            return await sdk.users.get_users()

    assert asyncio.run(main()) == {"users": []}
    assert limited.seen == 3 and len(sleeps) == 2 and all(1 <= s <= 2 for s in sleeps)


# --- connection errors ------------------------------------------------------------------------


class Flaky:
    """Raises ``ConnectError`` ``times`` times for API calls, then answers 200."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.seen = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        if self.seen <= self.times:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"ok": True})


def test_connection_errors_on_get_are_retried_with_backoff() -> None:
    sleeps: list[float] = []
    flaky = Flaky(2)
    sdk = client(Kinde(flaky), sleep=sleeps.append, retry=RetryPolicy(jitter=0))
    assert sdk.users.get_users() == {"ok": True}
    assert flaky.seen == 3 and sleeps == [0.5, 1.0]


def test_connection_errors_on_post_are_not_retried() -> None:
    sleeps: list[float] = []
    flaky = Flaky(1)
    with pytest.raises(TransportError) as caught:
        client(Kinde(flaky), sleep=sleeps.append).roles.create_role({"name": "r", "key": "r"})
    assert flaky.seen == 1 and sleeps == []
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_connection_retries_run_out_into_a_transport_error() -> None:
    flaky = Flaky(10)
    with pytest.raises(TransportError):
        client(Kinde(flaky)).users.get_users()
    assert flaky.seen == 3  # the first try and two retries


# --- requests ---------------------------------------------------------------------------------


def test_query_parameters_are_encoded_as_kinde_reads_them() -> None:
    kinde = Kinde(lambda request: httpx.Response(200, json={"results": []}))
    sdk = client(kinde)
    sdk.users.get_users(has_organization=True, page_size=5, email=None)
    sdk.search.search_users(query="ada", properties={"team": ["a", "b"], "city": ["x"]})
    first, second = (r.url for r in kinde.calls)
    assert first.params.multi_items() == [("page_size", "5"), ("has_organization", "true")]
    assert second.params.multi_items() == [
        ("query", "ada"),
        ("properties[team]", "a"),
        ("properties[team]", "b"),
        ("properties[city]", "x"),
    ]


def test_path_parameters_stay_one_segment() -> None:
    kinde = Kinde(lambda request: httpx.Response(200, json={}))
    client(kinde).roles.get_role("a/b?c")
    assert kinde.calls[0].url.raw_path == b"/api/v1/roles/a%2Fb%3Fc"
    with pytest.raises(ValueError):
        client(kinde).roles.get_role("")


def test_the_token_is_never_sent_off_the_domain() -> None:
    kinde = Kinde()
    sdk = client(kinde)
    for target in ("https://evil.example/api/v1/users", "//evil.example/x", "api/v1/users"):
        with pytest.raises(ValueError):
            sdk.request("GET", target)
    assert kinde.calls == []


def test_a_logo_is_uploaded_as_multipart_and_an_empty_answer_is_none() -> None:
    kinde = Kinde(lambda request: httpx.Response(200, json={"code": "LOGO_UPDATED"}))
    sdk = client(kinde)
    assert sdk.environments.add_logo("dark", b"\x89PNG...") == {"code": "LOGO_UPDATED"}
    request = kinde.calls[0]
    assert request.method == "PUT" and request.url.path == "/api/v1/environment/logos/dark"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="logo"' in request.content and b"\x89PNG..." in request.content
    kinde.api = lambda request: httpx.Response(200)
    assert sdk.applications.update_application("app", {"name": "x"}) is None


# --- pagination -------------------------------------------------------------------------------


def _pages(key: str, pages: list[dict[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    def api(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("next_token") or request.url.params.get("starting_after")
        index = 0 if cursor is None else int(cursor.rsplit("-", 1)[1])
        return httpx.Response(200, json=pages[index])

    return api


def test_iterate_follows_next_token_and_keeps_the_filters() -> None:
    pages = [
        {"users": [{"id": "u-1"}, {"id": "u-2"}], "next_token": "nt-1"},
        {"users": [{"id": "u-3"}], "next_token": "nt-2"},
        {"users": [], "next_token": "nt-2"},
    ]
    kinde = Kinde(_pages("users", pages))
    found = [u["id"] for u in client(kinde).users.iterate(page_size=2, email="a@x")]
    assert found == ["u-1", "u-2", "u-3"]  # the empty page ends it
    assert [r.url.params.multi_items() for r in kinde.calls] == [
        [("email", "a@x"), ("page_size", "2")],
        [("email", "a@x"), ("page_size", "2"), ("next_token", "nt-1")],
        [("email", "a@x"), ("page_size", "2"), ("next_token", "nt-2")],
    ]


def test_iterate_follows_starting_after_while_has_more() -> None:
    pages = [
        {"api_keys": [{"id": "k-0"}, {"id": "k-2"}], "has_more": True},
        {},
        {"api_keys": [{"id": "k-3"}], "has_more": False},
    ]
    kinde = Kinde(_pages("api_keys", pages))
    found = [k["id"] for k in client(kinde).api_keys.iterate(page_size=2)]
    assert found == ["k-0", "k-2", "k-3"]
    assert len(kinde.calls) == 2 and kinde.calls[1].url.params["starting_after"] == "k-2"


def test_a_listing_without_has_more_ends_at_a_short_page() -> None:
    pages = [
        {"results": [{"id": "r-0"}, {"id": "r-1"}]},
        {"results": [{"id": "r-2"}]},
        {"results": [{"id": "never"}, {"id": "read"}]},
    ]
    kinde = Kinde(_pages("results", pages))
    found = [r["id"] for r in client(kinde).search.iterate_search_users(query="q", page_size=2)]
    assert found == ["r-0", "r-1", "r-2"] and len(kinde.calls) == 2


def test_a_repeated_cursor_ends_the_iteration() -> None:
    pages = [{"roles": [{"id": "r-0"}], "next_token": "nt-0"}]
    kinde = Kinde(_pages("roles", pages))
    assert [r["id"] for r in client(kinde).roles.iterate()] == ["r-0", "r-0"]
    assert len(kinde.calls) == 2


def test_async_iterate_follows_pages() -> None:
    pages = [
        {"organizations": [{"code": "o-1"}], "next_token": "nt-1"},
        {"organizations": [{"code": "o-2"}]},
    ]
    kinde = Kinde(_pages("organizations", pages))

    async def main() -> list[str]:
        async with aclient(kinde) as sdk:
            return [o["code"] async for o in sdk.organizations.iterate(page_size=1)]

    assert asyncio.run(main()) == ["o-1", "o-2"]


# --- shared caches ----------------------------------------------------------------------------


def test_a_file_cache_shares_one_token_between_two_clients(tmp_path: Path) -> None:
    kinde = Kinde(token_delay=0.05)
    directory = tmp_path / "tokens"
    first = client(kinde, token_cache=FileTokenCache(directory))
    second = client(kinde, token_cache=FileTokenCache(directory))
    threads = [
        threading.Thread(target=sdk.users.get_users) for sdk in (first, second) for _ in range(10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert kinde.tokens == 1  # the file lock made the second client wait for the first
    assert first.token_requests + second.token_requests == 1
    assert set(kinde.bearers()) == {"Bearer t1"}
    files = sorted(p.name for p in directory.iterdir())
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".lock")
    token_file = directory / files[0]
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert "t1" in token_file.read_text() and "csecret" not in token_file.read_text()
    # A third client, later (another process, say), reuses it without asking.
    client(kinde, token_cache=FileTokenCache(directory)).users.get_users()
    assert kinde.tokens == 1


def test_a_file_cache_drops_a_refused_token_for_every_client(tmp_path: Path) -> None:
    kinde = Kinde(_refuse("t1"))
    first = client(kinde, token_cache=FileTokenCache(tmp_path))
    second = client(kinde, token_cache=FileTokenCache(tmp_path))
    first.users.get_users()  # t1 refused: t2 fetched and stored
    second.users.get_users()
    assert kinde.tokens == 2 and kinde.bearers() == ["Bearer t1", "Bearer t2", "Bearer t2"]


def test_async_clients_share_a_file_cache(tmp_path: Path) -> None:
    kinde = Kinde(token_delay=0.02)

    async def main() -> None:
        clients = [aclient(kinde, token_cache=FileTokenCache(tmp_path)) for _ in range(2)]
        await asyncio.gather(*(c.users.get_users() for c in clients for _ in range(5)))
        for c in clients:
            await c.aclose()

    asyncio.run(main())
    assert kinde.tokens == 1


def test_a_corrupt_cache_file_is_ignored(tmp_path: Path) -> None:
    kinde = Kinde()
    sdk = client(kinde, token_cache=FileTokenCache(tmp_path))
    sdk.access_token()
    (token_file,) = tmp_path.glob("*.json")
    token_file.write_text("{not json")
    client(kinde, token_cache=FileTokenCache(tmp_path)).access_token()
    assert kinde.tokens == 2


@pytest.fixture
def redis_client() -> Iterator[Any]:
    import redis

    connection = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        connection.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail("Redis at 127.0.0.1:6379 is required in CI")
        pytest.skip("no Redis reachable at 127.0.0.1:6379")
    yield connection
    connection.close()


def test_a_redis_cache_shares_one_token_between_two_clients(redis_client: Any) -> None:
    prefix = f"kindling-sdk-test:{uuid.uuid4().hex}:"
    try:
        kinde = Kinde(token_delay=0.05, expires_in=600)
        clients = [
            client(kinde, token_cache=RedisTokenCache(redis_client, prefix=prefix))
            for _ in range(2)
        ]
        threads = [threading.Thread(target=c.users.get_users) for c in clients for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert kinde.tokens == 1 and set(kinde.bearers()) == {"Bearer t1"}
        (key,) = redis_client.keys(prefix + "*")
        assert 0 < redis_client.pttl(key) <= 600_000  # gone when the token expires
        # A refused token is dropped for everyone.
        kinde.api = _refuse("t1")
        clients[0].users.get_users()
        clients[1].users.get_users()
        assert kinde.tokens == 2
    finally:
        for key in redis_client.keys(prefix + "*"):
            redis_client.delete(key)


def test_async_clients_share_a_redis_cache(redis_client: Any) -> None:
    prefix = f"kindling-sdk-test:{uuid.uuid4().hex}:"
    kinde = Kinde(token_delay=0.02)

    async def main() -> None:
        clients = [
            aclient(kinde, token_cache=RedisTokenCache(redis_client, prefix=prefix))
            for _ in range(2)
        ]
        await asyncio.gather(*(c.users.get_users() for c in clients for _ in range(5)))
        for c in clients:
            await c.aclose()

    try:
        asyncio.run(main())
        assert kinde.tokens == 1
    finally:
        for key in redis_client.keys(prefix + "*"):
            redis_client.delete(key)


def test_an_unreachable_shared_cache_costs_only_the_sharing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kinde = Kinde()
    cache = RedisTokenCache(url=f"redis://127.0.0.1:{port}/0", lock_timeout=1)
    with caplog.at_level("WARNING", logger="kindling.sdk"):
        sdk = client(kinde, token_cache=cache)
        sdk.users.get_users()
        sdk.users.get_users()
    assert kinde.tokens == 1 and len(kinde.calls) == 2  # kept in memory all the same
    assert "token cache" in caplog.text and "t1" not in caplog.text
