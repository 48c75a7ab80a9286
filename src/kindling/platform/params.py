"""Typed query parameters: what each one is and how its text becomes a value.

An operation declares its query parameters as ``QueryParam[T]`` values built by
``Query`` (``Query.page_size()``, ``Query.boolean("has_organization")``,
``Query.expand({"roles"})`` ...). Each carries its wire name, its OpenAPI type (for
our OpenAPI document and the Postman export), whether it is required, and a
converter that checks the raw text and answers Kinde's error code when it is wrong
(``INVALID_PAGE_SIZE``, ``INVALID_SORT``, ``INVALID_<NAME>`` for booleans, ...).

The web layer reads the declared parameters off the request (``read_query``:
repeats, NUL characters and missing required parameters are refused there) and
converts them before the handler runs (``convert_query``); the handler asks for
``call.param(PAGE_SIZE)`` and gets an ``int``, so mypy sees the real type and no
handler parses text by hand.

Blank values (``?sort=``) are as good as absent, except where a parameter says
otherwise (``blank_is_absent=False``), matching what each Kinde operation answers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, overload

from kindling.platform.codes import Code, DerivedCode, derived
from kindling.platform.errors import ValidationError
from kindling.platform.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, parse_page_size

T = TypeVar("T")

#: What a converter sees: the parameter's text as sent, or None when it was not sent.
Raw = str | None

_TRUE = ("true", "1")
_FALSE = ("false", "0")


@dataclass(frozen=True, eq=False)
class QueryParam(Generic[T]):
    """A declared query parameter whose value, once converted, is a ``T``.

    Identity is the declaration itself (``eq=False``): a handler can only read the
    parameters its operation declared, under the type they were declared with.
    """

    name: str
    convert: Callable[[Raw], T]
    #: The OpenAPI type, used where the contract has no declaration of its own.
    kind: str = "string"
    #: Absent is ``<NAME>_REQUIRED`` (checked by ``read_query``); blank still passes.
    required: bool = False


def _invalid(name: str) -> DerivedCode:
    return derived(f"INVALID_{name.upper()}")


def parse_bool(raw: Raw, name: str) -> bool | None:
    """A boolean query value: ``true``/``1`` or ``false``/``0`` in any case, blank is None.

    Anything else is ``INVALID_<NAME>`` (e.g. ``INVALID_HAS_ORGANIZATION``).
    """
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValidationError(f"{name} must be true or false", _invalid(name))


def parse_expand(raw: Raw, choices: Collection[str]) -> frozenset[str]:
    """Kinde's ``expand``: comma-separated names from ``choices``; blank is none.

    Spaces around names and empty items are ignored; an unknown name is ``INVALID_EXPAND``.
    """
    wanted = frozenset(p.strip() for p in (raw or "").split(",") if p.strip())
    if wanted - frozenset(choices):
        raise ValidationError(f"expand accepts {', '.join(sorted(choices))}", Code.INVALID_EXPAND)
    return wanted


def parse_choice(
    raw: Raw,
    name: str,
    choices: Collection[str],
    code: Code | DerivedCode | None = None,
    blank_is_absent: bool = True,
) -> str | None:
    """One of an enum's values, or None when absent (and, by default, when blank)."""
    if raw is None or (raw == "" and blank_is_absent):
        return None
    if raw not in choices:
        raise ValidationError(f"{name} must be one of {', '.join(choices)}", code or _invalid(name))
    return raw


class Query:
    """Builders of typed query-parameter declarations (a namespace, never instantiated)."""

    @overload
    @staticmethod
    def string(
        name: str, *, required: Literal[True], max_length: int | None = None
    ) -> QueryParam[str]: ...

    @overload
    @staticmethod
    def string(
        name: str, *, required: Literal[False] = False, max_length: int | None = None
    ) -> QueryParam[str | None]: ...

    @staticmethod
    def string(
        name: str, *, required: bool = False, max_length: int | None = None
    ) -> QueryParam[str] | QueryParam[str | None]:
        """Text passed through as sent (blank stays blank: services decide what it means).

        ``max_length`` (characters) answers ``<NAME>_TOO_LONG`` beyond it.
        """

        def convert(raw: Raw) -> str | None:
            if raw is not None and max_length is not None and len(raw) > max_length:
                raise ValidationError(
                    f"{name} must be at most {max_length} characters",
                    derived(f"{name.upper()}_TOO_LONG"),
                )
            return raw

        if required:
            return QueryParam(name, lambda raw: convert(raw) or "", required=True)
        return QueryParam(name, convert)

    @staticmethod
    def deep_object(name: str) -> QueryParam[str | None]:
        """A ``style: deepObject`` parameter (``properties[key]=v``): the plain ``name``
        pair as sent, if any; the handler reads the bracketed pairs from ``query_items``."""
        return QueryParam(name, lambda raw: raw, kind="object")

    @overload
    @staticmethod
    def integer(
        name: str,
        *,
        default: int,
        minimum: int | None = None,
        maximum: int | None = None,
        code: Code | DerivedCode | None = None,
    ) -> QueryParam[int]: ...

    @overload
    @staticmethod
    def integer(
        name: str,
        *,
        default: None = None,
        minimum: int | None = None,
        maximum: int | None = None,
        code: Code | DerivedCode | None = None,
    ) -> QueryParam[int | None]: ...

    @staticmethod
    def integer(
        name: str,
        *,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
        code: Code | DerivedCode | None = None,
    ) -> QueryParam[int] | QueryParam[int | None]:
        """A base-10 integer within ``minimum``..``maximum``; blank is ``default``.

        Out of range or not an integer is ``code`` (default ``INVALID_<NAME>``).
        """
        error = code or _invalid(name)

        def convert(raw: Raw) -> int | None:
            if raw is None or raw == "":
                return default
            try:
                value = int(raw)
            except ValueError:
                raise ValidationError(f"{name} must be an integer", error) from None
            if (minimum is not None and value < minimum) or (
                maximum is not None and value > maximum
            ):
                low = "" if minimum is None else f" at least {minimum}"
                high = "" if maximum is None else f" at most {maximum}"
                joined = " and".join(part for part in (low, high) if part)
                raise ValidationError(f"{name} must be{joined}", error)
            return value

        return QueryParam(name, convert, kind="integer")

    @staticmethod
    def page_size(
        *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE
    ) -> QueryParam[int]:
        """Kinde's ``page_size`` (``INVALID_PAGE_SIZE``, ``PAGE_SIZE_LIMIT_EXCEEDED``)."""
        return QueryParam(
            "page_size", lambda raw: parse_page_size(raw, default, maximum), kind="integer"
        )

    @overload
    @staticmethod
    def boolean(name: str, *, default: bool) -> QueryParam[bool]: ...

    @overload
    @staticmethod
    def boolean(name: str, *, default: None = None) -> QueryParam[bool | None]: ...

    @staticmethod
    def boolean(
        name: str, *, default: bool | None = None
    ) -> QueryParam[bool] | QueryParam[bool | None]:
        """``true``/``false`` (or ``1``/``0``); blank is ``default``; else ``INVALID_<NAME>``."""

        def convert(raw: Raw) -> bool | None:
            value = parse_bool(raw, name)
            return default if value is None else value

        return QueryParam(name, convert, kind="boolean")

    @overload
    @staticmethod
    def enum(
        name: str,
        choices: Iterable[str],
        *,
        default: str,
        code: Code | DerivedCode | None = None,
        blank_is_absent: bool = True,
    ) -> QueryParam[str]: ...

    @overload
    @staticmethod
    def enum(
        name: str,
        choices: Iterable[str],
        *,
        default: None = None,
        code: Code | DerivedCode | None = None,
        blank_is_absent: bool = True,
    ) -> QueryParam[str | None]: ...

    @staticmethod
    def enum(
        name: str,
        choices: Iterable[str],
        *,
        default: str | None = None,
        code: Code | DerivedCode | None = None,
        blank_is_absent: bool = True,
    ) -> QueryParam[str] | QueryParam[str | None]:
        """One of ``choices`` (in their order in messages); absent is ``default``.

        Anything else is ``code`` (default ``INVALID_<NAME>``, e.g. ``INVALID_SORT``).
        Where Kinde refuses a blank value too, say ``blank_is_absent=False``.
        """
        allowed = tuple(choices)
        if default is not None and default not in allowed:
            raise ValueError(f"the default {default!r} is not one of {allowed}")

        def convert(raw: Raw) -> str | None:
            value = parse_choice(raw, name, allowed, code, blank_is_absent)
            return default if value is None else value

        return QueryParam(name, convert)

    @staticmethod
    def cursor(name: str = "next_token") -> QueryParam[str | None]:
        """An opaque keyset cursor (blank is none). It is decoded by
        ``pagination.keyset_page`` against the listing it must belong to, so a bad one
        is ``INVALID_NEXT_TOKEN`` there."""
        return QueryParam(name, lambda raw: raw or None)

    @staticmethod
    def starting_after(name: str = "starting_after") -> QueryParam[str | None]:
        """Kinde's id cursors (``starting_after`` / ``ending_before``): the id of the item
        to page from, blank is none; the service looks it up (``INVALID_STARTING_AFTER``)."""
        return QueryParam(name, lambda raw: raw or None)

    @staticmethod
    def ending_before() -> QueryParam[str | None]:
        """``ending_before``: the id cursor that pages backwards."""
        return Query.starting_after("ending_before")

    @staticmethod
    def expand(choices: Iterable[str]) -> QueryParam[frozenset[str]]:
        """Kinde's ``expand`` (comma-separated); an unknown name is ``INVALID_EXPAND``."""
        allowed = frozenset(choices)
        return QueryParam("expand", lambda raw: parse_expand(raw, allowed))


def read_query(
    declared: Iterable[QueryParam[Any]], values: Callable[[str], list[str]]
) -> dict[str, str]:
    """The declared parameters' raw text, from ``values(name)`` (every value sent).

    A parameter sent twice is ``REPEATED_PARAMETER``; one holding a NUL character is
    ``INVALID_PARAMETER`` (no database accepts it in text); a required one that was
    not sent is ``<NAME>_REQUIRED``. Undeclared parameters are ignored, as Kinde does.
    """
    found: dict[str, str] = {}
    for param in declared:
        items = values(param.name)
        if len(items) > 1:
            raise ValidationError(f"{param.name} is repeated", Code.REPEATED_PARAMETER)
        if items:
            if "\x00" in items[0]:
                raise ValidationError(
                    f"{param.name} contains a NUL character", Code.INVALID_PARAMETER
                )
            found[param.name] = items[0]
        elif param.required:
            raise ValidationError(
                f"{param.name} is required", derived(f"{param.name.upper()}_REQUIRED")
            )
    return found


def convert_query(
    declared: Iterable[QueryParam[Any]], raw: Mapping[str, str]
) -> dict[QueryParam[Any], Any]:
    """Convert each declared parameter, in declaration order (the first error wins)."""
    return {param: param.convert(raw.get(param.name)) for param in declared}


#: The parameters most listings share.
PAGE_SIZE = Query.page_size()
NEXT_TOKEN = Query.cursor()
STARTING_AFTER = Query.starting_after()
ENDING_BEFORE = Query.ending_before()
