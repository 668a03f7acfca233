"""Settings from STOCKROOM_* environment variables (and an optional .env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STOCKROOM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    #: postgresql+asyncpg://user:password@host:5432/db; unset = embedded PostgreSQL under data_dir.
    database_url: SecretStr | None = None
    data_dir: Path = Path(".stockroom")

    pool_size: int = Field(default=10, ge=1, le=1000)
    pool_max_overflow: int = Field(default=5, ge=0, le=1000)
    #: Seconds a request waits for a pooled connection before answering 503.
    pool_timeout: float = Field(default=2.0, gt=0)
    #: Seconds to establish a new connection before answering 503.
    connect_timeout: float = Field(default=1.5, gt=0)
    #: Server-side statement_timeout; a statement past it is cancelled by PostgreSQL.
    statement_timeout: float = Field(default=2.0, gt=0)
    #: Server-side idle_in_transaction_session_timeout: a safety net the service never hits.
    idle_in_transaction_timeout: float = Field(default=30.0, gt=0)
    #: Behind PgBouncer in transaction pooling: no prepared-statement caching.
    pgbouncer: bool = False

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: Seconds `serve` waits for in-flight requests after SIGTERM before closing them.
    shutdown_grace: int = Field(default=20, ge=1)

    @field_validator("database_url")
    @classmethod
    def _asyncpg_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("postgresql+asyncpg://"):
            raise ValueError("must start with postgresql+asyncpg://")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value
