"""Text that PostgreSQL can store and that means one thing: no NUL, no lone surrogate; and the
compatibility form (NFKC) in which identifiers are stored and compared."""

import re
import unicodedata

BAD_CHARACTER_MESSAGE = "Must not contain NUL characters or unpaired surrogates."
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def has_bad_characters(value: str) -> bool:
    return _BAD_CHARACTER.search(value) is not None


def nfkc(value: str) -> str:
    """The compatibility form: full-width letters and ligatures become their plain letters."""
    return unicodedata.normalize("NFKC", value)
