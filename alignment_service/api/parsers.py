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

_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.S)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]++")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text, brackets in strings ignored."""
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    if len(brackets) <= 1:
        return len(brackets)
    return max(accumulate(map(_STEP.__getitem__, brackets)))


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
        try:
            text = stream.read().decode(encoding) if stream is not None else ""
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}.") from exc
        limit = settings.JSON_MAX_DEPTH
        if nesting_depth(text) > limit:
            raise ParseError(f"JSON nested deeper than {limit} levels.", code="too_deep")
        try:
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        errors: dict[str, list[str]] = {}
        for path in bad_strings(data):
            errors.setdefault(path, [BAD_CHARACTER_MESSAGE])
            if len(errors) >= settings.BATCH_MAX_ERRORS:
                break
        if errors:
            raise ValidationError(dict(sorted(errors.items())), code="bad_character")
        return data
