"""The API's only body parser: JSON, bounded in size and depth, with no NUL and no lone surrogate.

It is DRF's DEFAULT_PARSER_CLASSES (clinic/settings.py), so no view can forget it; form and multipart bodies
are a 415 (no API operation takes them).

- **Size**: a body over the view's `max_body_bytes` (default MAX_BODY_BYTES; the PDMP import, whose report
  travels base64-encoded, allows more) is a 413 before a byte is parsed — from its Content-Length (checked
  by `refuse_oversize_body` in ClinicViewSet.initial, before an idempotency key reads the body) and while
  reading, for a body that under-declares.
- **Depth**: Python's decoder recurses once per nesting level, so a body of a few thousand `[` raised
  RecursionError, which DRF's JSONParser (it catches ValueError only) let through as a 500. No Stepdown body
  nests deeper than a few levels; past MAX_DEPTH is a 400.
- **Text**: `"\\u0000"` (Postgres text cannot hold it) and a lone UTF-16 surrogate such as `"\\ud800"` (no
  UTF-8 form: a choice field's message echoing it broke the JSON renderer) in a value or a key are a 400
  with `errors` naming the top-level field and the JSON path of the first one, never echoing the text.
  Invalid UTF-8, NaN/Infinity, a number that overflows to infinity (`1e400`) and an integer past a bigint
  (a DataError in the database) are a 400 too.
"""

from __future__ import annotations

import json
import math
import re

from rest_framework import exceptions, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

MAX_DEPTH = 32
MAX_BODY_BYTES = 1024 * 1024
BIGINT = 2**63
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_ESCAPED_BAD_TEXT = re.compile(r"\\u(?:0000|[dD][89abcdefABCDEF])")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _too_large(limit: int) -> str:
    return f"The request body is larger than {limit:,} bytes, the most this operation reads."


def body_limit(view) -> int:
    return getattr(view, "max_body_bytes", MAX_BODY_BYTES)


def refuse_oversize_body(request, limit: int) -> None:
    """413 when the declared Content-Length is over `limit` (nothing read yet)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ParseError("The Content-Length header is not a number.") from None
    if declared > limit:
        raise PayloadTooLarge(_too_large(limit))


def _path(parts: tuple) -> str:
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:  # keys on the path were checked already: they hold no bad text
            out += f".{part}" if part.isidentifier() else f"[{json.dumps(part[:64])}]"
    return out


def _bad_text(text: str) -> str | None:
    found = _BAD_TEXT.search(text)
    if found is None:
        return None
    kind = "Null" if found.group() == "\x00" else "Surrogate"
    return f"{kind} characters are not allowed"


def _refuse_text(problem: str, where: tuple, in_key: bool) -> None:
    """A 400 naming the top-level field (as a serializer would) and, deeper, the JSON path; never the text."""
    field = where[0] if where and isinstance(where[0], str) else "non_field_errors"
    place = f" (in a key of {_path(where)})" if in_key else f" (at {_path(where)})" if len(where) > 1 else ""
    raise exceptions.ValidationError({field: [f"{problem}{place}; send text only."]}, code="bad_text")


def _refuse_number(where: tuple) -> None:
    """1e400 parses as infinity and 10**30 as an int no column holds (a DataError): 400, naming where."""
    field = where[0] if where and isinstance(where[0], str) else "non_field_errors"
    place = f" (at {_path(where)})" if len(where) > 1 else ""
    raise exceptions.ValidationError({field: [f"This number is out of range{place}."]}, code="out_of_range")


def _explain(data) -> None:
    """Find the first bad value in document order, with its path, and refuse it (the slow walk, run only
    once the fast one below met something)."""
    stack: list[tuple[object, tuple]] = [(data, ())]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if problem := _bad_text(item):
                _refuse_text(problem, where, in_key=False)
        elif (isinstance(item, float) and not math.isfinite(item)) or (
            type(item) is int and abs(item) >= BIGINT
        ):
            _refuse_number(where)
        elif isinstance(item, dict):
            for key in item:
                if problem := _bad_text(key):
                    _refuse_text(problem, where, in_key=True)
            stack.extend((value, (*where, key)) for key, value in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((value, (*where, index)) for index, value in reversed(list(enumerate(item))))


def check_tree(data, *, text_may_be_bad: bool = True) -> None:
    """Depth, text and numbers of parsed JSON, without recursion; raises naming where. `text_may_be_bad`
    False skips the text checks (the body has no escape that decodes to a NUL or a surrogate)."""
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is dict or kind is list:
            if depth >= MAX_DEPTH:
                raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep.")
            if kind is dict:
                if text_may_be_bad and any(_BAD_TEXT.search(key) for key in item):
                    _explain(data)
                stack.extend((value, depth + 1) for value in item.values())
            else:
                stack.extend((value, depth + 1) for value in item)
        elif kind is str:
            if text_may_be_bad and _BAD_TEXT.search(item):
                _explain(data)
        elif (kind is float and not math.isfinite(item)) or (kind is int and abs(item) >= BIGINT):
            _explain(data)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class BoundedJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = body_limit(parser_context.get("view"))
        request = parser_context.get("request")
        if request is not None:
            refuse_oversize_body(request, limit)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(_too_large(limit))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("JSON parse error - the body is not UTF-8.") from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep.") from None
        except ValueError as error:
            # The decoder's message quotes a position, never the text; a bad escape is named, not echoed.
            raise ParseError(f"JSON parse error - {error}") from None
        # In JSON text a NUL or a surrogate can only be an escape (the raw characters are refused above).
        check_tree(data, text_may_be_bad=_ESCAPED_BAD_TEXT.search(text) is not None)
        return data
