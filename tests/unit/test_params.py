"""Typed query parameters, the keyset pagination helper, and the Call accessor (no I/O).

The HTTP behaviour (the same codes over real servers, both engines) is covered by the
resource modules' tests; these pin the parsing rules each declaration answers with.
"""

from __future__ import annotations

from typing import Any

import pytest

from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError
from kindling.platform.operations import Call, Router
from kindling.platform.pagination import (
    MAX_PAGE_SIZE,
    CursorCodec,
    Keyed,
    keyset_page,
    parse_page_size,
)
from kindling.platform.params import (
    NEXT_TOKEN,
    PAGE_SIZE,
    Query,
    QueryParam,
    convert_query,
    parse_bool,
    parse_expand,
    read_query,
)


def code_of(param: QueryParam[Any], raw: str | None) -> str:
    with pytest.raises(ValidationError) as caught:
        param.convert(raw)
    return caught.value.code


# --- page_size ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, 10), ("", 10), ("1", 1), ("500", 500), ("25", 25)]
)
def test_page_size_defaults_and_bounds(raw: str | None, expected: int) -> None:
    assert PAGE_SIZE.convert(raw) == expected
    assert PAGE_SIZE.kind == "integer" and PAGE_SIZE.name == "page_size"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("0", "INVALID_PAGE_SIZE"),
        ("-1", "INVALID_PAGE_SIZE"),
        ("ten", "INVALID_PAGE_SIZE"),
        ("1.5", "INVALID_PAGE_SIZE"),
        ("501", "PAGE_SIZE_LIMIT_EXCEEDED"),
    ],
)
def test_page_size_errors_are_kindes_codes(raw: str, code: str) -> None:
    assert code_of(PAGE_SIZE, raw) == code


def test_page_size_with_its_own_default() -> None:
    everything = Query.page_size(default=MAX_PAGE_SIZE)
    assert everything.convert(None) == MAX_PAGE_SIZE
    assert everything.convert("3") == 3
    assert parse_page_size("7", default=1, maximum=7) == 7
    with pytest.raises(ValidationError):
        parse_page_size("8", default=1, maximum=7)


# --- booleans, enums, expand, integers, strings ---------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("false", False), ("False", False), ("0", False)],
)
def test_boolean_values(raw: str, expected: bool) -> None:
    assert Query.boolean("has_organization").convert(raw) is expected
    assert parse_bool(raw, "x") is expected


def test_boolean_blank_is_the_default_and_garbage_is_invalid_name() -> None:
    optional = Query.boolean("has_organization")
    defaulted = Query.boolean("include_revoked", default=False)
    assert optional.convert(None) is None and optional.convert("") is None
    assert defaulted.convert(None) is False and defaulted.convert("") is False
    assert optional.kind == "boolean"
    assert code_of(optional, "maybe") == "INVALID_HAS_ORGANIZATION"
    assert code_of(defaulted, "yes") == "INVALID_INCLUDE_REVOKED"


def test_enum_choices_blank_and_default() -> None:
    sort = Query.enum("sort", ("name_asc", "name_desc"))
    assert sort.convert("name_desc") == "name_desc"
    assert sort.convert(None) is None and sort.convert("") is None
    assert code_of(sort, "id_asc") == "INVALID_SORT"
    # Case matters: Kinde's enums are lower-case words.
    assert code_of(sort, "NAME_ASC") == "INVALID_SORT"
    strict = Query.enum("sort", ("name_asc",), blank_is_absent=False)
    assert strict.convert(None) is None
    assert code_of(strict, "") == "INVALID_SORT"
    defaulted = Query.enum("sort", ("created_on_asc", "email_asc"), default="created_on_asc")
    assert defaulted.convert(None) == "created_on_asc"
    assert defaulted.convert("email_asc") == "email_asc"
    context = Query.enum("context", {"usr": 1, "org": 2})
    assert code_of(context, "team") == "INVALID_CONTEXT"
    custom = Query.enum("status", ("active",), code=Code.INVALID_STATUS)
    assert code_of(custom, "gone") == "INVALID_STATUS"
    with pytest.raises(ValueError):
        Query.enum("sort", ("a",), default="b")


def test_expand() -> None:
    expand = Query.expand({"organizations", "identities"})
    assert expand.convert(None) == frozenset()
    assert expand.convert("") == frozenset()
    assert expand.convert(" identities , organizations,,") == {"identities", "organizations"}
    assert code_of(expand, "identities,billing") == "INVALID_EXPAND"
    assert parse_expand("roles", {"roles"}) == {"roles"}


def test_integer_bounds_and_codes() -> None:
    grace = Query.integer("grace_seconds", minimum=0, maximum=60)
    assert grace.convert(None) is None and grace.convert("") is None
    assert grace.convert("60") == 60
    assert code_of(grace, "61") == "INVALID_GRACE_SECONDS"
    assert code_of(grace, "-1") == "INVALID_GRACE_SECONDS"
    assert code_of(grace, "soon") == "INVALID_GRACE_SECONDS"
    defaulted = Query.integer("n", default=3, code=Code.INVALID_VALUE)
    assert defaulted.convert(None) == 3
    assert code_of(defaulted, "x") == "INVALID_VALUE"


def test_strings_cursors_and_id_cursors() -> None:
    name = Query.string("name", required=True, max_length=5)
    assert name.required and name.convert("") == "" and name.convert("abcde") == "abcde"
    assert code_of(name, "abcdef") == "NAME_TOO_LONG"
    assert Query.string("email").convert(None) is None
    # Plain strings pass blank through: services decide what an empty filter means.
    assert Query.string("email").convert("") == ""
    assert NEXT_TOKEN.convert("") is None and NEXT_TOKEN.convert("abc") == "abc"
    after = Query.starting_after()
    assert after.name == "starting_after" and after.convert("") is None
    assert Query.ending_before().name == "ending_before"
    assert Query.deep_object("properties").kind == "object"


# --- reading and converting a query ----------------------------------------------------------


def multi(pairs: dict[str, list[str]]) -> Any:
    return lambda name: pairs.get(name, [])


def test_read_query_refuses_repeats_nuls_and_missing_required() -> None:
    code = Query.string("code", required=True)
    declared = (code, PAGE_SIZE)
    assert read_query(declared, multi({"code": ["org_1"], "other": ["x"]})) == {"code": "org_1"}
    for pairs, expected in (
        ({"code": ["a", "b"]}, "REPEATED_PARAMETER"),
        ({"code": ["a\x00b"]}, "INVALID_PARAMETER"),
        ({"page_size": ["5"]}, "CODE_REQUIRED"),
    ):
        with pytest.raises(ValidationError) as caught:
            read_query(declared, multi(pairs))
        assert caught.value.code == expected


def test_convert_query_in_declaration_order() -> None:
    sort = Query.enum("sort", ("name_asc",))
    values = convert_query((sort, PAGE_SIZE), {"page_size": "3"})
    assert values == {sort: None, PAGE_SIZE: 3}
    with pytest.raises(ValidationError) as caught:
        convert_query((sort, PAGE_SIZE), {"sort": "x", "page_size": "x"})
    assert caught.value.code == "INVALID_SORT"


def test_call_param_is_typed_and_only_for_declared_parameters() -> None:
    call = Call(ctx=None, principal=None, path={}, query={"page_size": "4"}, raw_body=b"")  # type: ignore[arg-type]
    call.bind_query((PAGE_SIZE, NEXT_TOKEN))
    size: int = call.param(PAGE_SIZE)
    assert size == 4 and call.param(NEXT_TOKEN) is None
    with pytest.raises(LookupError):
        call.param(Query.boolean("undeclared"))


def test_an_operation_cannot_declare_a_parameter_twice() -> None:
    router = Router("Test")
    with pytest.raises(ValueError):
        router.operation(
            "GET", "/x", scope=None, operation_id="x", query=(PAGE_SIZE, Query.page_size())
        )


# --- keyset_page ---------------------------------------------------------------------------


ITEMS = [("b", 1), ("a", 2), ("c", 3), ("a", 4), ("d", 5)]


def by_sequence(after: int | None, size: int) -> tuple[list[str], int | None]:
    rows = [(seq, f"{name}{seq}") for name, seq in ITEMS if after is None or seq > after]
    page = rows[:size]
    return [item for _, item in page], page[-1][0] if len(rows) > size else None


def by_sort(sort: str, after: Keyed | None, size: int) -> tuple[list[str], Keyed | None]:
    descending = sort.endswith("_desc")
    ordered = sorted(ITEMS, reverse=descending)
    if after is not None:
        ordered = [p for p in ordered if (p < after if descending else p > after)]
    page = ordered[:size]
    return [f"{n}{s}" for n, s in page], page[-1] if len(ordered) > size else None


def walk(codec: CursorCodec, size: int, sort: str | None) -> list[str]:
    seen: list[str] = []
    token: str | None = None
    while True:
        items, token = keyset_page(
            codec, "things", size, token, sort=sort, by_sequence=by_sequence, by_sort=by_sort
        )
        seen += items
        if token is None:
            return seen


@pytest.mark.parametrize("size", [1, 2, 3, 5, 6])
def test_keyset_page_walks_every_item_once_in_each_order(size: int) -> None:
    codec = CursorCodec(bytes(range(32)))
    assert walk(codec, size, None) == ["b1", "a2", "c3", "a4", "d5"]
    assert walk(codec, size, "name_asc") == ["a2", "a4", "b1", "c3", "d5"]
    assert walk(codec, size, "name_desc") == ["d5", "c3", "b1", "a4", "a2"]


def test_a_token_only_pages_its_listing_and_order() -> None:
    codec = CursorCodec(bytes(range(32)))
    _, unsorted = keyset_page(codec, "things", 2, None, by_sequence=by_sequence, by_sort=by_sort)
    _, ascending = keyset_page(
        codec, "things", 2, None, sort="name_asc", by_sequence=by_sequence, by_sort=by_sort
    )
    assert unsorted is not None and ascending is not None
    for listing, token, sort in (
        ("things", unsorted, "name_asc"),
        ("things", ascending, None),
        ("things", ascending, "name_desc"),
        ("others", unsorted, None),
        ("things", unsorted[:-2], None),
    ):
        with pytest.raises(ValidationError) as caught:
            keyset_page(
                codec, listing, 2, token, sort=sort, by_sequence=by_sequence, by_sort=by_sort
            )
        assert caught.value.code == "INVALID_NEXT_TOKEN"


def test_keyset_page_keyed_listing_without_sort() -> None:
    codec = CursorCodec(bytes(range(32)))

    def by_key(after: Keyed | None, size: int) -> tuple[list[str], Keyed | None]:
        return by_sort("name_asc", after, size)

    items, token = keyset_page(codec, "apis", 3, None, by_key=by_key)
    assert items == ["a2", "a4", "b1"] and token is not None
    assert keyset_page(codec, "apis", 3, token, by_key=by_key) == (["c3", "d5"], None)
    with pytest.raises(TypeError):
        keyset_page(codec, "apis", 3, None, sort="name_asc", by_key=by_key)
    with pytest.raises(TypeError):
        keyset_page(codec, "apis", 3, None)
