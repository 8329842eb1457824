"""The client settings of the LangChain objects that call Voxtral: one set of fields."""

from __future__ import annotations

import httpx
from langchain_core.utils import secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator
from typing_extensions import Self

from .._adapter_clients import AdapterClients, ClosesClients
from .._constants import API_KEY_ENV, DEFAULT_MAX_RETRIES
from .._dialects import Backend, dialect


class VoxtralClientFields(ClosesClients, BaseModel):
    """The settings ``ChatVoxtral`` and ``VoxtralTranscriptionTool`` build clients from.

    Their clients follow the one lifetime policy of ``_adapter_clients``: built at the
    first call, reused, released by ``close()``/``aclose()`` (or ``with``/``async
    with``), rebuilt when a setting changes; a copy builds its own, a pickle holds no key.
    """

    _key_field = "mistral_api_key"
    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    mistral_api_key: SecretStr | None = Field(
        alias="api_key", default_factory=secret_from_env(API_KEY_ENV, default=None)
    )
    """Defaults to ``MISTRAL_API_KEY``. Optional for vLLM, which never gets that variable."""
    base_url: str | None = None
    """Defaults to ``MISTRAL_BASE_URL``, then Mistral's API (vLLM: ``http://localhost:8000/v1``)."""
    backend: Backend = "mistral"
    """``"mistral"`` (Mistral's API) or ``"vllm"`` (Voxtral served by vLLM)."""
    timeout: float | None = None
    """Seconds; by default the core's (10 s to connect, 30 min to read)."""
    max_retries: int = DEFAULT_MAX_RETRIES
    """Retries after 429, 5xx, connection errors and timeouts (by the core client)."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """Your own ``httpx.Client`` (proxies, certificates); not serialised, not closed."""
    async_http_client: httpx.AsyncClient | None = Field(default=None, exclude=True)
    """Your own ``httpx.AsyncClient`` for the async methods."""

    _clients: AdapterClients = PrivateAttr(default_factory=AdapterClients)

    @model_validator(mode="after")
    def _check_settings(self) -> Self:
        """A key that only came from ``MISTRAL_API_KEY`` is dropped for a backend that
        does not take it; a missing key or a bad URL fails here, not at the first call."""
        if (
            not dialect(self.backend).reads_environment
            and "mistral_api_key" not in self.model_fields_set
        ):
            self.mistral_api_key = None
        self._client_settings().resolved()
        return self
