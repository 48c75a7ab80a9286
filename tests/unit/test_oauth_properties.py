"""Property tests of the token endpoint's wire parsing (no I/O).

``parse_token_request`` reads the body of ``/oauth2/token`` (and of introspection and
revocation): RFC 6749 §3.2 and Appendix B, ``application/x-www-form-urlencoded`` in
UTF-8, no parameter but ``audience``/``resource`` repeated (§3.1). ``parse_basic``
reads ``Authorization: Basic`` (RFC 7617), inside which RFC 6749 §2.3.1 has the client
id and secret form-encoded and joined by a colon: the first colon splits them, since
an encoded id carries its own colons as ``%3A``. Whatever a client sends, the answer is
a parsed request or an OAuth error (``invalid_request`` 400, ``invalid_client`` 401),
never another exception, which would be a 500 on the hottest path.

The number of examples is bounded so the module runs in a few seconds; the seed is
fixed so a CI failure is the same failure locally.
"""

from __future__ import annotations

import base64
from urllib.parse import quote_plus, urlencode

import pytest
from hypothesis import HealthCheck, example, given, seed, settings
from hypothesis import strategies as st

from kindling.oauth.errors import InvalidClientError, InvalidRequestError, OAuthError
from kindling.oauth.requests import (
    FORM_CONTENT_TYPE,
    MAX_BODY,
    MULTI_VALUED,
    BasicCredentials,
    TokenRequest,
    parse_basic,
    parse_token_request,
)

SEED = 6749
BOUNDED = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# -- strategies ---------------------------------------------------------------------

#: Text a client may legitimately send: any Unicode but surrogates (not encodable in
#: UTF-8) and NUL (refused everywhere: no identifier holds it).
CLEAN_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
#: Bytes that look like a form: the separators, escapes (good and broken), ``+``,
#: NUL, invalid UTF-8 and multi-byte characters, mixed with letters.
FORM_PIECES = st.sampled_from(
    [b"&", b"=", b"+", b"%", b"%2", b"%zz", b"%41", b"%3D", b"%26", b"%00", b"%C3%A9", b"%FF"]
    + [b"\xff", b"\xc3", b"\xc3\xa9", b"\x00", b"grant_type", b"client_id", b"audience"]
    + [b"scope", b"resource", b"client_secret", b"a", b"b", b"1", b" "]
)
FORM_LIKE = st.lists(FORM_PIECES, max_size=40).map(b"".join)
BODIES = st.one_of(st.binary(max_size=300), FORM_LIKE)
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            FORM_CONTENT_TYPE,
            f"{FORM_CONTENT_TYPE}; charset=UTF-8",
            'application/x-www-form-urlencoded;charset="utf8"',
            f"{FORM_CONTENT_TYPE}; charset=latin-1",
            "application/json",
            "",
        ]
    ),
    st.none(),
    st.text(max_size=60),
)
#: Authorization headers: none, Basic with any base64-ish or arbitrary value, other
#: schemes, and arbitrary text (a header reaches the parser as latin-1 text).
LATIN1 = st.text(st.characters(max_codepoint=0xFF), max_size=80)
AUTHORIZATIONS = st.one_of(
    st.none(),
    LATIN1,
    LATIN1.map(lambda v: "Basic " + v),
    st.binary(max_size=60).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    st.binary(max_size=60).map(lambda b: "basic  " + base64.b64encode(b).decode() + " "),
    LATIN1.map(lambda v: "Bearer " + v),
)
#: Parameter names that must not repeat: anything but the multi-valued ones.
SINGLE_NAMES = CLEAN_TEXT.filter(lambda n: n not in MULTI_VALUED)


def basic_header(client_id: str, secret: str) -> str:
    """What a client sends per RFC 6749 §2.3.1: form-encode each, join, base64 (RFC 7617)."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


# -- parse_token_request ---------------------------------------------------------------


@seed(SEED)
@BOUNDED
@given(body=BODIES, content_type=CONTENT_TYPES, authorization=AUTHORIZATIONS)
@example(body=b"a=%", content_type=FORM_CONTENT_TYPE, authorization=None)
@example(body=b"a=%FF", content_type=FORM_CONTENT_TYPE, authorization=None)
@example(body=b"\xff", content_type=FORM_CONTENT_TYPE, authorization="Basic \xff")
def test_any_input_gives_a_request_or_an_oauth_error(
    body: bytes, content_type: str | None, authorization: str | None
) -> None:
    try:
        parsed = parse_token_request(body, content_type, authorization)
    except OAuthError as error:
        assert error.error in ("invalid_request", "invalid_client")
        assert error.status_code == (401 if error.error == "invalid_client" else 400)
        # §5.2: the description is printable ASCII without quote or backslash.
        assert all(0x20 <= ord(c) <= 0x7E and c not in '"\\' for c in error.description)
        return
    assert isinstance(parsed, TokenRequest)
    assert all(name not in MULTI_VALUED for name in parsed.params)
    assert all(value and "\x00" not in value for value in parsed.params.values())
    assert len(set(parsed.audiences)) == len(parsed.audiences)


@seed(SEED)
@BOUNDED
@given(
    params=st.dictionaries(SINGLE_NAMES, CLEAN_TEXT.filter(bool), max_size=8),
    audiences=st.lists(CLEAN_TEXT.filter(bool), max_size=4),
)
def test_a_well_formed_form_round_trips(params: dict[str, str], audiences: list[str]) -> None:
    """What ``urlencode`` (every client's form encoder) writes is read back exactly."""
    pairs = list(params.items()) + [("audience", a) for a in audiences]
    body = urlencode(pairs).encode("ascii")
    parsed = parse_token_request(body, FORM_CONTENT_TYPE, None)
    assert parsed.params == params
    assert parsed.audiences == tuple(dict.fromkeys(audiences))
    assert parsed.basic is None


@seed(SEED)
@BOUNDED
@given(name=SINGLE_NAMES, first=CLEAN_TEXT, second=CLEAN_TEXT, others=st.integers(0, 3))
def test_a_repeated_parameter_is_refused(name: str, first: str, second: str, others: int) -> None:
    """§3.1: request parameters must not be included more than once, even empty."""
    pairs = [(name, first)] + [(f"other{i}", "x") for i in range(others)] + [(name, second)]
    body = urlencode(pairs).encode("ascii")
    with pytest.raises(InvalidRequestError) as caught:
        parse_token_request(body, FORM_CONTENT_TYPE, None)
    assert "repeated" in caught.value.description


@seed(SEED)
@BOUNDED
@given(name=st.sampled_from(sorted(MULTI_VALUED)), values=st.lists(CLEAN_TEXT, max_size=5))
def test_audience_and_resource_may_repeat(name: str, values: list[str]) -> None:
    """RFC 8707 §2: several resources (Kinde: audiences) in one request."""
    body = urlencode([(name, v) for v in values]).encode("ascii")
    parsed = parse_token_request(body, FORM_CONTENT_TYPE, None)
    assert parsed.multi.get(name, ()) == tuple(v for v in values if v)


def test_a_body_over_the_limit_is_refused() -> None:
    with pytest.raises(InvalidRequestError):
        parse_token_request(b"a" * (MAX_BODY + 1), FORM_CONTENT_TYPE, None)


# -- parse_basic ---------------------------------------------------------------------


@seed(SEED)
@BOUNDED
@given(client_id=CLEAN_TEXT, secret=CLEAN_TEXT)
@example(client_id="my:app", secret="s:e:c r+t%")
@example(client_id="", secret="")
def test_basic_credentials_round_trip(client_id: str, secret: str) -> None:
    """§2.3.1: form-encoded id and secret come back exactly, colons and all."""
    assert parse_basic(basic_header(client_id, secret), "kindling") == BasicCredentials(
        client_id, secret
    )


@seed(SEED)
@BOUNDED
@given(client_id=CLEAN_TEXT.filter(lambda s: ":" not in s), secret=CLEAN_TEXT)
def test_basic_splits_on_the_first_colon(client_id: str, secret: str) -> None:
    """A client that does not form-encode: the secret keeps every colon after the first."""
    raw = f"{quote_plus(client_id)}:{secret.replace('%', '%25').replace('+', '%2B')}"
    header = "Basic " + base64.b64encode(raw.encode()).decode("ascii")
    assert parse_basic(header, "kindling") == BasicCredentials(client_id, secret)


@seed(SEED)
@BOUNDED
@given(authorization=AUTHORIZATIONS, realm=st.sampled_from(["kindling", "token"]))
@example(authorization="Basic " + base64.b64encode(b"no-colon").decode(), realm="kindling")
@example(authorization="Basic " + base64.b64encode(b"a%00:b").decode(), realm="kindling")
@example(authorization="Basic " + base64.b64encode(b"\xff:\xfe").decode(), realm="kindling")
@example(authorization="Basic " + base64.b64encode(b"a:%FF").decode(), realm="kindling")
@example(authorization="Basic ====", realm="kindling")
@example(authorization="Basic é", realm="kindling")
def test_any_basic_header_gives_credentials_or_invalid_client(
    authorization: str | None, realm: str
) -> None:
    try:
        found = parse_basic(authorization, realm)
    except InvalidClientError as error:
        assert error.status_code == 401
        # RFC 7617 §2: the challenge names the realm and the UTF-8 charset.
        assert error.headers == {"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'}
        return
    scheme = (authorization or "").strip().partition(" ")[0].lower()
    if scheme != "basic":
        assert found is None
    else:
        assert isinstance(found, BasicCredentials)
        assert "\x00" not in found.client_id and "\x00" not in found.client_secret


@seed(SEED)
@BOUNDED
@given(client_id=CLEAN_TEXT, secret=CLEAN_TEXT, at=st.integers(0, 2))
def test_a_nul_inside_basic_is_invalid_client(client_id: str, secret: str, at: int) -> None:
    """No identifier or secret holds NUL: refused as malformed, not passed to storage."""
    if at == 0:
        client_id += "\x00"
    else:
        secret = secret[: at - 1] + "\x00" + secret
    with pytest.raises(InvalidClientError):
        parse_basic(basic_header(client_id, secret), "kindling")
