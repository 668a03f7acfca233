"""GET /metrics: Prometheus text with requests by route template and status, latency, pool."""

from __future__ import annotations

import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.api.helpers import create


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    before = samples((await client.get("/metrics")).text)
    item = await create(client, "m-1")
    await client.get(f"/v1/items/{item['id']}")
    await client.get(f"/v1/items/{uuid.uuid4()}")
    await client.get("/no/such/route")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)

    def increase(route: str, status: str, method: str = "GET") -> float:
        key = (
            "stockroom_http_requests_total",
            (("method", method), ("route", route), ("status", status)),
        )
        return after.get(key, 0) - before.get(key, 0)

    assert increase("/v1/items/{item_id}", "200") == 1
    assert increase("/v1/items/{item_id}", "404") == 1
    assert increase("/v1/items", "201", "POST") == 1
    assert increase("<unmatched>", "404") == 1
    # No raw paths (one series per item id would explode cardinality).
    assert not any(item["id"] in str(labels) for _, labels in after)
    latency_count = (
        "stockroom_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/v1/items/{item_id}")),
    )
    assert after[latency_count] - before.get(latency_count, 0) == 2
    pool = [value for (name, _), value in after.items() if name == "stockroom_db_pool_checked_out"]
    assert pool == [0]  # scraped between requests: nothing checked out
