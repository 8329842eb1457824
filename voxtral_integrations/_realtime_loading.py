"""Framework-free realtime loading: one audio source in, a record per finalised turn out.

The LangChain realtime loader and tool and the LlamaIndex realtime reader share this:
the same options (those of ``VoxtralClient.stream_realtime``, by name), the same
checks before anything connects, and the same records (``_records.utterance_record``),
so the adapters only map records to their Document types. A record is yielded as its
turn finalises, while the audio is still being sent: a vector store can take a
meeting's turns during the meeting. Order, "each turn exactly once" across
reconnections, and absolute times are the session's (``_realtime``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from pydantic import BaseModel, Field

from ._async_client import AsyncVoxtralClient
from ._client import VoxtralClient
from ._constants import (
    DEFAULT_REALTIME_ENCODING,
    DEFAULT_REALTIME_MODEL,
    DEFAULT_REALTIME_SAMPLE_RATE,
    REALTIME_DONE_TIMEOUT,
    REALTIME_MAX_RECONNECTS,
    REALTIME_STALL_TIMEOUT,
)
from ._dialects import Backend, dialect
from ._exceptions import InvalidInputError
from ._options import given
from ._realtime_events import UtteranceEvent
from ._realtime_protocol import REALTIME_OPTIONS, RawPCM, check_patience, realtime_options
from ._records import Record, utterance_record

REALTIME_LOAD_OPTIONS: tuple[str, ...] = (
    *REALTIME_OPTIONS,
    "end_of_speech",
    "done_timeout",
    "stall_timeout",
    "max_reconnects",
    "realtime",
)
"""The options of ``VoxtralClient.stream_realtime`` (all but ``audio``), by name: the
table every realtime adapter's signature is held to."""


class RealtimeFields(BaseModel):
    """The realtime options as pydantic fields, for the adapters that are pydantic models.

    Each is the ``VoxtralClient.stream_realtime`` argument of the same name, checked by
    the core before anything connects.
    """

    model: str = DEFAULT_REALTIME_MODEL
    """A realtime model; Realtime 3 (``voxtral-mini-transcribe-realtime-3``) for
    ``language``, ``context_bias``, ``diarize`` and ``turn_detection``. On vLLM: the
    served model's name."""
    sample_rate: int = DEFAULT_REALTIME_SAMPLE_RATE
    """The session's PCM rate (the audio is converted to it); vLLM takes 16000 only."""
    encoding: str = DEFAULT_REALTIME_ENCODING
    """The session's PCM encoding (``pcm_s16le``...)."""
    target_streaming_delay_ms: int | None = None
    """How far behind the audio the text may run (the model's range)."""
    language: str | None = None
    """Two-letter code (Realtime 3)."""
    context_bias: list[str] | None = None
    """Terms to steer spelling (Realtime 3)."""
    diarize: bool | None = None
    """Speaker labels: each Document's ``speaker`` (Realtime 3; not with turn detection)."""
    speaker_references: dict[str, str] | None = Field(default=None, repr=False)
    """Speaker name to base64 audio of them (needs ``diarize``)."""
    turn_detection: Any = None
    """Server-side turn detection (Realtime 3): ``True``, a ``TurnDetection`` or a mapping."""
    end_of_speech: Any = "auto"
    """When a turn ends: ``"auto"``, ``None`` (only at the end of the audio) or a detector."""
    done_timeout: float = REALTIME_DONE_TIMEOUT
    """Seconds a turn waits for the server's final text before its deltas are taken."""
    stall_timeout: float = REALTIME_STALL_TIMEOUT
    """Seconds of speech without a server event before the connection is replaced."""
    max_reconnects: int = REALTIME_MAX_RECONNECTS
    """Connections that may replace a dropped or stalled one."""
    realtime: bool | None = None
    """Pace the audio at the speed of speech (default: files yes, iterators no)."""


def check_realtime(arguments: Mapping[str, Any], backend: Backend) -> dict[str, Any]:
    """The realtime options among ``arguments`` (a signature's ``locals()`` or a
    model's fields), checked as ``stream_realtime`` checks them, before anything
    connects: ``InvalidInputError`` (``UnsupportedFeatureError`` for what the backend
    cannot do) naming the option."""
    from ._realtime import end_of_speech_detector

    chosen = given(arguments, REALTIME_LOAD_OPTIONS)
    options = realtime_options(**given(chosen, REALTIME_OPTIONS))
    dialect(backend).realtime.check(options)
    check_patience(chosen["done_timeout"], chosen["stall_timeout"], chosen["max_reconnects"])
    end_of_speech_detector(chosen["end_of_speech"], options)
    if chosen["realtime"] is not None and not isinstance(chosen["realtime"], bool):
        raise InvalidInputError(
            f"`realtime`={chosen['realtime']!r} must be True, False or None.", argument="realtime"
        )
    return chosen


class RealtimeSource:
    """One audio source, checked, with the name its Documents carry as ``source``.

    A path must exist and bytes must not be empty (``AudioError``, before anything
    connects). An iterator (a microphone, a call) or a file object is read as it is
    sent, once: a second load of it raises ``InvalidInputError`` instead of
    transcribing nothing.
    """

    def __init__(self, audio: Any, source_name: str | None = None, *, argument: str) -> None:
        from ._realtime_audio import _kind

        kind, name = _kind(audio.source if isinstance(audio, RawPCM) else audio)
        if source_name is not None and (not isinstance(source_name, str) or not source_name):
            raise InvalidInputError(
                f"`source_name`={source_name!r} must be a non-empty string.",
                argument="source_name",
            )
        self.name = source_name or (name if kind != "stream" else "<stream>")
        self._audio = audio
        self._once = kind in ("stream", "file")
        self._argument = argument
        self._taken = False

    def __repr__(self) -> str:
        return f"RealtimeSource({self.name!r})"

    def take(self) -> Any:
        """The audio, for one load."""
        if self._once and self._taken:
            raise InvalidInputError(
                f"`{self._argument}` (an iterator or a file object) was read by an earlier "
                "load; pass a new one, or a path or bytes, which can be loaded again.",
                argument=self._argument,
            )
        self._taken = True
        return self._audio


def turn_records(
    client: VoxtralClient, source: RealtimeSource, options: Mapping[str, Any]
) -> Iterator[Record]:
    """A record per finalised turn of ``source``, as it finalises (``options`` checked
    by :func:`check_realtime`); a turn without words (a flush over a noise) makes none,
    as an empty segment makes no file record."""
    for event in client.stream_realtime(source.take(), **options):
        if isinstance(event, UtteranceEvent) and event.text.strip():
            yield utterance_record(event, source=source.name, model=options["model"])


async def aturn_records(
    client: AsyncVoxtralClient, source: RealtimeSource, options: Mapping[str, Any]
) -> AsyncIterator[Record]:
    """:func:`turn_records` on the caller's event loop."""
    async for event in client.stream_realtime(source.take(), **options):
        if isinstance(event, UtteranceEvent) and event.text.strip():
            yield utterance_record(event, source=source.name, model=options["model"])
