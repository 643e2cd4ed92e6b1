"""The reference service's settings: one typed object, read from the environment and flags.

Every field reads ``LOOPSAFE_<NAME>`` (``LOOPSAFE_DATA_DIR``, ``LOOPSAFE_WEBHOOK_SECRETS``,
...); ``loopsafe serve`` flags override the environment. Secrets are ``SecretStr`` so they
never show in a ``repr``, a log line or an error.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from loopsafe.stores import parse_target

__all__ = ["Settings"]


class Settings(BaseSettings):
    """How the service runs. Defaults serve on loopback with stores under ``./var/``."""

    # Inputs stay out of error messages: a URL or a secret may carry a password.
    model_config = SettingsConfigDict(
        env_prefix="LOOPSAFE_", extra="ignore", hide_input_in_errors=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path("var")
    workers: int = Field(default=1, ge=1, le=64, description="server processes on the same files")
    webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='JSON object mapping a source name to its secret: {"github": "whsec_..."}',
    )
    admin_token: SecretStr | None = Field(
        default=None, description="Bearer token for mutating admin routes; unset: they answer 403"
    )
    webhook_tolerance: int = Field(
        default=300, ge=1, le=86_400, description="seconds a webhook timestamp may be off"
    )
    max_body: int = Field(
        default=1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="request body limit"
    )
    webhook_handler: str = Field(
        default="loopsafe.service.handlers:mark_processed",
        description="module:function that processes a delivery's job",
    )
    job_attempts: int = Field(
        default=8, ge=1, le=100, description="attempts at a delivery's job before it is dead"
    )
    job_retry_base: float = Field(
        default=1.0, ge=0, le=3600, description="seconds before the first retry; doubles after"
    )
    job_lease: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        description="seconds a crashed worker's job stays claimed before another runs it",
    )
    # Secret: a PostgreSQL URL may carry a password.
    cache_url: SecretStr | None = Field(
        default=None,
        description="the cache's store: sqlite:///path or postgresql://...; "
        "unset: cache.db under data_dir",
    )
    flags_url: SecretStr | None = Field(
        default=None, description="the flags' store, as cache_url; unset: flags.db under data_dir"
    )
    queue_url: SecretStr | None = Field(
        default=None,
        description="the job queue's store (and the webhook deliveries'), as cache_url; "
        "unset: jobs.db under data_dir",
    )
    worker: bool = Field(default=True, description="run the job worker inside the server")
    worker_concurrency: int = Field(default=8, ge=1, le=1024)
    grace_period: float = Field(default=10.0, ge=0, le=600)
    shed_target_lag: float = Field(
        default=0.005,
        gt=0,
        le=10,
        description="loop lag (s) that, sustained, makes the server shed requests with 503",
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    @field_validator("webhook_secrets")
    @classmethod
    def _secrets_are_standard(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for source, secret in value.items():
            if not source or "/" in source:
                raise ValueError(f"bad webhook source name {source!r}")
            decode_secret(secret.get_secret_value())
        return value

    @field_validator("cache_url", "flags_url", "queue_url")
    @classmethod
    def _urls_name_a_backend(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_target(value.get_secret_value())  # ValueError says what is wrong
        return value

    def store_target(self, store: Literal["cache", "flags", "queue"]) -> str:
        """Where ``store`` lives: its URL setting, or its file under ``data_dir``."""
        url = {"cache": self.cache_url, "flags": self.flags_url, "queue": self.queue_url}[store]
        if url is not None:
            return url.get_secret_value()
        return str(self.data_dir / {"cache": "cache.db", "flags": "flags.db"}.get(store, "jobs.db"))

    @field_validator("admin_token")
    @classmethod
    def _token_is_not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("LOOPSAFE_ADMIN_TOKEN must be at least 16 characters")
        return value


def decode_secret(secret: str) -> bytes:
    """The key bytes of a Standard Webhooks secret (``whsec_`` + base64 of 24-64 bytes).

    Raises :class:`ValueError` naming what is wrong (never the secret itself).
    """
    body = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(body, validate=True)
    except ValueError:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError(f"a webhook secret's key must be 24 to 64 bytes, not {len(key)}")
    return key
