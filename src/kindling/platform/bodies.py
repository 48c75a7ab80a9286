"""Request bodies as msgspec Structs: one declared shape per body, checked field by field.

A body Struct names the fields an operation reads, with Kinde's field names. Its
fields are typed ``object`` on purpose: converting a JSON object into it never fails
on a field's value, so every wrong value still reaches the service's own validator
and is answered with the catalogue code the Management API has always given for it
(``NAME_REQUIRED``, ``INVALID_KEY``, ...), never with a generic decoding error.

Two defaults say what a client's omission means. ``None`` where an absent field and a
null one mean the same ("not given"); ``UNSET`` where they differ, as in a PATCH whose
null ``description`` clears it while an absent one keeps it (``given`` tells them
apart, ``or_none`` folds them together). Unknown fields are ignored, as Kinde ignores
them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from kindling.platform.codes import Code, DerivedCode
from kindling.platform.errors import ValidationError

__all__ = ["UNSET", "Body", "decode_body", "given", "or_none"]

#: The default of a field whose absence differs from null (``msgspec.UNSET``).
UNSET: Any = msgspec.UNSET

S = TypeVar("S", bound=msgspec.Struct)


class Body(msgspec.Struct, kw_only=True, frozen=True):
    """A convenient base for body Structs: keyword-only and immutable.

    Subclass it as ``class XBody(Body, frozen=True)``: mypy reads Structs as dataclasses
    and refuses a non-frozen one inheriting from a frozen one, so the flag is repeated.
    """


def decode_body(
    value: object,
    shape: type[S],
    message: str = "the request body must be a JSON object",
    code: Code | DerivedCode = Code.INVALID_BODY,
) -> S:
    """Convert a decoded JSON object (or a nested one) into ``shape``.

    None (an absent or null object) gives ``shape``'s defaults; anything but an object
    raises ``ValidationError(message, code)``; a ``shape`` instance is returned as is,
    so services accept either form.
    """
    if isinstance(value, shape):
        return value
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ValidationError(message, code)
    try:
        return msgspec.convert(dict(value), shape)
    except msgspec.ValidationError:
        # Fields are ``object``, so only a non-string key gets here; JSON cannot send one.
        raise ValidationError(message, code) from None


def given(value: object) -> bool:
    """True when the client sent the field (even as null); for ``UNSET``-default fields."""
    return value is not msgspec.UNSET


def or_none(value: object) -> object:
    """The field's value, with ``UNSET`` (absent) read as None (null)."""
    return None if value is msgspec.UNSET else value
