"""Loading settings for a command: a bad setting is a usage error (exit status 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interfaces.cli.failures import fail
from interfaces.configuration import ConfigurationError, load_configured_settings

if TYPE_CHECKING:
    from infrastructure.settings import Settings


def load_settings() -> Settings:
    try:
        return load_configured_settings()
    except ConfigurationError as exc:
        raise fail(str(exc), code=2) from None
