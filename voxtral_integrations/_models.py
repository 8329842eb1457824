"""Typed views of what the API returns (what a run over many inputs gives back is in
``_outcomes``).

Every model keeps unknown keys (``extra="allow"``): the server adds fields faster
than any client is released, and a response must never fail to parse because of
one. Fields that real responses leave out or set to null are optional here even
where the OpenAPI document calls them required (``language``, diarized segment
bounds, most of ``usage``).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from ._redaction import redact_url

__all__ = [
    "ChatChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatDelta",
    "ChatMessage",
    "ChatStreamChoice",
    "Chunk",
    "DeletedFile",
    "DoneEvent",
    "FunctionCall",
    "LanguageEvent",
    "Segment",
    "SegmentEvent",
    "SignedURL",
    "TextDeltaEvent",
    "ToolCall",
    "Transcription",
    "TranscriptionStreamEvent",
    "UnknownEvent",
    "UploadedFile",
    "Usage",
]


class LenientModel(BaseModel):
    """The base of every answer's model: unknown keys kept, schema built on first use.

    A validation error quotes no input (a malformed answer may hold a signed URL).
    The schema is built when a model first validates, not at import, so importing
    the package does not pay for models a program never uses.
    """

    model_config = ConfigDict(
        extra="allow", populate_by_name=True, hide_input_in_errors=True, defer_build=True
    )


class Usage(LenientModel):
    """Token and audio accounting. Chunked transcriptions report the sum over chunks.

    The token breakdown stays in the keys the server sent (``prompt_tokens_details``,
    or the older ``num_cached_tokens``), so a dump says what the server said;
    ``cached_tokens`` and ``audio_tokens`` read it.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_audio_seconds: float | None = None
    """Seconds of audio billed; vLLM reports it as ``usage.seconds``."""

    @property
    def cached_tokens(self) -> int | None:
        """Prompt tokens served from the cache, where the server says."""
        cached = _count(self._details().get("cached_tokens"))
        return cached if cached is not None else _count(self._extra("num_cached_tokens"))

    @property
    def audio_tokens(self) -> int | None:
        """Prompt tokens that encode audio, where the server says."""
        return _count(self._details().get("audio_tokens"))

    def _details(self) -> dict[str, Any]:
        details = self._extra("prompt_tokens_details")
        return details if isinstance(details, dict) else {}

    def _extra(self, key: str) -> Any:
        return (self.model_extra or {}).get(key)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Segment(LenientModel):
    """A stretch of the transcript with its time in the audio, in float seconds.

    ``start`` and ``end`` are ``None`` when the server sends null bounds (seen on
    diarized responses); ``speaker_id`` (``"speaker_1"``...) is set only when
    diarization was requested.

    When diarized audio went in several chunks, ``speaker_id`` names the speaker
    across the whole recording, and three more fields tell how it was found (the
    library's, not the server's; ``None`` otherwise): ``speaker_local`` is the label
    the chunk's own request gave, ``chunk_index`` that chunk, and
    ``speaker_confidence`` how sure the link across the cut is (1.0 in the first
    chunk; 0.0 for a label that could not be linked and names a new speaker, who
    may be someone heard before the cut).
    """

    text: str
    start: float | None = None
    end: float | None = None
    speaker_id: str | None = None
    score: float | None = None
    speaker_local: str | None = None
    chunk_index: int | None = None
    speaker_confidence: float | None = None


class Chunk(BaseModel):
    """A stretch of the original recording sent as one request, in seconds."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True, defer_build=True)

    index: int
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def shared_seconds(before: Chunk, after: Chunk) -> float:
    """The audio two consecutive chunks share: their overlap, 0 where they only meet."""
    return max(0.0, before.end - after.start)


class Transcription(LenientModel):
    """The result of a transcription request.

    ``segments`` is empty unless ``timestamp_granularities`` was requested; with
    ``"word"`` each segment is one word. ``language`` is often null, even when the
    model recognised the language. Times are absolute in the original recording,
    also when it was sent in several ``chunks`` (the plan, empty when the audio was
    not local and so was not examined).
    """

    text: str
    model: str
    language: str | None = None
    segments: list[Segment] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    chunks: list[Chunk] = Field(default_factory=list)
    replayed_usage: Usage | None = Field(default=None, exclude=True)
    """The part of ``usage`` replayed from a resume cache (``cache_dir``): chunks an
    earlier run sent and paid for, not this one. ``None`` when nothing came from it.
    Not serialised: a transcription's JSON is the same however it was obtained."""

    @property
    def overlap_seconds(self) -> float:
        """Audio sent twice: what neighbouring ``chunks`` share (diarized audio overlaps
        so speakers can be linked across each cut). It is billed, and in ``usage``."""
        return sum(shared_seconds(before, after) for before, after in pairwise(self.chunks))

    @property
    def billed_seconds(self) -> float | None:
        """Audio this call was billed for: the server's ``usage.prompt_audio_seconds``
        (summed over chunks, overlaps included), less chunks replayed from a resume
        cache (an earlier run paid for them); ``None`` where the server reported none."""
        if self.usage.prompt_audio_seconds is None:
            return None
        replayed = self.replayed_usage.prompt_audio_seconds if self.replayed_usage else None
        return self.usage.prompt_audio_seconds - (replayed or 0.0)


class LanguageEvent(LenientModel):
    """``transcription.language``: the detected language, early in the stream."""

    type: Literal["transcription.language"] = "transcription.language"
    audio_language: str


class TextDeltaEvent(LenientModel):
    """``transcription.text.delta``: the next piece of transcript text."""

    type: Literal["transcription.text.delta"] = "transcription.text.delta"
    text: str


class SegmentEvent(LenientModel):
    """``transcription.segment``: a finished segment with its times.

    In the stream of diarized audio sent in chunks, ``speaker_id`` and the three
    fields after it are as in :class:`Segment`.
    """

    type: Literal["transcription.segment"] = "transcription.segment"
    text: str
    start: float | None = None
    end: float | None = None
    speaker_id: str | None = None
    speaker_local: str | None = None
    chunk_index: int | None = None
    speaker_confidence: float | None = None


def speaker_link(segment: Segment | SegmentEvent) -> dict[str, str | int | float]:
    """The fields that tell how ``speaker_id`` was linked across chunks, those set."""
    fields = {
        "speaker_local": segment.speaker_local,
        "chunk_index": segment.chunk_index,
        "speaker_confidence": segment.speaker_confidence,
    }
    return {key: value for key, value in fields.items() if value is not None}


class DoneEvent(Transcription):
    """``transcription.done``: the whole transcription; always the last event."""

    type: Literal["transcription.done"] = "transcription.done"


class UnknownEvent(LenientModel):
    """An event type this version does not know, passed through untouched."""

    type: str
    data: dict[str, Any] = Field(default_factory=dict)


TranscriptionStreamEvent = LanguageEvent | TextDeltaEvent | SegmentEvent | DoneEvent | UnknownEvent


class FunctionCall(LenientModel):
    """The function a tool call invokes, with its arguments.

    ``name`` is empty on the follow-up chunks of a streamed call (vLLM sends only
    more arguments there).
    """

    name: str = ""
    arguments: str | dict[str, Any] = ""
    """A JSON string as the API sends it (Mistral occasionally sends an object)."""


class ToolCall(LenientModel):
    """A tool the model asks to call; answer it with a ``role="tool"`` message."""

    id: str | None = None
    type: str = "function"
    function: FunctionCall
    index: int | None = None


class ChatMessage(LenientModel):
    """An assistant message. ``content`` is a string, or a list of parts (e.g. thinking)."""

    role: str = "assistant"
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[ToolCall] | None = None


class ChatChoice(LenientModel):
    """One completion alternative (the API returns one unless asked otherwise)."""

    index: int = 0
    message: ChatMessage
    finish_reason: str | None = None


class ChatCompletion(LenientModel):
    """A chat completion; ``usage.prompt_audio_seconds`` counts the audio heard."""

    id: str = ""
    object: str = "chat.completion"
    created: int | None = None
    model: str
    choices: list[ChatChoice]
    usage: Usage = Field(default_factory=Usage)

    @property
    def text(self) -> str:
        """The first choice's text content, ``""`` when it has none."""
        content = self.choices[0].message.content if self.choices else None
        if isinstance(content, list):
            return "".join(str(part.get("text", "")) for part in content)
        return content or ""


class ChatDelta(LenientModel):
    """The part of an assistant message a stream chunk adds."""

    role: str | None = None
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[ToolCall] | None = None


class ChatStreamChoice(LenientModel):
    """One alternative within a stream chunk."""

    index: int = 0
    delta: ChatDelta
    finish_reason: str | None = None


class ChatCompletionChunk(LenientModel):
    """One streamed piece of a chat completion; the last one carries ``usage``."""

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int | None = None
    model: str = ""
    choices: list[ChatStreamChoice] = Field(default_factory=list)
    usage: Usage | None = None


class UploadedFile(LenientModel):
    """A file stored by the Files API. Pass it as ``audio`` to transcribe it by id."""

    id: str
    object: str = "file"
    bytes: int | None = None
    created_at: int | None = None
    filename: str | None = None
    purpose: str | None = None


class SignedURL(LenientModel):
    """A time-limited download URL for an uploaded file.

    The URL is a credential: anyone holding it can fetch the file. It is hidden
    from ``repr`` and ``str``, and ``model_dump``/``model_dump_json`` give it without
    its query string (where the token is), as a log or a stored JSON would; read
    ``.url`` where you need it.
    """

    url: str = Field(repr=False)

    @field_serializer("url")
    def _redacted(self, url: str) -> str:
        return redact_url(url)

    def __str__(self) -> str:
        return "SignedURL(url=<redacted>)"


class DeletedFile(LenientModel):
    """The answer to a file deletion."""

    id: str
    object: str = "file"
    deleted: bool
