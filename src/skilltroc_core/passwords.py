"""Password and token hashing (ACC-4): salted argon2id for passwords, SHA-256 for tokens.

The FAQ mails the stored password back, which implies plaintext storage; the rules
decide otherwise. Passwords are kept only as argon2id hashes (``argon2-cffi``, OWASP's
first choice), with the costs of :class:`~skilltroc_core.rules.Policy` (at least OWASP's
minimum by default: 2 passes over 19 MiB, 1 lane). Hashes of earlier versions (scrypt)
still verify; :meth:`Argon2Hasher.needs_rehash` tells the service to replace one at the
next successful sign-in. Link tokens are 256-bit secrets (see :mod:`skilltroc_core.keys`):
a fast hash of one is enough, and only the hash is kept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import SkilltrocError
from .refusals import refusal
from .rules import Policy

__all__ = ["Argon2Hasher", "hash_token"]

_SCRYPT_MAXMEM = 256 * 1024 * 1024


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _candidate(password: str) -> bytes:
    # A lone surrogate cannot be in a stored password (signup refuses it): such a
    # candidate simply does not match instead of failing to encode.
    return password.encode("utf-8", "surrogatepass")


def _malformed() -> SkilltrocError:
    return refusal("password_hash_malformed")


def _verify_scrypt(password: str, hashed: str) -> bool:
    """A hash of the versions before argon2id: ``scrypt$n$r$p$salt$digest``."""
    try:
        _, n, r, p, salt, digest = hashed.split("$")
        expected = _unb64(digest)
        actual = hashlib.scrypt(_candidate(password), salt=_unb64(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected), maxmem=_SCRYPT_MAXMEM)
    except ValueError as exc:
        raise _malformed() from exc
    return hmac.compare_digest(actual, expected)


class Argon2Hasher:
    """A :class:`~skilltroc_core.ports.PasswordHasher`: argon2id, and scrypt hashes of
    earlier versions verified until they are replaced."""

    def __init__(self, policy: Policy) -> None:
        self._argon2 = argon2.PasswordHasher(
            time_cost=policy.argon2_time_cost, memory_cost=policy.argon2_memory_kib,
            parallelism=policy.argon2_parallelism, type=argon2.Type.ID,
        )

    def hash(self, password: str) -> str:
        return self._argon2.hash(password.encode("utf-8"))

    def verify(self, password: str, hashed: str) -> bool:
        if hashed.startswith("scrypt$"):
            return _verify_scrypt(password, hashed)
        try:
            return self._argon2.verify(hashed, _candidate(password))
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError) as exc:
            raise _malformed() from exc

    def needs_rehash(self, hashed: str) -> bool:
        """True for a hash made otherwise than this hasher would now make it."""
        if not hashed.startswith("$argon2id$"):
            return True
        try:
            return self._argon2.check_needs_rehash(hashed)
        except InvalidHashError as exc:
            raise _malformed() from exc


def hash_token(token: str) -> str:
    """What is stored of a token: its SHA-256, hex."""
    # surrogatepass: a forged token with a lone surrogate hashes (and matches nothing).
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
