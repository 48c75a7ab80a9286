"""``multipart/form-data`` request bodies (RFC 7578), parsed by ``python-multipart``.

Kinde's logo uploads (``POST /organizations/{org_code}/logos/{type}``, ``PUT
/environment/logos/{type}``) send the image as the ``logo`` part of a form. The
byte-level parsing is python-multipart's (the parser Starlette itself uses); this
module adds what our operations need on top and answers Kinde-style errors:

* a body that is not ``multipart/form-data`` is ``INVALID_CONTENT_TYPE``;
* a missing boundary parameter is read from the body's first line (``--boundary``),
  as some clients omit it; no boundary at all, or one longer than 200 characters
  (RFC 2046 §5.1.1 allows 70), is ``INVALID_MULTIPART``;
* a preamble before the first delimiter is skipped, as RFC 2046 §5.1.1 allows;
* a truncated or malformed body, a part that is not ``form-data`` or has no
  ``name`` is ``INVALID_MULTIPART`` (a 400, never a 500);
* a field sent twice is ``REPEATED_PARAMETER``, as for query parameters.

The request size limit is the web layer's (``BODY_TOO_LARGE``); the body arrives
whole, so it is parsed in one write. This module knows nothing of the web framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FORM_DATA = "multipart/form-data"
MAX_BOUNDARY = 200


def _malformed() -> ValidationError:
    return ValidationError("the multipart body is malformed", Code.INVALID_MULTIPART)


def boundary_of(content_type: str | None, body: bytes) -> bytes:
    """The delimiter's boundary: the header's ``boundary`` parameter, else the body's
    first line; a header naming another media type is ``INVALID_CONTENT_TYPE``."""
    if content_type:
        media, options = parse_options_header(content_type)
        if media.strip() != FORM_DATA.encode("ascii"):
            raise ValidationError(
                "the request body must be multipart/form-data", Code.INVALID_CONTENT_TYPE
            )
        boundary = options.get(b"boundary")
        if boundary:
            return boundary
    first = body.split(b"\r\n", 1)[0].split(b"\n", 1)[0].rstrip()
    if first.startswith(b"--") and len(first) > 2:
        return first[2:]
    raise ValidationError("the multipart boundary is missing", Code.INVALID_MULTIPART)


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    data: list[bytes] = field(default_factory=list)


@dataclass
class _Collector:
    """The parser's callbacks: headers and data per part, checked as each part ends."""

    fields: dict[str, bytes] = field(default_factory=dict)
    part: _Part = field(default_factory=_Part)
    header_name: list[bytes] = field(default_factory=list)
    header_value: list[bytes] = field(default_factory=list)
    ended: bool = False

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": lambda data, start, end: self.header_name.append(data[start:end]),
            "on_header_value": lambda data, start, end: self.header_value.append(data[start:end]),
            "on_header_end": self.header_end,
            "on_part_data": lambda data, start, end: self.part.data.append(data[start:end]),
            "on_part_end": self.part_end,
            "on_end": self.end,
        }

    def part_begin(self) -> None:
        self.part = _Part()

    def header_end(self) -> None:
        name = b"".join(self.header_name).decode("latin-1").strip().lower()
        self.part.headers[name] = b"".join(self.header_value).decode("latin-1").strip()
        self.header_name.clear()
        self.header_value.clear()

    def part_end(self) -> None:
        disposition, options = parse_options_header(
            self.part.headers.get("content-disposition", "")
        )
        if disposition.strip() != b"form-data":
            raise ValidationError("a multipart part is not form-data", Code.INVALID_MULTIPART)
        name = options.get(b"name", b"").decode("latin-1")
        if not name:
            raise ValidationError("a multipart part has no name", Code.INVALID_MULTIPART)
        if name in self.fields:
            raise ValidationError(f"the field {name} is repeated", Code.REPEATED_PARAMETER)
        self.fields[name] = b"".join(self.part.data)

    def end(self) -> None:
        self.ended = True


def multipart_fields(content_type: str | None, body: bytes) -> dict[str, bytes]:
    """Parse a ``multipart/form-data`` body into ``{field name: bytes}``.

    Repeated or unnamed fields are refused; a malformed body is a 400, never a 500.
    """
    boundary = boundary_of(content_type, body)
    if len(boundary) > MAX_BOUNDARY:
        raise ValidationError("the multipart boundary is too long", Code.INVALID_MULTIPART)
    delimiter = b"--" + boundary
    if not body.startswith(delimiter):
        start = body.find(b"\r\n" + delimiter)
        if start < 0:
            raise _malformed()
        body = body[start + 2 :]
    collector = _Collector()
    try:
        parser = MultipartParser(boundary, collector.callbacks())
        parser.write(body)
        parser.finalize()
    except FormParserError:
        raise _malformed() from None
    if not collector.ended:
        # python-multipart accepts a body cut short; a form must reach its close delimiter.
        raise _malformed()
    return collector.fields
