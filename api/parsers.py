"""JSON bodies with a bounded nesting depth.

Python's decoder recurses once per nesting level, so a body of a few thousand `[` raised RecursionError, which
DRF's JSONParser (it catches ValueError only) let through as a 500. No Stepdown body nests deeper than a few
levels; anything past MAX_DEPTH is refused as a 400 parse error before a serializer sees it.
"""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def _depth(value) -> int:
    """The nesting depth of parsed JSON (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep.") from error
        if _depth(data) > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep.")
        return data
