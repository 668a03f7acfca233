"""Settings from STOCKROOM_* environment variables (and an optional .env file)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from infrastructure.api_keys import ApiKey, Keyring


def _require_asyncpg(url: SecretStr) -> None:
    if not url.get_secret_value().startswith("postgresql+asyncpg://"):
        raise ValueError("must start with postgresql+asyncpg://")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STOCKROOM_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,  # `STOCKROOM_DATA_DIR=` is unset, not the working directory
        allow_inf_nan=False,  # an infinite or NaN timeout would wait forever or never
    )

    #: postgresql+asyncpg://user:password@host:5432/db; unset = embedded PostgreSQL under data_dir.
    database_url: SecretStr | None = None
    data_dir: Path = Path(".stockroom")
    #: Without database_url, start the embedded PostgreSQL (off in the container image).
    embedded: bool = True

    #: Under load, requests queue for a connection rather than open overflow ones.
    pool_size: int = Field(default=20, ge=1, le=1000)
    pool_max_overflow: int = Field(default=0, ge=0, le=1000)
    pool_timeout: float = Field(default=2.0, gt=0)
    connect_timeout: float = Field(default=1.5, gt=0)
    #: Server-side statement_timeout; a client-side bound slightly above it catches a silent link.
    statement_timeout: float = Field(default=1.5, gt=0)
    #: Server-side idle_in_transaction_session_timeout: a safety net the service never hits.
    idle_in_transaction_timeout: float = Field(default=30.0, gt=0)
    #: Behind PgBouncer in transaction pooling: no prepared-statement caching.
    pgbouncer: bool = False

    #: Streaming standbys (postgresql+asyncpg:// URLs, comma-separated) that may serve reads.
    replica_urls: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    #: Seconds a standby may be behind the primary and still serve reads.
    replica_max_lag: float = Field(default=1.0, gt=0)

    #: `<id>:<read|write>:<sha256 hex>` entries, comma-separated or a JSON list; none: open API.
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: With keys configured, let GET requests through without a key.
    public_reads: bool = False

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: Hours an Idempotency-Key's response is kept (and replayed); purged after.
    idempotency_ttl_hours: int = Field(default=24, ge=24, le=24 * 30)
    #: How long change-feed events are kept (seconds or ISO 8601, e.g. P7D); purged after.
    event_retention: timedelta = Field(default=timedelta(days=7), gt=timedelta(0))
    #: Seconds of silence after which an event stream sends a keep-alive comment.
    event_stream_keepalive: float = Field(default=15.0, gt=0, le=300)
    #: Webhooks: run the dispatcher inside `serve` (off: run `stockroom webhooks dispatch`).
    webhooks_dispatch: bool = True
    #: Let webhook targets be on loopback, link-local or private networks (tests, closed nets).
    webhooks_allow_private: bool = False
    webhooks_timeout: float = Field(default=10.0, gt=0, le=120)
    #: Seconds before the first retry; each retry waits up to twice as long (with jitter).
    webhooks_retry_base: float = Field(default=5.0, gt=0)
    webhooks_retry_cap: float = Field(default=3600.0, gt=0)
    #: How long a delivery is retried before it is given up (seconds or ISO 8601; 3 days).
    webhooks_retry_for: timedelta = Field(default=timedelta(days=3), gt=timedelta(0))
    #: Seconds `serve` waits for in-flight requests after SIGTERM before closing them.
    shutdown_grace: int = Field(default=20, ge=1)
    #: Seconds `serve` keeps serving after SIGTERM while /health/ready answers 503, so that a
    #: load balancer takes it out of rotation before it stops accepting. 0: stop at once.
    shutdown_drain: float = Field(default=5.0, ge=0, le=300)
    #: Seconds a client has to send a request's line and headers; the connection is closed after.
    header_timeout: float = Field(default=10.0, gt=0, le=300)

    @field_validator("database_url")
    @classmethod
    def _asyncpg_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _require_asyncpg(value)
        return value

    @field_validator("replica_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("replica_urls")
    @classmethod
    def _asyncpg_replicas(cls, value: list[SecretStr]) -> list[SecretStr]:
        for url in value:
            _require_asyncpg(url)
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in text.split(",") if part.strip()]
        return value

    @field_validator("api_keys")
    @classmethod
    def _valid_keys(cls, value: list[str]) -> list[str]:
        keys = [ApiKey.parse(entry) for entry in value]
        # The id names the caller in the access log: two keys under one id, or one key under
        # two ids, would name the wrong one.
        for what, seen in (("id", [k.id for k in keys]), ("key", [k.sha256 for k in keys])):
            repeated = sorted({x for x in seen if seen.count(x) > 1})
            if repeated:
                shown = ", ".join(repeated) if what == "id" else "the same hash"
                raise ValueError(f"each API key {what} may appear only once ({shown} repeats)")
        return value

    def keyring(self) -> Keyring:
        return Keyring(ApiKey.parse(entry) for entry in self.api_keys)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value
