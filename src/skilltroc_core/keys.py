"""The host's secret key: what the store alone must not be able to tell (STAR-1, ACC-1, ACC-4).

A host configures one secret, like a password pepper, and gives it to
``Skilltroc(secret_key=...)``; no store ever holds it. From it come:

- **email fingerprints** (STAR-1): a keyed hash remembers that an address had its signup
  bonus after the account is purged, and someone holding only the database cannot check
  whether a given address ever had an account;
- **link tokens** (ACC-1, ACC-4): the secret of a confirmation or reset link is derived
  from the key and a random nonce that the notice carries. The store keeps the token's
  hash and the nonce, never the token: the host derives it (``Skilltroc.link_token``)
  when it writes the mail.

Rotation: the new key comes first and the old ones follow as ``previous_secret_keys``.
Fingerprints are looked up under every key (an address remembered under an old key
stays remembered); links are derived with the key named in their notice, so a link
mailed after a rotation still works while its key is listed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from .refusals import refusal

__all__ = ["MIN_SECRET_BYTES", "HostKeys", "LinkPurpose"]

#: The shortest secret a host may configure: 32 bytes (256 bits), random.
MIN_SECRET_BYTES = 32


class LinkPurpose:
    """What a link token is for; part of what the token is derived from."""

    CONFIRM_EMAIL = "confirm_email"
    RESET_PASSWORD = "reset_password"


def _secret(value: object, what: str) -> bytes:
    """A key given as bytes, or as text in hex (what ``skilltroc secret new`` and
    ``take-out`` print): one reading only, so the same key never counts as two."""
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value)
        except ValueError:
            raise refusal("secret_key_not_hex", field=what) from None
    if not isinstance(value, bytes):
        raise refusal("secret_key_type", field=what, got=type(value).__name__)
    if len(value) < MIN_SECRET_BYTES:
        raise refusal("secret_key_short", field=what, length=len(value),
                      minimum=MIN_SECRET_BYTES)
    return value


def _mac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


class HostKeys:
    """The host's current secret key and the ones it replaced. Its repr shows no key."""

    __slots__ = ("_current", "_ids", "_keys")

    def __init__(self, current: object, previous: Iterable[object] = ()) -> None:
        if isinstance(previous, str | bytes) or not isinstance(previous, Iterable):
            raise refusal("previous_keys_not_list")
        keys = [_secret(current, "the secret key")]
        keys += [_secret(key, "a previous secret key") for key in previous]
        self._keys: tuple[bytes, ...] = tuple(dict.fromkeys(keys))
        self._current = self._keys[0]
        self._ids = {self._key_id(key): key for key in self._keys}

    @classmethod
    def ephemeral(cls) -> HostKeys:
        """A random key living as long as the process: for stores that keep nothing."""
        return cls(secrets.token_bytes(MIN_SECRET_BYTES))

    def __repr__(self) -> str:
        return f"HostKeys(<{len(self._keys)} secret key(s)>)"

    @staticmethod
    def _key_id(key: bytes) -> str:
        return _mac(key, b"skilltroc key id").hex()[:12]

    @property
    def current_id(self) -> str:
        """The public id of the current key (named in link notices, never secret)."""
        return self._key_id(self._current)

    # ------------------------------------------------------------------ fingerprints
    def fingerprints(self, email: str) -> tuple[str, ...]:
        """The fingerprint of ``email`` under each key, the current one first (STAR-1)."""
        data = email.encode("utf-8")
        return tuple(hmac.new(key, data, hashlib.sha256).hexdigest() for key in self._keys)

    # ------------------------------------------------------------------ link tokens
    @staticmethod
    def new_nonce() -> str:
        """A fresh random nonce for one link (kept in its notice; not a secret alone)."""
        return secrets.token_hex(16)

    def link_token(self, purpose: str, member_id: str, nonce: str,
                   key_id: str | None = None) -> str:
        """The secret of one link: derived from the key named ``key_id`` (the current
        one by default), what the link is for, the member and the link's nonce."""
        key = self._current if key_id is None else self._ids.get(key_id)
        if key is None:
            raise refusal("link_key_retired")
        derived = _mac(_mac(key, b"skilltroc link tokens"),
                       f"{purpose}\n{member_id}\n{nonce}".encode())
        return base64.urlsafe_b64encode(derived).decode("ascii").rstrip("=")
