"""Bearer secrets: random, shown once, stored only as a SHA-256 digest.

The secrets carry 256 bits of entropy, so a fast digest is enough: nothing can be guessed
offline, and lookup stays one indexed equality.
"""

import hashlib
import secrets

USER_TOKEN_PREFIX = "alt_"
API_KEY_PREFIX = "alk_"
DISPLAY_PREFIX_LENGTH = 12


def new_secret(kind_prefix: str) -> str:
    return kind_prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str) -> str:
    return secret[:DISPLAY_PREFIX_LENGTH]
