"""Typed views of what the API returns, and :class:`TranscriptionResult`, one input's
outcome in bulk and batch (here, beside :class:`Transcription`, so that the pure
batch bookkeeping can build it without importing the bulk runner).

Every model keeps unknown keys (``extra="allow"``): the server adds fields faster
than any client is released, and a response must never fail to parse because of
one. Fields that real responses leave out or set to null are optional here even
where the OpenAPI document calls them required (``language``, diarized segment
bounds, most of ``usage``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from ._catalogue import Price, audio_cost
from ._exceptions import IncompleteTranscriptionError, VoxtralError
from ._redaction import redact_url

__all__ = [
    "BatchJob",
    "BatchJobProblem",
    "ChatChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatDelta",
    "ChatMessage",
    "ChatStreamChoice",
    "Chunk",
    "CostEstimate",
    "DeletedFile",
    "DoneEvent",
    "FileEstimate",
    "FunctionCall",
    "LanguageEvent",
    "Segment",
    "SegmentEvent",
    "SignedURL",
    "TextDeltaEvent",
    "ToolCall",
    "Transcription",
    "TranscriptionResult",
    "TranscriptionStreamEvent",
    "UnknownEvent",
    "UploadedFile",
    "Usage",
]


class _Lenient(BaseModel):
    # a validation error quotes no input: a malformed answer may hold a signed URL
    model_config = ConfigDict(extra="allow", populate_by_name=True, hide_input_in_errors=True, defer_build=True)


class Usage(_Lenient):
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


class Segment(_Lenient):
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


class Transcription(_Lenient):
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


class LanguageEvent(_Lenient):
    """``transcription.language``: the detected language, early in the stream."""

    type: Literal["transcription.language"] = "transcription.language"
    audio_language: str


class TextDeltaEvent(_Lenient):
    """``transcription.text.delta``: the next piece of transcript text."""

    type: Literal["transcription.text.delta"] = "transcription.text.delta"
    text: str


class SegmentEvent(_Lenient):
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


class UnknownEvent(_Lenient):
    """An event type this version does not know, passed through untouched."""

    type: str
    data: dict[str, Any] = Field(default_factory=dict)


TranscriptionStreamEvent = LanguageEvent | TextDeltaEvent | SegmentEvent | DoneEvent | UnknownEvent


class FunctionCall(_Lenient):
    """The function a tool call invokes, with its arguments.

    ``name`` is empty on the follow-up chunks of a streamed call (vLLM sends only
    more arguments there).
    """

    name: str = ""
    arguments: str | dict[str, Any] = ""
    """A JSON string as the API sends it (Mistral occasionally sends an object)."""


class ToolCall(_Lenient):
    """A tool the model asks to call; answer it with a ``role="tool"`` message."""

    id: str | None = None
    type: str = "function"
    function: FunctionCall
    index: int | None = None


class ChatMessage(_Lenient):
    """An assistant message. ``content`` is a string, or a list of parts (e.g. thinking)."""

    role: str = "assistant"
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[ToolCall] | None = None


class ChatChoice(_Lenient):
    """One completion alternative (the API returns one unless asked otherwise)."""

    index: int = 0
    message: ChatMessage
    finish_reason: str | None = None


class ChatCompletion(_Lenient):
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


class ChatDelta(_Lenient):
    """The part of an assistant message a stream chunk adds."""

    role: str | None = None
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[ToolCall] | None = None


class ChatStreamChoice(_Lenient):
    """One alternative within a stream chunk."""

    index: int = 0
    delta: ChatDelta
    finish_reason: str | None = None


class ChatCompletionChunk(_Lenient):
    """One streamed piece of a chat completion; the last one carries ``usage``."""

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int | None = None
    model: str = ""
    choices: list[ChatStreamChoice] = Field(default_factory=list)
    usage: Usage | None = None


class UploadedFile(_Lenient):
    """A file stored by the Files API. Pass it as ``audio`` to transcribe it by id."""

    id: str
    object: str = "file"
    bytes: int | None = None
    created_at: int | None = None
    filename: str | None = None
    purpose: str | None = None


class SignedURL(_Lenient):
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


class DeletedFile(_Lenient):
    """The answer to a file deletion."""

    id: str
    object: str = "file"
    deleted: bool


BATCH_TERMINAL_STATUSES = frozenset({"SUCCESS", "FAILED", "TIMEOUT_EXCEEDED", "CANCELLED"})
"""Statuses a batch job never leaves (``CANCELLATION_REQUESTED`` still moves on)."""


class BatchJobProblem(_Lenient):
    """One kind of error a batch job met, and how many requests it hit."""

    message: str = ""
    count: int = 1


class BatchJob(_Lenient):
    """A Batch API job: its status, its request counts and the files it produced.

    ``status`` is one of ``QUEUED``, ``RUNNING``, ``SUCCESS``, ``FAILED``,
    ``TIMEOUT_EXCEEDED``, ``CANCELLATION_REQUESTED`` or ``CANCELLED`` (kept as a
    string: a new status must not break parsing). Times are Unix seconds.
    """

    id: str
    object: str = "batch"
    status: str
    endpoint: str = ""
    model: str | None = None
    input_files: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] | None = None
    output_file: str | None = None
    error_file: str | None = None
    errors: list[BatchJobProblem] = Field(default_factory=list)
    total_requests: int = 0
    completed_requests: int = 0
    succeeded_requests: int = 0
    failed_requests: int = 0
    created_at: int | None = None
    started_at: int | None = None
    completed_at: int | None = None

    @property
    def done(self) -> bool:
        """Whether the job has ended (in success or not): its results can be fetched."""
        return self.status in BATCH_TERMINAL_STATUSES


@dataclass(frozen=True)
class TranscriptionResult:
    """One input of a bulk or batch transcription: its transcription, or why it has none.

    ``source`` is the input's name as Documents carry it (a path as given, a URL
    without its query string). When ``error`` is an
    :class:`IncompleteTranscriptionError`, its ``partial`` holds what did finish.
    """

    index: int
    source: str
    transcription: Transcription | None = None
    error: VoxtralError | None = None
    batch: bool = False
    """Whether it came through the Batch API, so is priced at the batch rate."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def billed_seconds(self) -> float | None:
        """Seconds of audio billed for this input (:attr:`Transcription.billed_seconds`;
        for a failed long file, its finished chunks); ``None`` where none were reported."""
        done = self._finished()
        return done.billed_seconds if done is not None else None

    @property
    def cost(self) -> float | None:
        """What :attr:`billed_seconds` cost in US dollars at the catalogue's price for the
        model that answered (``_catalogue``); ``None`` when that price is unknown."""
        done = self._finished()
        if done is None:
            return None
        return audio_cost(done.model, done.billed_seconds, batch=self.batch)

    def _finished(self) -> Transcription | None:
        if isinstance(self.error, IncompleteTranscriptionError):
            partial = self.error.partial
            return partial if isinstance(partial, Transcription) else None
        return self.transcription

    def unwrap(self) -> Transcription:
        """The transcription; raises the input's error if it failed."""
        if self.error is not None:
            raise self.error
        assert self.transcription is not None
        return self.transcription


@dataclass(frozen=True)
class FileEstimate:
    """One input as a run would send it: probed locally, nothing sent."""

    source: str
    audio_seconds: float
    chunks: int
    upload_bytes: int
    """Bytes the requests would carry: exact for audio sent as it is and for MP3
    slices; for converted audio, the bound of 16-bit PCM at the conversion rate."""
    overlap_seconds: float
    """Audio sent twice where diarized chunks overlap (billed too)."""
    converted: bool


@dataclass(frozen=True)
class CostEstimate:
    """What a transcription run would send and cost, from the local probe of every input.

    ``model`` is the name asked for, ``resolved_model`` the catalogue's model it
    names. Costs are US dollars; ``None`` when the catalogue has no price for the
    model (a new release, a vLLM served name). ``price_verified`` is ``False`` when
    a price is a third party's figure or the Batch API discount applied on trust.
    """

    model: str
    resolved_model: str
    price: Price
    per_file: tuple[FileEstimate, ...]

    @property
    def files(self) -> int:
        return len(self.per_file)

    @property
    def audio_seconds(self) -> float:
        return sum(item.audio_seconds for item in self.per_file)

    @property
    def audio_minutes(self) -> float:
        return self.audio_seconds / 60

    @property
    def chunks(self) -> int:
        return sum(item.chunks for item in self.per_file)

    @property
    def requests(self) -> int:
        """Requests a run sends, one per chunk, without retries."""
        return self.chunks

    @property
    def upload_bytes(self) -> int:
        return sum(item.upload_bytes for item in self.per_file)

    @property
    def overlap_seconds(self) -> float:
        return sum(item.overlap_seconds for item in self.per_file)

    @property
    def billed_seconds(self) -> float:
        """The audio billed: every file's length plus the overlaps sent twice."""
        return self.audio_seconds + self.overlap_seconds

    @property
    def cost(self) -> float | None:
        """Estimated US dollars online; ``None`` when the price is unknown."""
        return self.price.cost(self.billed_seconds)

    @property
    def batch_cost(self) -> float | None:
        """Estimated US dollars through the Batch API; ``None`` when unknown."""
        return self.price.cost(self.billed_seconds, batch=True)

    @property
    def price_verified(self) -> bool:
        return self.price.verified
