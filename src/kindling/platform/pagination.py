"""Opaque, tamper-evident ``next_token`` cursors for keyset pagination.

Kinde pages with ``page_size`` (default 10, at most 500) and an opaque
``next_token``. Ours encodes the last sequence number returned and the listing
it belongs to, MAC'd with a key derived from the master key, so a tampered or
foreign token is refused with 400 instead of silently paging elsewhere. Keyset
pagination costs the same on page 10,000 as on page 1 (no OFFSET scan).

``keyset_page`` is the one way a listing route turns ``sort`` / ``page_size`` /
``next_token`` into a page: it decodes the incoming token against the listing (and
sort) it must belong to, runs the fetch, and encodes the next token the same way.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import TypeVar

import msgspec

from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError

T = TypeVar("T")
P = TypeVar("P")
DEFAULT_PAGE_SIZE = 10
TAG_SIZE = 12
MAX_PAGE_SIZE = 500


def parse_page_size(
    raw: str | None, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE
) -> int:
    """Kinde's ``page_size``: absent or blank is ``default``; 1..``maximum`` otherwise.

    A non-integer or a size below 1 is ``INVALID_PAGE_SIZE``; above the maximum,
    ``PAGE_SIZE_LIMIT_EXCEEDED`` (Kinde's two codes for the parameter).
    """
    if raw is None or raw == "":
        return default
    try:
        size = int(raw)
    except ValueError:
        raise ValidationError("page_size must be an integer", Code.INVALID_PAGE_SIZE) from None
    if size < 1:
        raise ValidationError("page_size must be at least 1", Code.INVALID_PAGE_SIZE)
    if size > maximum:
        raise ValidationError(
            f"page_size cannot be greater than {maximum}", Code.PAGE_SIZE_LIMIT_EXCEEDED
        )
    return size


Position = int | tuple[str, int]


class CursorCodec:
    """Encodes and checks cursors; ``listing`` binds a cursor to one query.

    A position is the last sequence number returned, or ``(sort key, sequence)``
    for listings sorted by another column.
    """

    def __init__(self, key: bytes) -> None:
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def _mac(self, listing: str, payload: bytes) -> bytes:
        # A copy of the keyed HMAC: about half of what keying a new one costs.
        mac = self._keyed.copy()
        mac.update(listing.encode("utf-8") + b"\0" + payload)
        return mac.digest()[:TAG_SIZE]

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


Keyed = tuple[str, int]
#: ``(after, page size) -> (page, position of its last item if more follow)`` in creation order.
SequenceFetch = Callable[[int | None, int], tuple[list[T], int | None]]
#: The same for a listing ordered by a sort key: positions are ``(sort key, sequence)``.
KeyedFetch = Callable[[Keyed | None, int], tuple[list[T], Keyed | None]]
#: A keyed fetch for one of the listing's ``sort`` values (the value is its first argument).
SortedFetch = Callable[[str, Keyed | None, int], tuple[list[T], Keyed | None]]


def keyset_page(
    cursors: CursorCodec,
    listing: str,
    size: int,
    token: str | None,
    *,
    sort: str | None = None,
    by_sequence: SequenceFetch[T] | None = None,
    by_sort: SortedFetch[T] | None = None,
    by_key: KeyedFetch[T] | None = None,
) -> tuple[list[T], str | None]:
    """One page of a keyset listing and the ``next_token`` of the page after it (or None).

    ``listing`` names the query and everything that narrows it (e.g. ``roles`` or
    ``role_permissions|<role id>``). With a ``sort`` the page comes from ``by_sort`` and
    its token is bound to ``listing|sort``; without one, from ``by_sequence`` (creation
    order) or else ``by_key``, bound to ``listing``. A token therefore only pages the
    listing and the order it came from: any other use is ``INVALID_NEXT_TOKEN``.
    """
    if sort is not None:
        if by_sort is None:
            raise TypeError(f"the {listing} listing has no sorted fetch")
        bound = f"{listing}|{sort}"
        items, key = by_sort(sort, cursors.decode_keyed(bound, token), size)
        return items, None if key is None else cursors.encode(bound, key)
    if by_sequence is not None:
        items, position = by_sequence(cursors.decode(listing, token), size)
        return items, None if position is None else cursors.encode(listing, position)
    if by_key is None:
        raise TypeError(f"the {listing} listing has no unsorted fetch")
    items, key = by_key(cursors.decode_keyed(listing, token), size)
    return items, None if key is None else cursors.encode(listing, key)
