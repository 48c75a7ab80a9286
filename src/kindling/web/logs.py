"""Log formats of the server: every line carries the id of the request it belongs to.

The request pipeline (``kindling.web.pipeline``) puts the request id in a
contextvar (``kindling.platform.storage.current_request_id``) for the duration of
a request. Worker threads see it too: Starlette's ``run_in_threadpool`` and
``anyio.to_thread.run_sync`` run the function in a copy of the caller's context.
``RequestIdFilter`` copies it onto each ``LogRecord`` as ``request_id`` (None
outside a request), in the thread that logs, so any formatter can use
``%(request_id)s``.

Two formats, chosen with ``kindling serve --log-format`` / ``KINDLING_LOG_FORMAT``:

* ``text`` (the default): ``2026-12-01T09:28:46.123Z INFO kindling.access [<id>] ...``,
  ``-`` in place of the id outside a request; tracebacks follow on further lines.
* ``json``: one JSON object per line, for every line (uvicorn's own lines too):
  ``time`` (UTC, RFC 3339), ``level``, ``logger``, ``message``, ``request_id``
  (null outside a request), the record's ``extra`` fields (the access log's
  ``method``, ``path``, ``status``, ``duration_ms``, ``client_ip``, ``entry_point``)
  and ``exception`` (the formatted traceback, newlines escaped) when there is one.

``logging_config`` is the ``dictConfig`` handed to uvicorn as ``log_config``, so
worker processes (``--workers N``) configure the same handlers when they start.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec

from kindling.platform.storage import current_request_id

__all__ = ["LOG_FORMATS", "JsonFormatter", "RequestIdFilter", "TextFormatter", "logging_config"]

LOG_FORMATS = ("text", "json")
#: The levels ``--log-level`` accepts (lower case on the command line), lowest first.
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

#: Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "taskName",
    # uvicorn duplicates its message with ANSI colours for its own formatter.
    "color_message",
}
_encode = msgspec.json.Encoder(enc_hook=repr).encode


def _request_id(record: logging.LogRecord) -> str | None:
    """The record's request id: set by ``RequestIdFilter``, else the current one."""
    found = getattr(record, "request_id", None)
    return found if found is not None else current_request_id.get()


def _utc(created: float) -> str:
    """``created`` as RFC 3339 UTC with milliseconds: ``2026-12-01T09:28:46.123Z``."""
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class RequestIdFilter(logging.Filter):
    """Stamp ``record.request_id`` with the current request's id (None outside a request).

    Attached to handlers, so it sees records propagated from every logger. A record
    that already names a request id (``extra={"request_id": ...}``) keeps it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id.get()
        return True


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger> [<request id or ->] <message>``, tracebacks on further lines."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line = (
            f"{_utc(record.created)} {record.levelname} {record.name} "
            f"[{_request_id(record) or '-'}] {message}"
        )
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module docstring for the keys)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id(record),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in out:
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return _encode(out).decode()


def logging_config(
    log_format: str, access_log: bool = True, log_level: str = "info"
) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` for ``kindling serve`` (uvicorn's ``log_config``).

    Application and uvicorn lines go to stderr, the access log (``kindling.access``,
    written by the request pipeline) to stdout, as uvicorn does with its own.
    uvicorn's access logger is silenced: the pipeline's access log replaces it.
    ``access_log=False`` (``--no-access-log``) raises ``kindling.access`` to WARNING,
    which the pipeline checks before building a line.

    ``log_level`` (``--log-level``, ``KINDLING_LOG_LEVEL``: ``debug`` ... ``critical``) is
    the level of Kindling's and uvicorn's loggers; other libraries log from WARNING up
    (or from ``log_level`` when it is higher), so ``debug`` shows Kindling's detail without
    every driver's. The access log keeps its own switch.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}: {log_format!r}")
    level = log_level.upper()
    if level not in _LEVELS:
        raise ValueError(f"log level must be one of {', '.join(_LEVELS).lower()}: {log_level!r}")
    root_level = level if _LEVELS.index(level) > _LEVELS.index("WARNING") else "WARNING"
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    handler = {"class": "logging.StreamHandler", "formatter": "kindling", "filters": ["request"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"kindling": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {**handler, "stream": "ext://sys.stderr"},
            "stdout": {**handler, "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "kindling": {"handlers": ["stderr"], "level": level, "propagate": False},
            "kindling.access": {
                "handlers": ["stdout"],
                "level": "INFO" if access_log else "WARNING",
                "propagate": False,
            },
        },
        "root": {"handlers": ["stderr"], "level": root_level},
    }
