"""Agent tools: ``VoxtralTranscriptionTool`` transcribes a recording with timestamps;
``VoxtralRealtimeTool`` listens to one through the realtime endpoint."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import BaseTool
from langchain_core.tools.base import ArgsSchema
from pydantic import BaseModel, ConfigDict, Field

from .._constants import DEFAULT_TRANSCRIPTION_MODEL
from .._dialects import dialect
from .._realtime_loading import (
    RealtimeFields,
    RealtimeSource,
    aturn_records,
    check_realtime,
    turn_records,
)
from .._records import Record, timestamped_lines, timestamped_text
from ._clients import VoxtralClientFields

__all__ = [
    "VoxtralRealtimeInput",
    "VoxtralRealtimeTool",
    "VoxtralTranscriptionInput",
    "VoxtralTranscriptionTool",
]


class VoxtralTranscriptionInput(BaseModel):
    """What the agent passes to ``voxtral_transcribe``."""

    path_or_url: str = Field(
        description="A local audio or video file path, or an http(s) URL of a recording."
    )
    language: str | None = Field(
        default=None,
        description=(
            "Optional two-letter language code such as 'en'. Ignored on Mistral's API, which "
            "cannot combine a language with the timestamps this tool returns; the language "
            "is then detected automatically."
        ),
    )
    diarize: bool = Field(
        default=False, description="Label each line with its speaker (speaker_1, speaker_2...)."
    )


class VoxtralTranscriptionTool(VoxtralClientFields, BaseTool):
    """Transcribe a recording with Voxtral and return ``[HH:MM:SS] text`` lines.

    Example::

        from voxtral_integrations.langchain import VoxtralTranscriptionTool

        tool = VoxtralTranscriptionTool()  # reads MISTRAL_API_KEY
        print(tool.invoke({"path_or_url": "meeting.mp3", "diarize": True}))
        # [00:00:00] speaker_1: Good morning everyone...

    Segment timestamps are always requested on Mistral's API, so a ``language`` is
    dropped there (the API rejects the pair; the model detects the language). On
    the vLLM backend, which has no timestamps, the plain transcript is returned and
    ``language`` is used. Long local files are split and the times stay absolute.

    The agent chooses the path: give this tool only to agents you would let read
    the audio files the process can read.
    """

    name: str = "voxtral_transcribe"
    description: str = (
        "Transcribe speech in an audio or video recording (a local file path or an "
        "http(s) URL). Returns the transcript as lines '[HH:MM:SS] text', each with the "
        "time its segment starts; with diarize=true each line names its speaker. "
        "On Mistral's API a language code is ignored, since the API cannot combine it "
        "with timestamps; the language is detected automatically."
    )
    args_schema: ArgsSchema | None = VoxtralTranscriptionInput

    model: str = DEFAULT_TRANSCRIPTION_MODEL

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    def _options(self, language: str | None, diarize: bool) -> dict[str, Any]:
        if not dialect(self.backend).supports_timestamps:  # so the language can be used
            return {"model": self.model, "language": language, "diarize": diarize}
        return {"model": self.model, "diarize": diarize, "timestamp_granularities": ["segment"]}

    def _run(
        self,
        path_or_url: str,
        language: str | None = None,
        diarize: bool = False,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> str:
        result = self._client().transcribe(path_or_url, **self._options(language, diarize))
        return timestamped_text(result)

    async def _arun(
        self,
        path_or_url: str,
        language: str | None = None,
        diarize: bool = False,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> str:
        result = await self._async_client().transcribe(
            path_or_url, **self._options(language, diarize)
        )
        return timestamped_text(result)


class VoxtralRealtimeInput(BaseModel):
    """What the agent passes to ``voxtral_listen``."""

    path: str = Field(description="A local audio or video file to listen to.")


class VoxtralRealtimeTool(VoxtralClientFields, RealtimeFields, BaseTool):
    """Listen to a recording through Voxtral's realtime endpoint: ``[HH:MM:SS]`` turns.

    Example::

        from voxtral_integrations.langchain import VoxtralRealtimeTool

        tool = VoxtralRealtimeTool(model="voxtral-mini-transcribe-realtime-3", diarize=True)
        print(tool.invoke({"path": "call.wav"}))
        # [00:00:00] speaker_1: Hello, thanks for calling...

    Each line is one finalised turn, at its absolute start, with its speaker when the
    tool diarizes. The session options are the tool's fields (those of
    ``VoxtralClient.stream_realtime``, checked when the tool is built), not the
    agent's: an agent cannot switch on a feature the model lacks. The recording is
    sent as fast as the server takes it unless ``realtime=True``. Unlike
    :class:`VoxtralTranscriptionTool`, this also gives times on the vLLM backend
    (whose transcription endpoint has none) and needs only a realtime model. Any file
    this process can read may be named by the agent, so hand the tool only to agents
    trusted with them.
    """

    name: str = "voxtral_listen"
    description: str = (
        "Listen to the speech in a local audio or video file. Returns one line per "
        "speaker turn, '[HH:MM:SS] text', each with the time the turn starts (and the "
        "speaker, when the tool labels speakers)."
    )
    args_schema: ArgsSchema | None = VoxtralRealtimeInput

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self._session_options()  # the library's typed error, not a ValidationError

    def _session_options(self) -> dict[str, Any]:
        fields = {**vars(self), "realtime": False if self.realtime is None else self.realtime}
        return check_realtime(fields, self.backend)

    def _run(self, path: str, run_manager: CallbackManagerForToolRun | None = None) -> str:
        source = RealtimeSource(path, argument="path")
        return timestamped_lines(turn_records(self._client(), source, self._session_options()))

    async def _arun(
        self, path: str, run_manager: AsyncCallbackManagerForToolRun | None = None
    ) -> str:
        source = RealtimeSource(path, argument="path")
        turns = aturn_records(self._async_client(), source, self._session_options())
        heard: list[Record] = [record async for record in turns]
        return timestamped_lines(heard)
