"""User search (Kinde's ``GET /search/users``).

``query`` is ``*`` (or empty) for everyone; an email address is looked up exactly on
the identities' unique index; anything else is split into words and each word must
match the user id exactly or be a case-insensitive substring of the first name, last
name, or an email, username or phone identity. ``properties`` keeps users whose value
of each property is one of the given values; ``api_scopes`` (comma-separated scope
keys) keeps users granted every one of them in some organization. Results are in
creation order and paged by user id with ``starting_after`` / ``ending_before``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError
from kindling.platform.storage import Storage
from kindling.resources.users.model import Identity, User, normalize_identity
from kindling.resources.users.repository import USERS_REPO

EXPANSIONS = frozenset({"organizations", "identities", "properties"})
MAX_TERMS = 10
TERM_MAX = 254
MAX_FILTERS = 100
FILTER_VALUE_MAX = 1024
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")


@dataclass(frozen=True)
class SearchResult:
    user: User
    organizations: list[str] = field(default_factory=list)
    identities: Sequence[Identity] = ()
    properties: dict[str, str] = field(default_factory=dict)
    api_scopes: list[tuple[str, str, str]] = field(default_factory=list)


def _query(raw: str | None) -> tuple[list[str], str | None]:
    text = (raw or "").strip()
    if not text or text == "*":
        return [], None
    if any(ord(ch) < 0x20 for ch in text):
        raise ValidationError("query contains control characters", Code.INVALID_QUERY)
    if _EMAIL.fullmatch(text):
        if len(text) > TERM_MAX:
            raise ValidationError("query is too long", Code.QUERY_TOO_LONG)
        return [], normalize_identity("email", text)
    terms = text.split()
    if len(terms) > MAX_TERMS or any(len(t) > TERM_MAX for t in terms):
        raise ValidationError("query is too long", Code.QUERY_TOO_LONG)
    return terms, None


def _scopes(raw: str | None) -> list[str]:
    keys = [k.strip() for k in (raw or "").split(",") if k.strip()]
    if len(keys) > MAX_FILTERS:
        raise ValidationError(f"at most {MAX_FILTERS} api_scopes", Code.TOO_MANY_FILTER_VALUES)
    return list(dict.fromkeys(keys))


def check_properties(properties: dict[str, list[str]]) -> dict[str, list[str]]:
    if len(properties) > MAX_FILTERS or sum(len(v) for v in properties.values()) > MAX_FILTERS:
        raise ValidationError(
            f"at most {MAX_FILTERS} property filter values", Code.TOO_MANY_FILTER_VALUES
        )
    for key, values in properties.items():
        if not key or not values:
            raise ValidationError(
                "each property filter needs a key and values", Code.INVALID_PROPERTIES
            )
        if any(len(v) > FILTER_VALUE_MAX for v in values):
            raise ValidationError("a property filter value is too long", Code.INVALID_PROPERTIES)
    return properties


def search_users(
    storage: Storage,
    size: int,
    query: str | None = None,
    starting_after: str | None = None,
    ending_before: str | None = None,
    api_scopes: str | None = None,
    properties: dict[str, list[str]] | None = None,
    expand: frozenset[str] | set[str] = frozenset(),
) -> list[SearchResult]:
    if starting_after and ending_before:
        raise ValidationError(
            "only one of starting_after and ending_before may be given", Code.TOO_MANY_PARAMETERS
        )
    terms, exact_email = _query(query)
    scopes = _scopes(api_scopes)
    filters = check_properties(properties or {})
    with storage.read() as uow:
        after = before = None
        if starting_after:
            after = uow[USERS_REPO].seq_of(starting_after)
            if after is None:
                raise ValidationError(
                    "starting_after is not a user id", Code.INVALID_STARTING_AFTER
                )
        if ending_before:
            before = uow[USERS_REPO].seq_of(ending_before)
            if before is None:
                raise ValidationError("ending_before is not a user id", Code.INVALID_ENDING_BEFORE)
        if filters:
            known = uow[USERS_REPO].properties_exist(list(filters))
            unknown = [k for k in filters if k not in known]
            if unknown:
                raise ValidationError(f"Property not found: {unknown[0]}", Code.PROPERTY_NOT_FOUND)
        users = uow[USERS_REPO].search(
            after,
            before,
            size,
            terms=terms,
            exact_email=exact_email,
            properties=filters,
            api_scopes=scopes,
        )
        ids = [u.id for u in users]
        orgs = uow[USERS_REPO].organizations(ids) if "organizations" in expand else {}
        idents = uow[USERS_REPO].identities(ids) if "identities" in expand else {}
        props = uow[USERS_REPO].property_values(ids) if "properties" in expand else {}
        grants = uow[USERS_REPO].api_scopes(ids)
    return [
        SearchResult(
            user=msgspec.structs.replace(u, identities=tuple(idents.get(u.id, []))),
            organizations=orgs.get(u.id, []),
            identities=idents.get(u.id, []),
            properties=props.get(u.id, {}),
            api_scopes=grants.get(u.id, []),
        )
        for u in users
    ]
