"""Opaque, tamper-evident ``next_token`` cursors for keyset pagination.

Kinde pages with ``page_size`` (default 10, at most 500) and an opaque
``next_token``. Ours encodes the last sequence number returned and the listing
it belongs to, MAC'd with a key derived from the master key, so a tampered or
foreign token is refused with 400 instead of silently paging elsewhere. Keyset
pagination costs the same on page 10,000 as on page 1 (no OFFSET scan).
"""

import base64
import binascii
import hashlib
import hmac
from typing import TypeVar

from kindling.errors import ValidationError

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 500


def parse_page_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise ValidationError("page_size must be an integer", "INVALID_PAGE_SIZE") from None
    if size < 1:
        raise ValidationError("page_size must be at least 1", "INVALID_PAGE_SIZE")
    if size > MAX_PAGE_SIZE:
        raise ValidationError(
            f"page_size cannot be greater than {MAX_PAGE_SIZE}", "PAGE_SIZE_LIMIT_EXCEEDED"
        )
    return size


class CursorCodec:
    """Encodes and checks cursors; ``listing`` binds a cursor to one query."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:12]

    def encode(self, listing: str, after: int) -> str:
        payload = f"{after}".encode("ascii")
        tag = self._mac(listing.encode("utf-8") + b"\0" + payload)
        return base64.urlsafe_b64encode(payload + b"." + tag).rstrip(b"=").decode("ascii")

    def decode(self, listing: str, token: str | None) -> int | None:
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            payload, _, tag = raw.partition(b".")
            after = int(payload.decode("ascii"))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise ValidationError("next_token is not valid", "INVALID_NEXT_TOKEN") from None
        expected = self._mac(listing.encode("utf-8") + b"\0" + payload)
        if not hmac.compare_digest(tag, expected):
            raise ValidationError("next_token is not valid", "INVALID_NEXT_TOKEN")
        return after


def page(rows: list[tuple[int, T]], size: int) -> tuple[list[T], int | None]:
    """Split ``size + 1`` fetched rows into the page and the cursor position, if more."""
    if len(rows) > size:
        return [item for _, item in rows[:size]], rows[size - 1][0]
    return [item for _, item in rows], None
