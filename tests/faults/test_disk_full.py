"""The embedded database's disk filling up, on a real (tiny tmpfs) filesystem: writes are 503s
naming the cause to the operator, a start says so in one line, and freeing space is enough."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infrastructure.db.embedded import RETRY_AT_MOST
from tests.cli.helpers import stockroom
from tests.faults.cluster import wait_until
from tests.faults.helpers import Serve
from tests.faults.test_durability import embedded_env
from tests.support.http import LOOPBACK_TLS

pytestmark = pytest.mark.slow

#: Room for a new data directory (PostgreSQL's initdb and one WAL segment) and a little more.
DISK_MB = 96
DISK_FULL = "the database ran out of disk space"


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A tmpfs of DISK_MB, mounted for the test (root only: the embedded server's own user,
    which the library creates when run as root, needs to reach it)."""
    if os.geteuid() != 0:
        pytest.fail("the disk-full tests mount a tmpfs: run them as root")
    mount = Path(tempfile.mkdtemp(prefix="stockroom-disk-"))
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount)], check=True
    )
    try:
        mount.chmod(0o777)
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)
        shutil.rmtree(mount, ignore_errors=True)


def fill(disk: Path) -> Path:
    """Take every free byte of `disk`; the file returned gives them back when removed."""
    filler = disk / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * (1 << 20))
            out.flush()
    assert shutil.disk_usage(disk).free == 0
    return filler


def big_batch(batch: int) -> dict[str, object]:
    """Far more than the free room left in the table's last pages."""
    items = [
        {"sku": f"full-{batch}-{n}", "name": "Full", "price": "1", "description": "x" * 1900}
        for n in range(400)
    ]
    return {"items": items}


def test_writes_on_a_full_disk_are_503s_naming_the_cause_and_recover(
    small_disk: Path, serve: Serve
) -> None:
    server = serve(embedded_env(small_disk / "data"))
    filler = fill(small_disk)
    with httpx.Client(base_url=server.base_url, timeout=30, verify=LOOPBACK_TLS) as client:
        statuses = []
        for batch in range(20):  # a few batches fill what room the table's pages had
            response = client.post("/v1/items/batch", json=big_batch(batch))
            statuses.append(response.status_code)
            if response.status_code != 201:
                break
        assert statuses[-1] == 503, statuses
        assert response.headers["retry-after"] == "1"
        assert DISK_FULL not in response.text  # the operator's business, not the client's
        # The access line names a cause: 53100 when PostgreSQL could not extend a table, but a
        # WAL segment it cannot write makes it PANIC and restart, and that request sees the
        # connection go. Readiness, which looks at the disk itself, names it either way. The
        # access line is written once the response has been sent, so it may follow the response.
        wait_until(
            lambda: re.findall(r'"cause":"([^"]*)"', server.output()),
            within=10,
            what="the 503's access line naming its cause",
        )
        # Reads still work on a full disk: readiness looks at the disk itself.
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert f"{DISK_FULL} (data in {(small_disk / 'data').resolve()})" in ready.json()["detail"]

        filler.unlink()
        # Within the watch's longest wait between two restarts, should PostgreSQL have stopped.
        wait_until(
            lambda: client.get("/health/ready").status_code == 200,
            within=2 * RETRY_AT_MOST,
            what="readiness once space is freed",
        )
        created = client.post("/v1/items", json={"sku": "after", "name": "A", "price": "1"})
        assert created.status_code == 201, created.text
    assert server.terminate() == 0


def test_a_start_on_a_full_disk_is_one_line_and_works_once_space_is_freed(
    small_disk: Path,
) -> None:
    data_dir = small_disk / "data"
    env = embedded_env(data_dir)
    assert stockroom("db", "upgrade", env=env, cwd=small_disk).returncode == 0  # then stopped
    filler = fill(small_disk)

    failed = stockroom("items", "list", env=env, cwd=small_disk)
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr.splitlines() == [
        f"error: {DISK_FULL} (data in {data_dir}); free space on that filesystem, and it starts "
        "again"
    ]

    filler.unlink()
    listed = stockroom("items", "list", "--json", env=env, cwd=small_disk)
    assert listed.returncode == 0, listed.stderr
