"""Restock every item whose stock is below a threshold, up to a target: a plain Python script.

It runs the application's use cases (`ListItems` page by page, `AdjustStock` to add the
missing units) resolved from the same container as the `stockroom` command and the HTTP API,
configured by the same STOCKROOM_* variables (no STOCKROOM_DATABASE_URL: the embedded database
under STOCKROOM_DATA_DIR):

    uv run python scripts/restock.py --below 5 --to 20
    uv run python scripts/restock.py --below 5 --to 20 --dry-run    # only print what it would do

Each item gets `to - quantity` units as one stock adjustment, an addition that concurrent sales
cannot lose: a sale between the listing and the adjustment leaves the item just under `to`.

Exit status: 0 done; 1 a failure (database unreachable, ...) with one `error: ...` line on stderr;
2 bad arguments or configuration; 141 stopped quietly because its output was closed (`| head`),
after the adjustments printed so far.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from application.listing import MAX_LIMIT, ListQuery
from application.paging import pages
from infrastructure.container import Container
from interfaces.scripting import exit_status, run_with_container


async def restock(container: Container, *, below: int, to: int, dry_run: bool) -> int:
    """Bring every item under `below` up to `to`; return how many items were (or would be)."""
    list_items = container.list_items()
    adjust_stock = container.adjust_stock()
    restocked = 0
    # Keyset pages in created_at order: adjusting an item does not move it in this order.
    async for page in pages(list_items, ListQuery(limit=MAX_LIMIT)):
        for item in page.items:
            if item.quantity >= below:
                continue
            delta = to - item.quantity
            quantity = to if dry_run else (await adjust_stock(item.id, delta)).quantity
            print(f"{item.sku}: {item.quantity} + {delta} -> {quantity}", flush=True)
            restocked += 1
    return restocked


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--below", type=int, required=True, help="restock items with fewer units")
    parser.add_argument("--to", type=int, required=True, help="the stock to bring them up to")
    parser.add_argument("--dry-run", action="store_true", help="only print what would change")
    args = parser.parse_args(argv)
    if not 0 < args.below <= args.to:
        parser.error("need 0 < --below <= --to")  # exits 2
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)

    def script() -> None:
        count = run_with_container(
            lambda container: restock(container, below=args.below, to=args.to, dry_run=args.dry_run)
        )
        print(f"{'would restock' if args.dry_run else 'restocked'} {count} items", flush=True)

    return exit_status(script)


if __name__ == "__main__":
    sys.exit(main())
