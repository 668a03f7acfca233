"""The OpenAPI document states the configured limits, not the defaults."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dependency_injector import providers

from infrastructure.container import Container
from infrastructure.settings import Settings
from interfaces.http.app import create_app


def document(**configured: Any) -> dict[str, Any]:
    settings = Settings(
        # Never connected to: the document is built without the database.
        database_url="postgresql+asyncpg://stockroom@127.0.0.1:1/stockroom",
        _env_file=None,
        **configured,
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    return create_app(container).openapi()


def descriptions(doc: dict[str, Any], *, response: str = "", parameter: str = "") -> set[str]:
    found: set[str] = set()
    for operations in doc["paths"].values():
        for operation in operations.values():
            parts = [
                *(p for p in operation.get("parameters", []) if p["name"] == parameter),
                *(r for status, r in operation["responses"].items() if status == response),
            ]
            found.update(part["description"] for part in parts)
    return found


@pytest.mark.parametrize(
    ("configured", "body_limit", "ttl"),
    [
        ({}, "1 MiB", "24 h"),
        ({"max_body_bytes": 2048, "idempotency_ttl_hours": 48}, "2 KiB", "48 h"),
        ({"max_body_bytes": 5000}, "5000 bytes", "24 h"),
    ],
)
def test_the_document_states_the_configured_body_limit_and_idempotency_ttl(
    configured: dict[str, Any], body_limit: str, ttl: str
) -> None:
    doc = document(**configured)
    assert descriptions(doc, response="413") == {f"The request body is larger than {body_limit}."}
    (key,) = descriptions(doc, parameter="idempotency-key")
    assert f"stored for {ttl} and replayed" in key
    text = json.dumps(doc)
    assert "{body_limit}" not in text
    assert "{idempotency_ttl}" not in text
