"""The request id: the caller's when it is sane, else a new one; the current one, for problems."""

from __future__ import annotations

import re
from typing import Final

import uuid_utils
from starlette.requests import Request

from interfaces.logs import request_id_var

REQUEST_ID_HEADER: Final = "x-request-id"
_SANE_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def accept_or_create_request_id(raw: bytes | None) -> str:
    """The caller's id when it is short and plain (no header injection, no log spoofing)."""
    if raw is not None:
        try:
            candidate = raw.decode("ascii")
        except UnicodeDecodeError:
            candidate = ""
        if _SANE_REQUEST_ID.fullmatch(candidate):
            return candidate
    return uuid_utils.uuid4().hex  # the standard library's costs an os.urandom call each


def request_id_of(request: Request) -> str | None:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else request_id_var.get()
