"""The tally of a run, for the summary line on stderr."""

from __future__ import annotations

from dataclasses import dataclass

from .._catalogue import audio_cost
from .._models import Transcription, Usage
from ._exits import PROG


@dataclass
class Tally:
    """What a run did, for the summary line.

    Audio and tokens are what this run sent; chunks replayed from the resume cache
    were paid for by an earlier run and are counted apart.
    """

    done: int = 0
    failed: int = 0
    transient: int = 0
    """Of the failed, those the server or the network failed, which a rerun may pass."""
    skipped: int = 0
    audio_seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    replayed_seconds: float = 0.0
    replayed_tokens: int = 0
    overlap_seconds: float = 0.0
    billed_seconds: float = 0.0
    """Audio the server reported billing this run (``usage.prompt_audio_seconds``)."""
    cost: float | None = 0.0
    """Its price at the catalogue's rate for the model that answered; ``None`` once any
    transcription's price (or billed seconds) is unknown."""
    batch: bool = False
    """Results of the Batch API, priced at its rate."""

    def add_usage(self, transcription: Transcription) -> None:
        """Count ``transcription``'s audio and tokens (also a failed file's finished part)."""
        usage = transcription.usage
        replayed = transcription.replayed_usage or Usage()
        self.prompt_tokens += usage.prompt_tokens - replayed.prompt_tokens
        self.completion_tokens += usage.completion_tokens - replayed.completion_tokens
        self.replayed_tokens += replayed.prompt_tokens + replayed.completion_tokens
        replayed_seconds = replayed.prompt_audio_seconds or 0.0
        self.replayed_seconds += replayed_seconds
        if usage.prompt_audio_seconds is not None:
            self.audio_seconds += usage.prompt_audio_seconds - replayed_seconds
        elif transcription.chunks:
            sent = sum(chunk.duration for chunk in transcription.chunks)
            self.audio_seconds += sent - replayed_seconds
        elif transcription.segments and transcription.segments[-1].end is not None:
            self.audio_seconds += transcription.segments[-1].end
        self.overlap_seconds += transcription.overlap_seconds
        billed = transcription.billed_seconds
        self.billed_seconds += billed or 0.0
        if self.cost is not None:
            cost = audio_cost(transcription.model, billed, batch=self.batch)
            self.cost = None if cost is None else self.cost + cost

    def summary(self, seconds: float) -> str:
        parts = [f"{self.done} done", f"{self.failed} failed"]
        if self.skipped:
            parts.append(f"skipped {self.skipped} already done")
        tokens = self.prompt_tokens + self.completion_tokens
        replayed = (
            f"; from the resume cache (paid for by an earlier run): "
            f"{self.replayed_seconds / 60:.1f} min of audio, {self.replayed_tokens} tokens"
            if self.replayed_tokens or self.replayed_seconds
            else ""
        )
        overlap = (
            f" ({self.overlap_seconds / 60:.1f} min heard twice, where diarized chunks overlap)"
            if self.overlap_seconds
            else ""
        )
        cost = "cost unknown" if self.cost is None else f"about ${self.cost:.4f}"
        return (
            f"{PROG}: {', '.join(parts)}; {self.audio_seconds / 60:.1f} min of audio{overlap}; "
            f"{tokens} tokens ({self.prompt_tokens} prompt, {self.completion_tokens} "
            f"completion); billed {self.billed_seconds / 60:.1f} min, {cost}{replayed}; "
            f"{seconds:.1f} s"
        )
