"""Store configuration from arguments or the environment (``SESSION_STORE_*``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigurationError
from .values import DEFAULT_LIMITS, Limits


class StoreConfig(BaseSettings):
    """Which store to open. Read from ``SESSION_STORE_TYPE``, ``SESSION_STORE_PATH``,
    ``SESSION_STORE_URL``, ``SESSION_STORE_NAMESPACE`` and ``SESSION_STORE_DEFAULT_TTL``
    when not given. ``SESSION_STORE_PATH`` defaults to ``./data/sessions.db`` for sqlite."""

    model_config = SettingsConfigDict(env_prefix="SESSION_STORE_", extra="forbid")

    #: The backend name: ``memory`` (default), or a registered backend.
    type: str = "memory"
    #: A file path, for file-backed stores.
    path: Optional[str] = None  # noqa: UP045 - pydantic-settings reads the annotation at runtime
    #: A store URL such as ``memory://``; wins over ``type`` and ``path``.
    url: Optional[str] = None  # noqa: UP045
    #: Keeps applications apart in one shared backend (an SQLite table, a key prefix).
    namespace: Optional[str] = None  # noqa: UP045
    #: Seconds a new session lives when ``create`` gets no ttl; unset means no expiry.
    default_ttl: Optional[float] = None  # noqa: UP045
    #: Largest encoded session data accepted (VAL-5); unset means the spec's 1 MiB.
    max_data_bytes: Optional[int] = None  # noqa: UP045

    def limits(self) -> Limits:
        if self.max_data_bytes is None:
            return DEFAULT_LIMITS
        if self.max_data_bytes < 2:
            raise ConfigurationError(
                "max_data_bytes (SESSION_STORE_MAX_DATA_BYTES) must be at least 2 (the empty "
                f"object {{}}), got {self.max_data_bytes}"
            )
        return replace(DEFAULT_LIMITS, max_data_bytes=self.max_data_bytes)
