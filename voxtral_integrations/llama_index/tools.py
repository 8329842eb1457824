"""``VoxtralToolSpec``: transcription as a tool a LlamaIndex agent can call."""

from __future__ import annotations

import os
from typing import Any

from llama_index.core.tools.tool_spec.base import BaseToolSpec

from .._adapter_clients import AdapterClients, HoldsClients
from .._constants import API_KEY_ENV, DEFAULT_TRANSCRIPTION_MODEL
from .._dialects import Backend, dialect
from .._records import timestamped_text
from .._settings import ClientSettings

__all__ = ["VoxtralToolSpec"]


class VoxtralToolSpec(HoldsClients, BaseToolSpec):
    """``transcribe_audio`` for agents, sync and async, with ``[HH:MM:SS]`` markers.

    Example::

        tools = VoxtralToolSpec().to_tool_list()
        agent = FunctionAgent(tools=tools, llm=VoxtralLLM())

    The agent chooses what to transcribe: it can read any file this process can.
    """

    spec_functions = [("transcribe_audio", "atranscribe_audio")]  # noqa: RUF012
    _key_field = "_settings"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        backend: Backend = "mistral",
    ) -> None:
        if api_key is None and dialect(backend).reads_environment:
            api_key = os.environ.get(API_KEY_ENV)
        self._settings = ClientSettings.of(locals())
        self._model = model
        self._clients = AdapterClients()
        self._settings.resolved()  # a missing key fails here, not in the agent

    def __repr__(self) -> str:
        return f"VoxtralToolSpec(model={self._model!r}, backend={self._settings.backend!r})"

    def _timestamps(self) -> dict[str, Any]:
        if not dialect(self._settings.backend).supports_timestamps:
            return {}
        return {"timestamp_granularities": ["segment"]}

    def transcribe_audio(self, path_or_url: str, diarize: bool = False) -> str:
        """Transcribe an audio or video file (a local path or an http(s) URL).

        Returns the transcript as lines "[HH:MM:SS] text", each marked with the
        time in the recording where it is said (and the speaker with diarize=True).
        """
        result = self._client().transcribe(
            path_or_url, model=self._model, diarize=diarize, **self._timestamps()
        )
        return timestamped_text(result)

    async def atranscribe_audio(self, path_or_url: str, diarize: bool = False) -> str:
        """Transcribe an audio or video file (a local path or an http(s) URL).

        Returns the transcript as lines "[HH:MM:SS] text", each marked with the
        time in the recording where it is said (and the speaker with diarize=True).
        """
        async with self._one_async_client() as client:
            result = await client.transcribe(
                path_or_url,
                model=self._model,
                diarize=diarize,
                **self._timestamps(),
            )
        return timestamped_text(result)
