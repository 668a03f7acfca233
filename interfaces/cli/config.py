"""Loading settings for a command: a bad setting is a usage error, reported without its value."""

from __future__ import annotations

from pydantic import ValidationError

from infrastructure.settings import Settings
from interfaces.cli.failures import fail


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        # Never echo the input: a database URL carries its password.
        problems = "; ".join(
            f"STOCKROOM_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise fail(f"invalid configuration: {problems}", code=2) from None
