"""What runs over many inputs give back: one input's outcome, a Batch API job, and the
estimate of a run before it.

Pure, beside the API's models rather than in the runners, so that the batch
bookkeeping, the bulk runner and the estimate build them without importing each
other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from ._catalogue import Price, audio_cost
from ._exceptions import IncompleteTranscriptionError, VoxtralError
from ._models import LenientModel, Transcription

__all__ = [
    "BATCH_TERMINAL_STATUSES",
    "BatchJob",
    "BatchJobProblem",
    "CostEstimate",
    "FileEstimate",
    "TranscriptionResult",
]


BATCH_TERMINAL_STATUSES = frozenset({"SUCCESS", "FAILED", "TIMEOUT_EXCEEDED", "CANCELLED"})
"""Statuses a batch job never leaves (``CANCELLATION_REQUESTED`` still moves on)."""


class BatchJobProblem(LenientModel):
    """One kind of error a batch job met, and how many requests it hit."""

    message: str = ""
    count: int = 1


class BatchJob(LenientModel):
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
