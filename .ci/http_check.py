"""HTTP checks for the CI smoke tests, with the standard library only.

python3 .ci/http_check.py wait-ready BASE_URL TIMEOUT   wait for /health/ready to answer 200
python3 .ci/http_check.py write-read BASE_URL [ROUNDS]  POST an item, GET it back, ROUNDS times
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
import uuid


def _request(method: str, url: str, body: object | None = None) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode() if body is not None else None
    if not url.startswith("http://"):
        raise ValueError(f"not an http:// URL: {url}")
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310  (checked)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310  (checked)
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"{}")
        except ValueError:  # not from Stockroom (e.g. the balancer's own error page)
            return exc.code, {"body": body.decode(errors="replace")[:500]}


def wait_ready(base: str, timeout: float) -> None:
    start = time.monotonic()
    while True:
        try:
            status, _ = _request("GET", f"{base}/health/ready")
            if status == 200:
                return
        except (OSError, ValueError):
            pass  # not listening yet, or the connection was reset while it starts
        if time.monotonic() - start > timeout:
            sys.exit(f"{base}/health/ready did not answer 200 within {timeout:g} s")
        time.sleep(0.05)


def write_read(base: str, rounds: int) -> None:
    for _ in range(rounds):
        sku = f"SMOKE-{uuid.uuid4().hex[:12].upper()}"
        status, item = _request(
            "POST", f"{base}/v1/items", {"sku": sku, "name": "Smoke test", "price": "1.50"}
        )
        if status != 201:
            sys.exit(f"POST /v1/items answered {status}: {item}")
        status, got = _request("GET", f"{base}/v1/items/{item['id']}")
        if status != 200 or got.get("sku") != sku:
            sys.exit(f"GET /v1/items/{item['id']} answered {status}: {got}")
    print(f"OK: {rounds} item(s) written and read back through {base}")


if __name__ == "__main__":
    command, base_url, *rest = sys.argv[1:]
    if command == "wait-ready":
        wait_ready(base_url, float(rest[0]))
    elif command == "write-read":
        write_read(base_url, int(rest[0]) if rest else 1)
    else:
        sys.exit(f"unknown command {command!r}")
