"""Bearer API keys on the HTTP API: read scope for GETs, write scope for changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from infrastructure.api_keys import Scope

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer srk_…`.")
_REALM: Final = 'Bearer realm="stockroom"'


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key id, or "" when no key was needed."""

    id: str


ANONYMOUS: Final = Principal("")


def _require(needed: Scope) -> object:
    async def authenticate(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        container = request.app.state.container
        keyring = container.keyring()
        if keyring.open or (needed is Scope.READ and container.settings().public_reads):
            return ANONYMOUS
        if credentials is None:
            raise HTTPException(
                401,
                "An API key is required: Authorization: Bearer <key>.",
                {"WWW-Authenticate": _REALM},
            )
        key = keyring.verify(credentials.credentials)
        if key is None:
            raise HTTPException(
                401,
                "The API key is not valid.",
                {"WWW-Authenticate": f'{_REALM}, error="invalid_token"'},
            )
        if not key.allows(needed):
            raise HTTPException(
                403,
                f"This API key has {key.scope.value} scope; the operation needs {needed.value}.",
                {"WWW-Authenticate": f'{_REALM}, error="insufficient_scope"'},
            )
        return Principal(key.id)

    return Depends(authenticate)


Reader = Annotated[Principal, _require(Scope.READ)]
Writer = Annotated[Principal, _require(Scope.WRITE)]
