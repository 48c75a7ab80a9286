"""``multipart/form-data`` parsing for logo uploads (RFC 7578), without I/O.

The uploads over HTTP (both resources, real servers) are covered by
tests/test_organizations.py and the SDK tests; these pin each refusal and its code.
"""

from __future__ import annotations

import pytest

from kindling.platform.errors import ValidationError
from kindling.platform.multipart import boundary_of, multipart_fields

#: Binary content that contains CRLFs and a near-miss of the delimiter.
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\r\n--XyZ-not-the-end\r\n" + b"\x00" * 64


def form(*parts: bytes, boundary: bytes = b"XyZ", preamble: bytes = b"") -> bytes:
    delimiter = b"--" + boundary
    body = preamble
    for part in parts:
        body += delimiter + b"\r\n" + part + b"\r\n"
    return body + delimiter + b"--\r\n"


def field(name: str, value: bytes, extra: str = "") -> bytes:
    return f'Content-Disposition: form-data; name="{name}"{extra}\r\n\r\n'.encode() + value


def code_of(content_type: str | None, body: bytes) -> str:
    with pytest.raises(ValidationError) as caught:
        multipart_fields(content_type, body)
    return caught.value.code


def test_fields_by_name_with_binary_content_and_quoted_parameters() -> None:
    body = form(
        field("note", b"hello"),
        field("logo", IMAGE, '; filename="a;b.png"\r\nContent-Type: image/png'),
        preamble=b"this preamble is skipped\r\n",
    )
    fields = multipart_fields('multipart/form-data; boundary="XyZ"', body)
    assert fields == {"note": b"hello", "logo": IMAGE}


def test_boundary_from_the_header_or_the_first_line() -> None:
    body = form(field("logo", IMAGE), boundary=b"----WebKitFormBoundary7MA4YWxk")
    assert boundary_of("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxk", b"") == (
        b"----WebKitFormBoundary7MA4YWxk"
    )
    assert multipart_fields(None, body)["logo"] == IMAGE
    # A header without its boundary parameter: the body's first line still names it.
    assert multipart_fields("multipart/form-data", body)["logo"] == IMAGE
    assert multipart_fields("Multipart/Form-Data; charset=utf-8", body)["logo"] == IMAGE


def test_an_empty_form_has_no_fields() -> None:
    assert multipart_fields("multipart/form-data; boundary=XyZ", b"--XyZ--\r\n") == {}


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/json", "multipart/mixed; boundary=XyZ"]
)
def test_another_media_type_is_invalid_content_type(content_type: str) -> None:
    assert code_of(content_type, form(field("logo", IMAGE))) == "INVALID_CONTENT_TYPE"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"no delimiter anywhere",
        b"--XyZ\r\n",
        b"--b\r\nno headers here",
        # Cut short: no close delimiter.
        b'--XyZ\r\nContent-Disposition: form-data; name="logo"\r\n\r\ndata',
        # A header line without a colon.
        b"--XyZ\r\nContent-Disposition form-data\r\n\r\nx\r\n--XyZ--\r\n",
        # Junk straight after the delimiter.
        b"--XyZjunk\r\n\r\nx\r\n--XyZ--\r\n",
    ],
)
def test_malformed_bodies_are_invalid_multipart(body: bytes) -> None:
    assert code_of("multipart/form-data; boundary=XyZ", body) == "INVALID_MULTIPART"


def test_part_rules() -> None:
    ct = "multipart/form-data; boundary=XyZ"
    unnamed = b"Content-Disposition: form-data\r\n\r\nx"
    assert code_of(ct, form(unnamed)) == "INVALID_MULTIPART"
    blank_name = b'Content-Disposition: form-data; name=""\r\n\r\nx'
    assert code_of(ct, form(blank_name)) == "INVALID_MULTIPART"
    attachment = b'Content-Disposition: attachment; name="logo"\r\n\r\nx'
    assert code_of(ct, form(attachment)) == "INVALID_MULTIPART"
    no_headers = b"\r\nx"
    assert code_of(ct, form(no_headers)) == "INVALID_MULTIPART"
    twice = form(field("logo", b"a"), field("logo", b"b"))
    assert code_of(ct, twice) == "REPEATED_PARAMETER"


def test_boundary_limits() -> None:
    assert code_of(None, b"just text") == "INVALID_MULTIPART"
    assert code_of("multipart/form-data", b"") == "INVALID_MULTIPART"
    long = b"x" * 201
    assert code_of(None, form(field("logo", b"a"), boundary=long)) == "INVALID_MULTIPART"
    fits = b"x" * 200
    assert multipart_fields(None, form(field("logo", b"a"), boundary=fits)) == {"logo": b"a"}
