"""Loading the settings for a command or a script: a bad setting is reported by its name, never
its value (a database URL carries its password)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from infrastructure.settings import Settings

#: pydantic-settings names the field, never the value, when a complex setting is not JSON.
_FIELD_IN_MESSAGE = re.compile(r'field "(\w+)"')


class ConfigurationError(ValueError):
    """A STOCKROOM_* variable is missing or invalid (a usage error: exit status 2)."""


def load_configured_settings() -> Settings:
    # Imported here: a command's `--help` and usage errors never load pydantic-settings.
    from pydantic import ValidationError  # noqa: PLC0415
    from pydantic_settings import SettingsError  # noqa: PLC0415

    from infrastructure.settings import Settings  # noqa: PLC0415

    try:
        settings = Settings()
    except ValidationError as exc:
        # Never echo the input: a database URL carries its password.
        problems = "; ".join(
            f"STOCKROOM_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None
    except SettingsError as exc:
        field = _FIELD_IN_MESSAGE.search(str(exc))
        name = f"STOCKROOM_{field.group(1).upper()}" if field else "a STOCKROOM_ variable"
        raise ConfigurationError(
            f'invalid configuration: {name}: not valid JSON (a list is written ["a", "b"])'
        ) from None
    if settings.database_url is None and not settings.embedded:
        raise ConfigurationError(
            "STOCKROOM_DATABASE_URL is not set (required: the embedded PostgreSQL is off, "
            "STOCKROOM_EMBEDDED=false)"
        )
    _check_database_port(settings)
    return settings


def _check_database_port(settings: Settings) -> None:
    """A port that is not a number from 1 to 65535 is a configuration error, found before any
    connection is tried (the drivers fail on it deep inside, with a traceback)."""
    if settings.database_url is None:
        return
    try:
        port = urlsplit(settings.database_url.get_secret_value()).port
    except ValueError:
        port = 0
    if port == 0:
        raise ConfigurationError(
            "invalid configuration: STOCKROOM_DATABASE_URL: the port must be a number "
            "from 1 to 65535"
        )
