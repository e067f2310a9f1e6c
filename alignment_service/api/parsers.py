"""The JSON parser of every endpoint: refuses nesting deeper than `JSON_MAX_DEPTH` before it
parses (Python's decoder recurses and would raise `RecursionError`), and any string (or key)
holding a NUL or a lone surrogate, naming where it is (PostgreSQL cannot store either)."""

import re
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser, get_encoding  # type: ignore[attr-defined]
from rest_framework.utils import json

from alignment_service.api.text import BAD_CHARACTER_MESSAGE, has_bad_characters

# On UTF-8 bytes: `"`, `\\` and brackets never occur inside a multi-byte character.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.S)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEP = [0] * 256
for _open, _close in (b"[]", b"{}"):
    _STEP[_open], _STEP[_close] = 1, -1
# NUL and surrogates can only arrive escaped (strict JSON refuses raw control characters and
# UTF-8 cannot encode surrogates): only a body with such an escape needs walking.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether arrays and objects in a UTF-8 JSON text nest deeper than `limit`, brackets in
    strings ignored: C-speed passes over the bytes, no parsing."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if brackets.count(b"[") + brackets.count(b"{") <= limit:
        return False
    return max(accumulate(map(_STEP.__getitem__, brackets))) > limit


def bad_strings(data: Any) -> Iterator[str]:
    """Dotted paths (as in error `attr`) of strings holding a NUL or a lone surrogate."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if has_bad_characters(value):
                yield path or "non_field_errors"
        elif isinstance(value, dict):
            for key, item in value.items():
                if has_bad_characters(key):
                    yield path or "non_field_errors"
                else:
                    stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{index}" if path else str(index), item) for index, item in enumerate(value))


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = get_encoding(parser_context or {})
        body = stream.read() if stream is not None else b""
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}.") from exc
        utf8 = body if encoding.lower().replace("-", "") == "utf8" else text.encode("utf-8", "surrogatepass")
        limit = settings.JSON_MAX_DEPTH
        if nested_deeper_than(utf8, limit):
            raise ParseError(f"JSON nested deeper than {limit} levels.", code="too_deep")
        try:
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if _SUSPECT_ESCAPE.search(text):
            self._refuse_bad_strings(data)
        return data

    @staticmethod
    def _refuse_bad_strings(data: Any) -> None:
        errors: dict[str, list[str]] = {}
        for path in bad_strings(data):
            errors.setdefault(path, [BAD_CHARACTER_MESSAGE])
            if len(errors) >= settings.BATCH_MAX_ERRORS:
                break
        if errors:
            raise ValidationError(dict(sorted(errors.items())), code="bad_character")
