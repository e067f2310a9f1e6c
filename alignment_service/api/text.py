"""Text that PostgreSQL can store and that means one thing: no NUL, no lone surrogate; and the
one normal form (NFKC, case-folded) in which identifiers are compared for uniqueness."""

import re
import unicodedata

BAD_CHARACTER_MESSAGE = "Must not contain NUL characters or unpaired surrogates."
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def has_bad_characters(value: str) -> bool:
    return _BAD_CHARACTER.search(value) is not None


def identity_key(value: str) -> str:
    """What two identifiers must not share: `Alice`, `ALICE` and a full-width `Alice` are one name."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
