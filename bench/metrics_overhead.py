"""What the metrics hook (``kindling.web.metrics``) adds to a token request, in process.

Runs the request pipeline around a trivial ASGI app that answers 200 at once, with and
without ``MetricsHook``, on a ``POST /oauth2/token`` with a ``client_secret_post`` body, and
times the hook's ``after`` alone. Prints microseconds per request, the best of 5
alternating rounds (the host is shared). Seconds to run:

    python bench/metrics_overhead.py [requests]
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from kindling.web.metrics import MetricsHook
from kindling.web.pipeline import RequestInfo, RequestPipeline

ROUNDS = 5
BODY = b"grant_type=client_credentials&client_id=0123456789abcdef0123456789abcdef&client_secret=x"


async def _app(scope: Any, receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/oauth2/token",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 5000),
    }


async def _per_request(pipeline: RequestPipeline, count: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: Any) -> None:
        return None

    start = time.perf_counter()
    for _ in range(count):
        await pipeline(_scope(), receive, send)
    return (time.perf_counter() - start) / count * 1e6


class _Nothing:
    async def before(self, request: RequestInfo) -> None:
        return None

    def after(self, request: RequestInfo, status: int, duration: float) -> None:
        return None


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    hook = MetricsHook(ctx=None, multiprocess_mode=False)  # type: ignore[arg-type]
    info = RequestInfo("POST", "/oauth2/token", "127.0.0.1", "id", "token", (), BODY)
    after = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(count // ROUNDS):
            hook.after(info, 200, 0.002)
        after = min(after, (time.perf_counter() - start) / (count // ROUNDS) * 1e6)
    # The body is read ahead whenever any hook is installed (the rate limiter's is, by
    # default): compare with a hook that does nothing, so the difference is the metrics.
    plain = RequestPipeline(_app, [_Nothing()])
    metered = RequestPipeline(_app, [_Nothing(), hook])
    # Alternating rounds, the best of each: the host is shared and noisy.
    base = with_metrics = float("inf")
    for _ in range(ROUNDS):
        base = min(base, asyncio.run(_per_request(plain, count // ROUNDS)))
        with_metrics = min(with_metrics, asyncio.run(_per_request(metered, count // ROUNDS)))
    print(f"MetricsHook.after on a token request: {after:.2f} µs")
    print(f"pipeline, a no-op hook:               {base:.2f} µs/request")
    print(f"pipeline, no-op hook + metrics:       {with_metrics:.2f} µs/request")
    print(f"added by metrics:                     {with_metrics - base:.2f} µs/request")


if __name__ == "__main__":
    main()
