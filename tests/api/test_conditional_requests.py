"""If-Match and If-None-Match exactly as RFC 9110 §13.1.1-2 define them.

If-Match is one strong entity-tag or `*`; anything else (a list, a weak tag, a malformed value,
a repeated header, a tag that is not the version as issued) fails the precondition and changes
nothing. If-None-Match is `*` or a list of entity-tags compared weakly; a malformed one is
ignored.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.helpers import assert_problem, create


async def item_at_version_7(client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    item = await create(client)
    url = f"/v1/items/{item['id']}"
    for n in range(6):
        assert (await client.patch(url, json={"quantity": n})).status_code == 200
    current = (await client.get(url)).json()
    assert current["version"] == 7
    return url, current


REFUSED_IF_MATCH = [
    '"7", "abc"',
    '"7", W/"7"',
    'W/"7", "7"',
    '*, "7"',
    '"7", "7"',
    '"0007"',
    '"+7"',
    'W/"7"',
    '"7',
    "7",
    '"7" x',
    "",
    '"7",,"8"',
    '"7",',
]


@pytest.mark.parametrize("if_match", REFUSED_IF_MATCH)
async def test_if_match_other_than_one_strong_tag_or_star_is_412_and_changes_nothing(
    client: httpx.AsyncClient, if_match: str
) -> None:
    url, before = await item_at_version_7(client)
    headers = {"If-Match": if_match}
    assert_problem(await client.patch(url, json={"name": "changed"}, headers=headers), 412)
    assert_problem(await client.delete(url, headers=headers), 412)
    assert (await client.get(url)).json() == before


async def test_a_repeated_if_match_header_is_a_list_and_412(client: httpx.AsyncClient) -> None:
    url, before = await item_at_version_7(client)
    for lines in (['"7"', '"7"'], ['"7"', "*"], ["*", "*"]):
        headers = [("If-Match", line) for line in lines]
        assert_problem(await client.patch(url, json={"name": "changed"}, headers=headers), 412)
        assert_problem(await client.delete(url, headers=headers), 412)
    assert (await client.get(url)).json() == before


async def test_one_strong_tag_or_star_with_optional_whitespace_is_honoured(
    client: httpx.AsyncClient,
) -> None:
    url, _ = await item_at_version_7(client)
    for version, if_match in [(7, ' "7" '), (8, "*"), (9, '\t"9"')]:
        response = await client.patch(
            url, json={"name": f"v{version}"}, headers={"If-Match": if_match}
        )
        assert response.status_code == 200, (if_match, response.text)
        assert response.json()["version"] == version + 1


@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [
        ('"7"', 304),
        ('W/"7"', 304),
        ('"1", W/"7"', 304),
        (' , "7" ,', 304),
        ("*", 304),
        ('"0007"', 200),
        ('"8"', 200),
        ('"7" x', 200),  # malformed: ignored
        ('*, "7"', 200),  # malformed: ignored
        ("garbage", 200),
    ],
)
async def test_if_none_match_is_a_weakly_compared_list_or_star(
    client: httpx.AsyncClient, if_none_match: str, status: int
) -> None:
    url, current = await item_at_version_7(client)
    response = await client.get(url, headers={"If-None-Match": if_none_match})
    assert response.status_code == status, response.text
    assert response.headers["etag"] == '"7"'
    if status == 200:
        assert response.json() == current


async def test_a_repeated_if_none_match_header_is_one_list(client: httpx.AsyncClient) -> None:
    url, _ = await item_at_version_7(client)
    response = await client.get(url, headers=[("If-None-Match", '"1"'), ("If-None-Match", '"7"')])
    assert response.status_code == 304


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=20)
if_match_values = header_text | st.lists(
    st.sampled_from(['"1"', 'W/"1"', "*", '"01"', '"x"', ",", " "]), max_size=4
).map("".join)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(if_match=if_match_values)
async def test_only_the_current_strong_tag_or_star_lets_a_change_through(
    client: httpx.AsyncClient, if_match: str
) -> None:
    item = await create(client, sku="prop")
    url = f"/v1/items/{item['id']}"
    try:
        response = await client.patch(
            url, json={"name": "x"}, headers={b"If-Match": if_match.encode("latin-1")}
        )
        honoured = if_match.strip(" \t") in {"*", '"1"'}
        assert response.status_code == (200 if honoured else 412), (if_match, response.text)
        if not honoured:
            assert (await client.get(url)).json() == item
    finally:
        await client.delete(url)
