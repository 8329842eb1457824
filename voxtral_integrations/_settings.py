"""Client settings as one value: the key, where the backend is, how long to wait, retries.

The clients' constructors and every adapter take the same five settings; below the
public signatures they travel as one :class:`ClientSettings`. It holds them as given
(``api_key=None`` means "read ``MISTRAL_API_KEY`` when a client is built", so an
adapter pickled without its key finds it again); :meth:`ClientSettings.resolved`
applies the backend's environment policy and checks them, as every client does
when it is built.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from ._constants import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    DEFAULT_VLLM_BASE_URL,
)
from ._dialects import Backend, dialect
from ._exceptions import ConfigurationError
from ._options import given
from ._redaction import redact_url

_KEY = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class ClientSettings:
    """The settings of a client, as given; the key never shows in a ``repr``."""

    api_key: SecretStr | None = None
    base_url: str | None = None
    backend: Backend = "mistral"
    timeout: float | httpx.Timeout | None = None
    max_retries: int = DEFAULT_MAX_RETRIES

    @classmethod
    def of(cls, arguments: Mapping[str, Any]) -> ClientSettings:
        """The settings among ``arguments`` (a constructor's ``locals()``), by name.

        A key given as a string is kept as a secret; other names are ignored.
        """
        settings = given(arguments, CLIENT_SETTINGS)
        key = settings.get("api_key")
        if key is not None and not isinstance(key, SecretStr):
            settings["api_key"] = SecretStr(key)
        return cls(**settings)

    @property
    def key(self) -> str | None:
        """The key itself, for the ``Authorization`` header and nothing else."""
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def without_key(self) -> ClientSettings:
        """These settings with the key left to the environment (for a pickle)."""
        return dataclasses.replace(self, api_key=None)

    def arguments(self) -> dict[str, Any]:
        """The settings as the clients' constructors take them."""
        return {**{name: getattr(self, name) for name in CLIENT_SETTINGS}, "api_key": self.key}

    def resolved(self) -> ResolvedSettings:
        """The settings a client uses: environment applied, everything checked.

        Raises ``ConfigurationError`` for an unknown backend, a missing or malformed
        key, a base URL that cannot work, or a bad ``max_retries``. The ``MISTRAL_*``
        variables are read only for a backend that takes them (``reads_environment``):
        they are Mistral's, never sent to, or used for, another host.
        """
        profile = dialect(self.backend)
        environment = os.environ if profile.reads_environment else {}
        key = self.key if self.api_key is not None else environment.get(API_KEY_ENV)
        if profile.requires_key and not key:
            raise ConfigurationError(
                f"No API key: pass `api_key=` or set the {API_KEY_ENV} environment variable "
                "(create a key at https://console.mistral.ai/api-keys)."
            )
        if key and not _KEY.fullmatch(key):
            raise ConfigurationError(
                "The API key contains whitespace or characters outside printable ASCII (a "
                "trailing newline from a file?). Strip it; the key is not shown here."
            )
        base_url = _check_base_url(
            self.base_url or environment.get(BASE_URL_ENV) or profile.default_base_url
        )
        retries = self.max_retries
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"`max_retries`={retries!r} must be an integer >= 0.")
        timeout = self.timeout
        if timeout is None:
            timeout = DEFAULT_TIMEOUT
        elif not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout)
        return ResolvedSettings(self.backend, key or None, base_url, timeout, retries)


@dataclass(frozen=True)
class ResolvedSettings:
    """The settings a client uses: nothing left to look up, everything checked."""

    backend: Backend
    key: str | None = field(repr=False)
    base_url: str
    """Without a trailing ``/``: the API paths are appended to it."""
    timeout: httpx.Timeout
    max_retries: int


CLIENT_SETTINGS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ClientSettings))
"""The client settings by name: the one table the clients and adapters build from."""


def _check_base_url(url: str) -> str:
    parsed = httpx.URL(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(
            f"`base_url`={redact_url(str(url))!r} is not an http(s) URL; use e.g. "
            f"{DEFAULT_BASE_URL!r} or {DEFAULT_VLLM_BASE_URL!r} for vLLM."
        )
    if parsed.userinfo:  # httpx would send them as Basic auth in place of the key, and log them
        raise ConfigurationError(
            f"`base_url`={redact_url(url)!r} carries a user name or password. Pass the URL "
            "without them; for a server or proxy that needs them, pass "
            "`http_client=httpx.Client(auth=(user, password))` (or `proxy=`)."
        )
    if parsed.query or parsed.fragment:  # paths go after it, and httpx logs every URL
        raise ConfigurationError(
            f"`base_url`={redact_url(url)!r} has a query string or fragment; the API paths "
            "are appended to it. Pass the URL without them; for a gateway that needs a "
            "query parameter, pass `http_client=httpx.Client(params={...})`."
        )
    return url.rstrip("/")
