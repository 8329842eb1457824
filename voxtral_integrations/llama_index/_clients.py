"""The client settings of the LlamaIndex objects built on pydantic: one set of fields."""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

from .._adapter_clients import AdapterClients, HoldsClients
from .._constants import DEFAULT_MAX_RETRIES
from .._dialects import Backend


class VoxtralClientFields(HoldsClients, BaseModel):
    """The settings ``VoxtralLLM`` and ``VoxtralReader`` build clients from.

    Their clients follow the one lifetime policy of ``_adapter_clients``: built at the
    first call, reused, rebuilt when a setting changes; a copy builds its own, a
    pickle holds no key.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    api_key: SecretStr | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description="Defaults to MISTRAL_API_KEY (Mistral backend only). Never serialised.",
    )
    base_url: str | None = Field(
        default=None,
        description="Defaults to MISTRAL_BASE_URL, then Mistral's API "
        "(vLLM: http://localhost:8000/v1).",
    )
    backend: Backend = Field(
        default="mistral", description="'mistral' (Mistral's API) or 'vllm' (Voxtral on vLLM)."
    )
    timeout: float | None = Field(
        default=None, description="Seconds; by default the core's (10 s connect, 30 min read)."
    )
    max_retries: int = Field(
        default=DEFAULT_MAX_RETRIES,
        description="Retries after 429, 5xx, connection errors and timeouts.",
    )
    http_client: httpx.Client | None = Field(default=None, exclude=True, repr=False)
    """Your own ``httpx.Client`` (proxies, certificates); not serialised, not closed."""
    async_http_client: httpx.AsyncClient | None = Field(default=None, exclude=True, repr=False)
    """Your own ``httpx.AsyncClient`` for the async methods."""

    _clients: AdapterClients = PrivateAttr(default_factory=AdapterClients)
