"""The migrated database holds the Item's bounds as the domain states them: the column types and
the CHECK constraints (Alembic's drift check compares types, not CHECK constraints)."""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import CheckConstraint

from domain import rules
from infrastructure.db.tables import ITEMS


def test_the_columns_are_the_domains_bounds(database_dsn: str) -> None:
    with psycopg.connect(database_dsn) as conn:
        rows = conn.execute(
            "SELECT column_name, data_type, character_maximum_length, numeric_precision,"
            " numeric_scale FROM information_schema.columns WHERE table_name = 'items'"
        ).fetchall()
    columns = {row[0]: row[1:] for row in rows}
    assert columns["sku"][:2] == ("character varying", rules.SKU_MAX)
    assert columns["name"][:2] == ("character varying", rules.NAME_MAX)
    assert columns["description"][:2] == ("character varying", rules.DESCRIPTION_MAX)
    assert columns["price"][0] == "numeric"
    assert columns["price"][2:] == (rules.PRICE_DIGITS + rules.PRICE_PLACES, rules.PRICE_PLACES)
    # PostgreSQL's integer is 32 bits: the domain's bound on quantities and versions.
    assert columns["quantity"][0] == columns["version"][0] == "integer"
    assert rules.QUANTITY_MAX == rules.VERSION_MAX == 2**31 - 1


def _checks(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype = 'c'",
        (table,),
    ).fetchall()
    return dict(rows)


def test_the_check_constraints_are_the_tables(database_dsn: str) -> None:
    """The table's CHECK constraints, added to a scratch copy of the table, read back exactly as
    the migrated ones do (PostgreSQL prints both in its own normal form)."""
    declared = [c for c in ITEMS.constraints if isinstance(c, CheckConstraint)]
    with psycopg.connect(database_dsn) as conn:
        conn.execute("CREATE TEMPORARY TABLE declared (LIKE items)")
        for c in declared:
            conn.execute(f"ALTER TABLE declared ADD CONSTRAINT {c.name} CHECK ({c.sqltext})")
        assert _checks(conn, "declared") == _checks(conn, "items")
        conn.rollback()
