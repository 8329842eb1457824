"""What a run would send and cost, found by probing every input locally; nothing is sent.

Each input goes through the same preparation as a run (:func:`._audio.prepare`: the
probe, the cut plan within the model's limits, the diarization overlaps), so the
chunk and request counts are the ones a run would send. Payloads are described,
never read: a converted chunk's size is bounded, not encoded. The price is the
catalogue's (:mod:`._catalogue`), so an unknown model's cost is ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any

from ._audio import Payload, prepare, upload_format
from ._audio_checks import AudioInfo
from ._audio_decode import CONVERSION_RATE
from ._bulk import Source, sources
from ._catalogue import model_info
from ._dialects import MistralDialect, checked_options
from ._exceptions import InvalidInputError
from ._models import shared_seconds
from ._options import ChunkingOptions, TranscriptionOptions, UploadCodec
from ._outcomes import CostEstimate, FileEstimate
from ._sources import AudioFileId, AudioInput, AudioUpload, AudioURL, resolve_audio

_PCM_BYTES_PER_SECOND = 2 * CONVERSION_RATE
"""16-bit mono PCM at the conversion rate: what a converted (lossless) chunk is at most."""


def estimate_for(
    dialect: MistralDialect, audio: AudioInput | Iterable[AudioInput], arguments: Mapping[str, Any]
) -> CostEstimate:
    """:func:`estimate` for a public method's ``arguments``, every option checked first."""
    options, chunking = checked_options(dialect, arguments)
    return estimate(dialect, audio, options, chunking)


def estimate(
    dialect: MistralDialect,
    audio: AudioInput | Iterable[AudioInput],
    options: TranscriptionOptions,
    chunking: ChunkingOptions,
) -> CostEstimate:
    """Probe and plan every input as a run with ``options`` would; send nothing."""
    files = [estimate_file(dialect, item, options, chunking) for item in sources(audio)]
    return priced(options.model, files)


def estimate_file(
    dialect: MistralDialect,
    item: Source,
    options: TranscriptionOptions,
    chunking: ChunkingOptions,
) -> FileEstimate:
    """One input probed and planned as a run would (``_audio.prepare``); nothing is read
    beyond what the probe and the cut search need.

    Raises ``InvalidInputError`` for an input that is not local (a URL or file id
    is fetched by the server, so its length is unknown here) and ``AudioError`` for
    audio that a run would refuse too.
    """
    audio = item.resolve()
    source = audio if isinstance(audio, AudioUpload) else resolve_audio(audio)
    if isinstance(source, (AudioURL, AudioFileId)):
        raise InvalidInputError(
            f"Cannot estimate {item.name!r}: the server fetches a URL or file id itself, "
            "so its length is unknown here. Estimate a local copy instead.",
            argument="audio",
        )
    dialect.check_transcription(options, source)
    limits = dialect.chunk_limits(options, chunking.max_chunk_seconds)
    info, payloads = prepare(source, **limits, upload_codec=chunking.upload_codec)
    return _file_estimate(item.name, source, info, payloads, chunking.upload_codec)


def priced(model: str, files: Iterable[FileEstimate]) -> CostEstimate:
    """``files`` at ``model``'s catalogue price."""
    row = model_info(model)
    return CostEstimate(
        model=model, resolved_model=row.model, price=row.price, per_file=tuple(files)
    )


def _file_estimate(
    name: str,
    upload: AudioUpload,
    info: AudioInfo,
    payloads: Sequence[Payload],
    upload_codec: UploadCodec,
) -> FileEstimate:
    chunks = [payload.chunk for payload in payloads]
    as_is = len(payloads) == 1 and info.accepted_suffix is not None
    return FileEstimate(
        source=name,
        audio_seconds=info.duration,
        chunks=len(payloads),
        upload_bytes=sum(
            _payload_bytes(payload, upload, info, as_is, upload_codec) for payload in payloads
        ),
        overlap_seconds=sum((shared_seconds(a, b) for a, b in pairwise(chunks)), 0.0),
        converted=not as_is and info.container not in ("mp3", "wav"),
    )


def _payload_bytes(
    payload: Payload, upload: AudioUpload, info: AudioInfo, as_is: bool, upload_codec: UploadCodec
) -> int:
    """A payload's size without reading it: measured where the plan knows it (the file
    sent as it is, an MP3 byte range), else from the chunk's length."""
    if as_is or payload.upload.size != upload.size:
        return payload.upload.size
    seconds = payload.chunk.duration
    if info.container == "wav":  # a slice of the samples, at the file's byte rate
        return round(seconds * upload.size / info.duration)
    bit_rate = upload_format(info, upload_codec).bit_rate  # Opus, at this rate
    if bit_rate is not None:
        return round(seconds * bit_rate / 8)
    return round(seconds * _PCM_BYTES_PER_SECOND)  # FLAC: at most its PCM
