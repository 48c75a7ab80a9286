"""``KINDLING_THREADS``: the bound on the threads a worker runs blocking work on."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread
import pytest

from kindling.config import DEFAULT_THREADS, Settings
from kindling.web.asgi import WithDeliverer
from kindling.web.pipeline import RequestPipeline


def test_threads_default_and_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KINDLING_THREADS", raising=False)
    assert Settings.from_env().threads == DEFAULT_THREADS == 40  # anyio's own
    monkeypatch.setenv("KINDLING_THREADS", "12")
    assert Settings.from_env().threads == 12


@pytest.mark.parametrize("value", ["0", "-1", "four", "2.5"])
def test_threads_must_be_a_whole_number_of_at_least_one(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("KINDLING_THREADS", value)
    with pytest.raises(ValueError, match="KINDLING_THREADS must be a whole number, at least 1"):
        Settings.from_env()


class _Deliverer:
    def __init__(self) -> None:
        self.started = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        pass


def test_the_worker_bounds_its_threads_at_start_up() -> None:
    """After the ASGI lifespan's start-up, ``run_in_threadpool`` and
    ``anyio.to_thread.run_sync`` run at most ``threads`` functions at once."""
    deliverer = _Deliverer()
    app = WithDeliverer(RequestPipeline(_nothing), deliverer, threads=3)  # type: ignore[arg-type]
    limits: list[float] = []
    peak = running = 0

    async def note(step: int) -> None:
        nonlocal running, peak
        running += step
        peak = max(peak, running)

    def work() -> None:
        anyio.from_thread.run(note, 1)
        anyio.from_thread.run(anyio.sleep, 0.05)
        anyio.from_thread.run(note, -1)

    async def go() -> None:
        messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                async with anyio.create_task_group() as group:
                    for _ in range(8):
                        group.start_soon(anyio.to_thread.run_sync, work)
                limits.append(anyio.to_thread.current_default_thread_limiter().total_tokens)

        limits.append(anyio.to_thread.current_default_thread_limiter().total_tokens)
        await app({"type": "lifespan", "state": {}}, receive, send)

    anyio.run(go)
    assert limits == [40, 3]  # anyio's own default, then the worker's
    assert peak == 3
    assert deliverer.started


async def _nothing(scope: Any, receive: Any, send: Any) -> None:
    return None
