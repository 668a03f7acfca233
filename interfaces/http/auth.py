"""Bearer API keys on the HTTP API: read scope for GETs, write scope for changes.

Checked once at the edge rather than as a FastAPI dependency, which is solved on every request
even when no keys are configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from starlette.requests import Request

from infrastructure.api_keys import Keyring, Scope

#: The routes the keys protect; health, metrics and the docs stay open.
PROTECTED_PREFIX: Final = "/v1/"
SCHEME_NAME: Final = "HTTPBearer"
SCHEME: Final = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key: `Authorization: Bearer srk_…`.",
}
_REALM: Final = 'Bearer realm="stockroom"'
#: Reads need the read scope; CORS preflights never carry credentials.
_READS: Final = frozenset({"GET", "HEAD"})
_UNCHECKED: Final = frozenset({"OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key id, or "" when no key was needed."""

    id: str

    @property
    def key_id(self) -> str:
        return self.id


ANONYMOUS: Final = Principal("")


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    detail: str
    challenge: str
    #: The valid key that lacked the scope needed (403), "" when no valid key was sent.
    key_id: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.challenge}


class Gate:
    """Decides, from the method, path and Authorization header, who may go on."""

    def __init__(self, keyring: Keyring, *, public_reads: bool) -> None:
        self._keyring = keyring
        self._public_reads = public_reads
        self.open = keyring.open

    def check(self, method: str, path: str, authorization: bytes | None) -> Principal | Refusal:
        if self.open or method in _UNCHECKED or not path.startswith(PROTECTED_PREFIX):
            return ANONYMOUS
        needed = Scope.READ if method in _READS else Scope.WRITE
        if needed is Scope.READ and self._public_reads:
            return ANONYMOUS
        secret = _bearer_token(authorization)
        if secret is None:
            return Refusal(401, "An API key is required: Authorization: Bearer <key>.", _REALM)
        key = self._keyring.verify(secret)
        if key is None:
            return Refusal(401, "The API key is not valid.", f'{_REALM}, error="invalid_token"')
        if not key.allows(needed):
            return Refusal(
                403,
                f"This API key has {key.scope.value} scope; the operation needs {needed.value}.",
                f'{_REALM}, error="insufficient_scope"',
                key.id,
            )
        return Principal(key.id)


def _bearer_token(authorization: bytes | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.decode("latin-1").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def principal_of(request: Request) -> Principal:
    """The caller the edge let in (a KeyError, hence a 500, if no edge checked: fail closed)."""
    principal = request.scope["state"]["principal"]
    assert isinstance(principal, Principal)
    return principal
