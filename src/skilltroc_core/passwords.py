"""Password and token hashing (ACC-4): slow salted scrypt for passwords, SHA-256 for tokens.

The FAQ mails the stored password back, which implies plaintext storage; the rules
decide otherwise. Passwords are kept only as scrypt hashes (standard library,
parameters from :class:`~skilltroc_core.rules.Policy`). Reset and confirmation tokens
are 256-bit random strings: a fast hash of one is enough, and only the hash is kept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from .errors import InvalidInputError
from .rules import Policy

__all__ = ["ScryptHasher", "hash_token", "new_token"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ScryptHasher:
    """A :class:`~skilltroc_core.ports.PasswordHasher` using ``hashlib.scrypt``."""

    def __init__(self, policy: Policy) -> None:
        self.n, self.r, self.p = policy.scrypt_n, policy.scrypt_r, policy.scrypt_p

    def hash(self, password: str) -> str:
        salt = secrets.token_bytes(16)
        digest = hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=self.n, r=self.r, p=self.p, dklen=32,
            maxmem=256 * 1024 * 1024,
        )
        return f"scrypt${self.n}${self.r}${self.p}${_b64(salt)}${_b64(digest)}"

    def verify(self, password: str, hashed: str) -> bool:
        try:
            scheme, n, r, p, salt, digest = hashed.split("$")
        except ValueError as exc:
            raise InvalidInputError("stored password hash is malformed", rule="ACC-4") from exc
        if scheme != "scrypt":
            raise InvalidInputError(f"unknown password scheme {scheme!r}", rule="ACC-4")
        expected = _unb64(digest)
        # A lone surrogate cannot be in a stored password (signup refuses it): such a
        # candidate simply does not match instead of failing to encode.
        actual = hashlib.scrypt(
            password.encode("utf-8", "surrogatepass"), salt=_unb64(salt), n=int(n), r=int(r),
            p=int(p), dklen=len(expected), maxmem=256 * 1024 * 1024,
        )
        return hmac.compare_digest(actual, expected)


def new_token() -> str:
    """A fresh single-use secret for a link (email confirmation, password reset)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What is stored of a token: its SHA-256, hex."""
    # surrogatepass: a forged token with a lone surrogate hashes (and matches nothing).
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
