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
from collections.abc import Sequence
from typing import TypeVar

import msgspec

from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError

T = TypeVar("T")
P = TypeVar("P")
DEFAULT_PAGE_SIZE = 10
TAG_SIZE = 12
MAX_PAGE_SIZE = 500


def parse_page_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise ValidationError("page_size must be an integer", Code.INVALID_PAGE_SIZE) from None
    if size < 1:
        raise ValidationError("page_size must be at least 1", Code.INVALID_PAGE_SIZE)
    if size > MAX_PAGE_SIZE:
        raise ValidationError(
            f"page_size cannot be greater than {MAX_PAGE_SIZE}", Code.PAGE_SIZE_LIMIT_EXCEEDED
        )
    return size


Position = int | tuple[str, int]


class CursorCodec:
    """Encodes and checks cursors; ``listing`` binds a cursor to one query.

    A position is the last sequence number returned, or ``(sort key, sequence)``
    for listings sorted by another column.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, listing: str, payload: bytes) -> bytes:
        return hmac.new(
            self._key, listing.encode("utf-8") + b"\0" + payload, hashlib.sha256
        ).digest()[:TAG_SIZE]

    def encode(self, listing: str, position: Position) -> str:
        payload = msgspec.json.encode(position)
        raw = payload + b"." + self._mac(listing, payload)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def _decode(self, listing: str, token: str) -> object:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise ValidationError("next_token is not valid", Code.INVALID_NEXT_TOKEN) from None
        # The tag is binary and may itself contain b"." (as may a JSON sort key), so split
        # at the tag's fixed length rather than at a separator.
        payload, dot, tag = raw[: -TAG_SIZE - 1], raw[-TAG_SIZE - 1 : -TAG_SIZE], raw[-TAG_SIZE:]
        if not payload or dot != b"." or not hmac.compare_digest(tag, self._mac(listing, payload)):
            raise ValidationError("next_token is not valid", Code.INVALID_NEXT_TOKEN)
        try:
            return msgspec.json.decode(payload)
        except msgspec.DecodeError:
            raise ValidationError("next_token is not valid", Code.INVALID_NEXT_TOKEN) from None

    def decode(self, listing: str, token: str | None) -> int | None:
        """Decode a sequence-number cursor (None when no token was sent)."""
        if not token:
            return None
        value = self._decode(listing, token)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError("next_token is not valid", Code.INVALID_NEXT_TOKEN)
        return value

    def decode_keyed(self, listing: str, token: str | None) -> tuple[str, int] | None:
        """Decode a ``(sort key, sequence)`` cursor."""
        if not token:
            return None
        value = self._decode(listing, token)
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not isinstance(value[0], str)
            or not isinstance(value[1], int)
        ):
            raise ValidationError("next_token is not valid", Code.INVALID_NEXT_TOKEN)
        return value[0], value[1]


def page(rows: Sequence[tuple[P, T]], size: int) -> tuple[list[T], P | None]:
    """Split ``size + 1`` fetched rows into the page and the cursor position, if more."""
    if len(rows) > size:
        return [item for _, item in rows[:size]], rows[size - 1][0]
    return [item for _, item in rows], None
