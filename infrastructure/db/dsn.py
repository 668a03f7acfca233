"""The asyncpg DSN of a `postgresql+asyncpg://` URL, for the few places that talk to asyncpg
without SQLAlchemy (the migrator's quick checks, the standbys' monitor)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def asyncpg_dsn(database_url: str) -> str:
    """SQLAlchemy names each host of a multi-host URL in its own `host=` query parameter;
    asyncpg keeps only the last of those, so they go into the netloc, comma-separated."""
    parts = urlsplit(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    query = parse_qsl(parts.query, keep_blank_values=True)
    hosts = [value for name, value in query if name == "host"]
    if len(hosts) < 2:
        return urlunsplit(parts)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{','.join(hosts)}" if userinfo else ",".join(hosts)
    rest = urlencode([(name, value) for name, value in query if name != "host"])
    return urlunsplit((parts.scheme, netloc, parts.path, rest, parts.fragment))
