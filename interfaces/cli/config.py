"""Loading settings for a command: a bad setting is a usage error, reported without its value."""

from __future__ import annotations

from pydantic import ValidationError

from infrastructure.settings import Settings
from interfaces.cli.failures import fail


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        # Never echo the input: a database URL carries its password.
        problems = "; ".join(
            f"STOCKROOM_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise fail(f"invalid configuration: {problems}", code=2) from None
    if settings.database_url is None and not settings.embedded:
        raise fail(
            "STOCKROOM_DATABASE_URL is not set (required: the embedded PostgreSQL is off, "
            "STOCKROOM_EMBEDDED=false)",
            code=2,
        )
    return settings
