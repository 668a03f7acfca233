"""API keys: generated once, configured only as SHA-256 hashes, verified in constant time.

Keys are 256-bit random tokens, so a fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

KEY_PREFIX: Final = "srk_"
_ENTRY: Final = re.compile(
    r"(?P<id>[A-Za-z0-9._-]{1,64}):(?P<scope>read|write):(?P<hash>[0-9a-f]{64})"
)


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    scope: Scope
    sha256: str

    @classmethod
    def parse(cls, entry: str) -> ApiKey:
        match = _ENTRY.fullmatch(entry.strip())
        if match is None:
            raise ValueError(
                "an API key entry must be <id>:<read|write>:<64 hex digits of SHA-256>"
            )
        return cls(match["id"], Scope(match["scope"]), match["hash"])

    def entry(self) -> str:
        return f"{self.id}:{self.scope.value}:{self.sha256}"

    def allows(self, needed: Scope) -> bool:
        return self.scope is Scope.WRITE or needed is Scope.READ


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(key_id: str, scope: Scope) -> tuple[str, ApiKey]:
    """A fresh secret (shown once) and the entry that configures it."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(key_id, scope, _digest(secret))
    ApiKey.parse(key.entry())
    return secret, key


class Keyring:
    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._keys = tuple(keys)

    @property
    def open(self) -> bool:
        """No keys configured: the service runs without authentication."""
        return not self._keys

    def verify(self, secret: str) -> ApiKey | None:
        digest = _digest(secret).encode()
        found: ApiKey | None = None
        # Compare against every key, without stopping at a match: the time taken tells nothing.
        for key in self._keys:
            if hmac.compare_digest(digest, key.sha256.encode()):
                found = key
        return found
