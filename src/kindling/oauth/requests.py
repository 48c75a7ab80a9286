"""Parsing of token requests (RFC 6749 §3.2, §2.3.1, Appendix B).

The body must be ``application/x-www-form-urlencoded`` in UTF-8. Parameters
sent without a value are treated as omitted; a parameter other than
``audience`` must not be repeated (§3.1); unknown parameters are ignored.
"""

import base64
import binascii
import re
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from kindling.oauth.errors import InvalidClientError, InvalidRequestError

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_BODY = 65_536
#: Parameters that may appear more than once (RFC 8707 allows several resources/audiences).
MULTI_VALUED = frozenset({"audience", "resource"})
#: A ``%`` not followed by two hex digits (A12 row 4: malformed form input).
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class BasicCredentials:
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class TokenRequest:
    """A token request after wire parsing, before any validation against storage."""

    params: dict[str, str]
    audiences: tuple[str, ...] = ()
    basic: BasicCredentials | None = None
    basic_realm: str = "kindling"
    multi: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.params.get(name)


#: Parameters whose decoded values are remembered (``_form_decode``): public, and the same
#: in request after request of a client. Never ``client_secret`` or a ``token``.
REMEMBERED = frozenset({"grant_type", "audience", "resource", "scope", "client_id"})
_REMEMBER_MAX = 256
_REMEMBERED_KEPT = 1024
_decoded: dict[str, str] = {}


def _form_decode(text: str, remember: bool = False) -> str:
    """``+`` and percent-escapes decoded (Appendix B), strictly as UTF-8.

    With ``remember``, a short text's decoding is kept (at most ``_REMEMBERED_KEPT``):
    ``unquote_plus`` is pure Python, and a client sends the same escaped ``audience`` and
    ``scope`` (``http%3A%2F%2F…``, ``read%3Ausers+…``) every time: decoding them cost
    43 k instructions per token request (bench/token_instructions.py under cachegrind,
    2 scopes: 6.809 M without the memo, 6.765 M with it).
    """
    if "%" not in text and "+" not in text:
        return text
    if not remember or len(text) > _REMEMBER_MAX:
        return unquote_plus(text, encoding="utf-8", errors="strict")
    found = _decoded.get(text)
    if found is None:
        found = unquote_plus(text, encoding="utf-8", errors="strict")
        if len(_decoded) >= _REMEMBERED_KEPT:
            _decoded.clear()
        _decoded[text] = found
    return found


def check_content_type(content_type: str | None) -> None:
    """Accept ``application/x-www-form-urlencoded`` with an optional UTF-8 charset."""
    if not content_type:
        raise InvalidRequestError(f"the request body must be {FORM_CONTENT_TYPE}")
    media, _, rest = content_type.partition(";")
    if media.strip().lower() != FORM_CONTENT_TYPE:
        raise InvalidRequestError(f"the request body must be {FORM_CONTENT_TYPE}")
    for part in rest.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise InvalidRequestError("the request body must be encoded in UTF-8")


def parse_basic(header: str | None, realm: str) -> BasicCredentials | None:
    """Decode ``Authorization: Basic``; id and secret are form-decoded after base64."""
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    challenge = {"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'}
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise ValueError("no colon")
        client_id, secret = _form_decode(client_id), _form_decode(secret)
        if "\x00" in client_id or "\x00" in secret:
            raise ValueError("NUL character")
        return BasicCredentials(client_id, secret)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidClientError(
            "the Basic authorization header is malformed", headers=challenge
        ) from None


def parse_token_request(
    body: bytes, content_type: str | None, authorization: str | None, realm: str = "kindling"
) -> TokenRequest:
    """Turn the raw request into a TokenRequest or raise the matching OAuthError."""
    check_content_type(content_type)
    if len(body) > MAX_BODY:
        raise InvalidRequestError("the request body is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError("the request body is not valid UTF-8") from None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    seen: set[str] = set()
    for pair in text.split("&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition("=")
        if "%" in pair and _BAD_ESCAPE.search(pair):
            raise InvalidRequestError("the request body has a malformed percent-escape")
        try:
            name = _form_decode(raw_name)
            value = _form_decode(raw_value, name in REMEMBERED)
        except UnicodeDecodeError:
            raise InvalidRequestError("the request body is not valid UTF-8") from None
        if "\x00" in name or "\x00" in value:
            raise InvalidRequestError("the request body contains a NUL character")
        if name in MULTI_VALUED:
            if value:
                multi.setdefault(name, []).append(value)
            continue
        if name in seen:
            raise InvalidRequestError(f"the parameter {name} is repeated")
        seen.add(name)
        if value:
            single[name] = value
    audiences = tuple(dict.fromkeys(multi.get("audience", [])))
    return TokenRequest(
        params=single,
        audiences=audiences,
        basic=parse_basic(authorization, realm),
        basic_realm=realm,
        multi={k: tuple(v) for k, v in multi.items()},
    )
