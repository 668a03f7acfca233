"""OpenAPI details FastAPI does not produce: problem+json errors, and descriptions whose
`{body_limit}` and `{idempotency_ttl}` placeholders are filled from the running settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from interfaces.http.auth import PROTECTED_PREFIX, SCHEME, SCHEME_NAME
from interfaces.http.consistency import document_session_header
from interfaces.http.problems import PROBLEM_MEDIA_TYPE
from interfaces.http.schemas import Problem

_DESCRIPTIONS: Final = {
    304: "Not modified: If-None-Match matches the current version.",
    400: "Bad request (for a list: the cursor is malformed or belongs to another sort).",
    401: "No valid API key.",
    403: "The API key lacks the scope this operation needs.",
    404: "No item with this id.",
    409: (
        "Conflict: the sku is taken, the stock would become negative, or a request with the "
        "same Idempotency-Key is still in progress (then with Retry-After)."
    ),
    412: "If-Match does not name the current version; nothing changed.",
    413: "The request body is larger than {body_limit}.",
    415: "The request body is not JSON.",
    422: (
        "The request is invalid (`errors` points at each bad field), or its Idempotency-Key "
        "was already used for a different request."
    ),
    500: "Unexpected error (logged with the request id).",
    503: "The database is unavailable; retry after Retry-After seconds.",
}

#: Every route can answer these: the server's own failure or its database being down.
COMMON: Final = (500, 503)


def _size(size: int) -> str:
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def _render(operation: dict[str, Any], settings: Mapping[str, str]) -> None:
    """Put the settings in place of their placeholders in the operation's descriptions."""
    described = [*operation.get("parameters", []), *operation.get("responses", {}).values()]
    for part in described:
        text = part.get("description")
        if text is None:
            continue
        for placeholder, value in settings.items():
            text = text.replace(placeholder, value)
        part["description"] = text


def header_parameter(
    name: str, description: str, schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An optional request header as an OpenAPI parameter, for headers a handler reads itself."""
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses: dict[int | str, dict[str, Any]] = {}
    for status in (*statuses, *COMMON):
        if status == 304:
            responses[status] = {"description": _DESCRIPTIONS[status]}
        else:
            responses[status] = {"model": Problem, "description": _DESCRIPTIONS[status]}
    return responses


def install_openapi(
    app: FastAPI,
    *,
    open_api: bool,
    public_reads: bool,
    max_body_bytes: int,
    idempotency_ttl_hours: int,
) -> None:
    """Errors as application/problem+json, without FastAPI's own 422 schema; security (and
    401/403) only on the operations that need a key under this configuration."""
    settings = {
        "{body_limit}": _size(max_body_bytes),
        "{idempotency_ttl}": f"{idempotency_ttl_hours} h",
    }

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        problem_ref = {"$ref": "#/components/schemas/Problem"}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if not path.startswith(PROTECTED_PREFIX):
                    pass  # health, metrics: always open
                elif open_api or (public_reads and method == "get"):
                    operation.get("responses", {}).pop("401", None)
                    operation.get("responses", {}).pop("403", None)
                else:
                    operation["security"] = [{SCHEME_NAME: []}]
                for status, response in operation.get("responses", {}).items():
                    if status.isdigit() and int(status) >= 400:
                        response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": problem_ref}}
                        if int(status) == 422:
                            response["description"] = _DESCRIPTIONS[422]
                _render(operation, settings)
                if path.startswith(PROTECTED_PREFIX):
                    document_session_header(method, operation)
        schema.setdefault("components", {})["securitySchemes"] = {SCHEME_NAME: SCHEME}
        components = schema["components"].setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["Problem"] = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name, sub in (
            Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            .get("$defs", {})
            .items()
        ):
            components[name] = sub
        components["Problem"].pop("$defs", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
