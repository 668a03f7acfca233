"""Which database a process uses, and migrating it with Alembic: the container, the CLI's `db`
and `serve` commands, Alembic's env.py and the tests share this.

Migrations follow expand/contract (docs/migrations.md): each revision declares
`compatibility = "expand"` (a release at the revision before it still serves the schema) or
`"contract"` (it removes or tightens something older releases use). The runner records, beside
alembic_version, the oldest release head that can serve each revision it applies, so a release
can tell a database ahead of it that it can serve from one it cannot, without the newer files.

Every migration runs in its own transaction, with a lock timeout: a DDL statement waiting for its
lock blocks every query queued behind it, so it gives up soon and is retried after a pause.

Alembic is imported inside the functions that run it: a serving process never migrates, and the
import alone weighs on every process's resident memory.
"""

from __future__ import annotations

import ast
import asyncio
import io
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from infrastructure.db.dsn import asyncpg_dsn
from infrastructure.db.embedded import start_embedded

if TYPE_CHECKING:
    from alembic.config import Config

    from infrastructure.settings import Settings

MIGRATIONS_DIR: Final = Path(__file__).with_name("migrations")
VERSIONS_DIR: Final = MIGRATIONS_DIR / "versions"
#: Indexes created by migrations only when an optional extension exists (excluded from drift).
MIGRATION_ONLY_INDEXES: Final = frozenset({"ix_items_search_trgm"})

EXPAND: Final = "expand"
CONTRACT: Final = "contract"
COMPATIBILITIES: Final = frozenset({EXPAND, CONTRACT})
#: Beside alembic_version, written by the runner (env.py) in each migration's transaction.
COMPATIBILITY_TABLE: Final = "schema_compatibility"
CREATE_COMPATIBILITY_TABLE: Final = (
    f"CREATE TABLE IF NOT EXISTS {COMPATIBILITY_TABLE} "
    "(revision text PRIMARY KEY, oldest_head text NOT NULL)"
)

#: How long a migration's statement waits for a lock before it gives up (and is retried): every
#: query on that table queues behind the waiting statement meanwhile, so this stays well below
#: the service's own statement timeout, or the queries queued behind it would fail.
LOCK_TIMEOUT: Final = "500ms"
#: A bound on any one statement of a migration, so none holds its locks for long. A revision
#: that needs longer for work that blocks nobody (a concurrent index build) sets its own.
STATEMENT_TIMEOUT: Final = "1min"
#: Attempts at a migration whose lock was not granted, and the pauses between them: each attempt
#: costs the table's traffic up to the lock timeout, so they are few and spaced out quickly.
LOCK_ATTEMPTS: Final = 6
FIRST_PAUSE: Final = 1.0
PAUSE_GROWTH: Final = 4
LONGEST_PAUSE: Final = 30.0
#: SQLSTATE lock_not_available: the lock timeout expired.
LOCK_NOT_AVAILABLE: Final = "55P03"


def resolve_database_url(settings: Settings) -> str:
    """The configured database, or the embedded one (started on first use)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return start_embedded(settings.data_dir)


def prepare_database(settings: Settings) -> str:
    """Resolve the database URL; an embedded database is also migrated to head when it is behind,
    by one process at a time (the one holding the embedded server's start lock).

    An external database is migrated by the release step (`stockroom db upgrade`), never
    implicitly: several replicas starting at once must not race to migrate.
    """
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return start_embedded(settings.data_dir, then=_upgrade_when_behind)


def _upgrade_when_behind(database_url: str) -> None:
    # A revision this release does not know is a newer release's: readiness tells whether it
    # can be served; upgrading would fail.
    recorded = recorded_revisions(database_url)
    behind = set(version_files()) - {head_revision()}
    if not recorded or recorded & behind:
        upgrade(database_url)


class MigrationError(Exception):
    """A migration command failed (unknown revision, database not at head, ...)."""


class SchemaDrift(MigrationError):
    """The table models and the migrations disagree."""


class LockNotGranted(MigrationError):
    """A migration could not take its locks in any of its attempts."""


#: SQLSTATEs that say the database cannot be used at all, as the CLI reports them.
_REFUSALS: Final = frozenset({"28P01", "28000", "3D000"})


@contextmanager
def _reported() -> Iterator[None]:
    """Alembic's own failures (its CommandError) as MigrationError, with Alembic's message; a
    database that refuses the connection (credentials, missing database) as its cause."""
    from alembic.util.exc import AutogenerateDiffsDetected, CommandError  # noqa: PLC0415

    from infrastructure.db.errors import sqlstate_of, unavailability  # noqa: PLC0415

    try:
        yield
    except AutogenerateDiffsDetected as exc:
        raise SchemaDrift(str(exc)) from None
    except CommandError as exc:
        raise MigrationError(str(exc)) from None
    except Exception as exc:
        if sqlstate_of(exc) in _REFUSALS:
            raise MigrationError(unavailability(exc) or str(exc)) from None
        raise


def alembic_config(database_url: str | None = None) -> Config:
    from alembic.config import Config  # noqa: PLC0415

    config = Config(stdout=io.StringIO())
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url is not None:
        # ConfigParser interpolation would eat '%' in passwords.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def timeouts() -> dict[str, str]:
    """The session settings migrations run with (env.py sets them)."""
    return {"statement_timeout": STATEMENT_TIMEOUT, "lock_timeout": LOCK_TIMEOUT}


def migration_database_url(config: Config) -> str:
    """The URL Alembic connects to: the one handed in, else the service's own setting/default."""
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    # Plain `alembic upgrade head` with alembic.ini: resolve like the service does.
    from infrastructure.settings import Settings  # noqa: PLC0415  (a command's --help skips it)

    return resolve_database_url(Settings())


def _assigned(tree: ast.Module, name: str) -> object:
    target: ast.expr
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == name:
            return ast.literal_eval(value)
    raise LookupError(f"no {name} in a migration")


def version_files(directory: Path = VERSIONS_DIR) -> dict[str, str | None]:
    """This release's revisions and the revision each follows, read from the version files
    without importing Alembic.

    Only literal assignments are read; tests/integration/test_migrations.py checks the answer
    against Alembic's own.
    """
    found: dict[str, str | None] = {}
    for path in directory.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not any(isinstance(n, ast.Assign | ast.AnnAssign) for n in tree.body):
            continue  # __init__.py
        down = _assigned(tree, "down_revision")
        if isinstance(down, tuple | list):
            raise RuntimeError(f"{path.name}: merge revisions are not supported")
        found[str(_assigned(tree, "revision"))] = None if down is None else str(down)
    return found


def head_revision() -> str | None:
    """The migrations' single head, read from the version files without importing Alembic."""
    files = version_files()
    heads = set(files) - set(files.values())
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have several heads: {sorted(heads)}")
    return heads.pop() if heads else None


def oldest_compatible(
    revision: str, down_revision: Callable[[str], str | None], compatibility: Callable[[str], str]
) -> str:
    """The oldest release head that can serve a database at `revision`: the nearest contract
    revision at or below it (a contract removes what older releases need), else the first."""
    current = revision
    while True:
        marker = compatibility(current)
        if marker not in COMPATIBILITIES:
            raise MigrationError(
                f"revision {current} declares compatibility = {marker!r}: "
                "use 'expand' or 'contract'"
            )
        parent = down_revision(current)
        if marker == CONTRACT or parent is None:
            return current
        current = parent


def alembic_head_revision() -> str | None:
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def revisions() -> list[str]:
    """Every revision, oldest first."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


#: Told before each pause between attempts: (attempt that failed, attempts, pause in seconds).
OnRetry = Callable[[int, int, float], None]


def _with_lock_retries(run: Callable[[], None], *, attempts: int, on_retry: OnRetry | None) -> None:
    """Run `run` until no statement of it times out on a lock, pausing longer each time.

    Each migration commits on its own, so an attempt resumes after the last one applied; the
    failed one rolled back whole. Other failures are not retried.
    """
    from infrastructure.db.errors import sqlstate_of  # noqa: PLC0415

    pause = FIRST_PAUSE
    for attempt in range(1, attempts + 1):
        try:
            run()
        except Exception as exc:
            if sqlstate_of(exc) != LOCK_NOT_AVAILABLE:
                raise
            if attempt == attempts:
                raise LockNotGranted(
                    f"a migration waited {LOCK_TIMEOUT} for its locks {attempts} times and "
                    "was not granted them (another session holds a conflicting lock; see "
                    "pg_locks): nothing of it was applied, run it again later"
                ) from None
            # Jitter, so that migrators and lock holders on a cycle do not meet again.
            wait = pause * random.uniform(0.9, 1.1)  # noqa: S311  (not a secret)
            if on_retry is not None:
                on_retry(attempt, attempts, wait)
            time.sleep(wait)
            pause = min(pause * PAUSE_GROWTH, LONGEST_PAUSE)
        else:
            return


def upgrade(
    database_url: str,
    revision: str = "head",
    *,
    attempts: int = LOCK_ATTEMPTS,
    on_retry: OnRetry | None = None,
) -> None:
    from alembic import command  # noqa: PLC0415

    config = alembic_config(database_url)
    with _reported():
        _with_lock_retries(
            lambda: command.upgrade(config, revision), attempts=attempts, on_retry=on_retry
        )


def downgrade(
    database_url: str,
    revision: str,
    *,
    attempts: int = LOCK_ATTEMPTS,
    on_retry: OnRetry | None = None,
) -> None:
    from alembic import command  # noqa: PLC0415

    config = alembic_config(database_url)
    with _reported():
        _with_lock_retries(
            lambda: command.downgrade(config, revision), attempts=attempts, on_retry=on_retry
        )


def current(database_url: str) -> str:
    from alembic import command  # noqa: PLC0415

    # A newer release's revision: Alembic cannot describe it, the database still says it.
    unknown = recorded_revisions(database_url) - set(version_files())
    if unknown:
        return f"{', '.join(sorted(unknown))} (a revision this release does not know)"
    config = alembic_config(database_url)
    buffer = io.StringIO()
    config.stdout = buffer
    with _reported():
        command.current(config)
    return buffer.getvalue().strip()


def check(database_url: str) -> None:
    """Raise SchemaDrift when autogenerate would produce a migration."""
    from alembic import command  # noqa: PLC0415

    with _reported():
        command.check(alembic_config(database_url))


def offline_sql(start: str | None, end: str) -> str:
    """The SQL `alembic upgrade START:END --sql` prints (no database involved)."""
    from alembic import command  # noqa: PLC0415

    buffer = io.StringIO()
    config = alembic_config()
    config.output_buffer = buffer
    with _reported():
        command.upgrade(config, end if start is None else f"{start}:{end}", sql=True)
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class Loss:
    """What a downgrade would drop: a table, or a column as `table.column`, and its rows."""

    what: str
    rows: int


def downgrade_losses(database_url: str, target: str) -> list[Loss]:
    """The tables and columns holding data that downgrading to `target` drops.

    Each revision names what its downgrade drops (`downgrade_drops`). A database at a revision
    this release does not know is refused: its downgrade belongs to the release that made it.
    """
    from alembic.script import ScriptDirectory  # noqa: PLC0415
    from alembic.util.exc import CommandError  # noqa: PLC0415

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    recorded = recorded_revisions(database_url)
    known = set(version_files())
    unknown = recorded - known
    if unknown:
        raise MigrationError(
            f"the database is at revision {', '.join(sorted(unknown))}, which this release does "
            "not know: downgrade it with the release that migrated it"
        )
    if not recorded:
        return []
    try:
        steps = list(
            script.iterate_revisions(
                recorded.pop(), None if target == "base" else target, select_for_downgrade=True
            )
        )
    except CommandError as exc:
        raise MigrationError(str(exc)) from None
    dropped: list[str] = []
    for step in steps:
        if target == step.revision:
            continue
        dropped.extend(getattr(step.module, "downgrade_drops", ()))
    counts = asyncio.run(_count_rows(database_url, dropped))
    return [Loss(what, rows) for what, rows in zip(dropped, counts, strict=True) if rows]


async def _count_rows(database_url: str, dropped: Sequence[str]) -> list[int]:
    import asyncpg  # noqa: PLC0415

    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        counts = []
        for what in dropped:
            table, _, column = what.partition(".")
            ident = _quote(table)
            where = f" WHERE {_quote(column)} IS NOT NULL" if column else ""
            # Names from the revision modules, quoted as identifiers.
            query = f"SELECT count(*) FROM {ident}{where}"  # noqa: S608
            counts.append(int(await connection.fetchval(query)))
        return counts
    finally:
        await connection.close()


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def recorded_revisions(database_url: str) -> set[str]:
    """The database's recorded revisions: one query with asyncpg, without importing Alembic or
    SQLAlchemy (a noticeable share of a process's start-up). A database never migrated has no
    alembic_version table: none.
    """
    import asyncpg  # noqa: PLC0415  (only the embedded server's start-up and `db` ask)

    async def recorded() -> set[str]:
        connection = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            rows = await connection.fetch("SELECT version_num FROM alembic_version")
        except asyncpg.UndefinedTableError:
            return set()
        finally:
            await connection.close()
        return {row["version_num"] for row in rows}

    with _reported():
        return asyncio.run(recorded())
