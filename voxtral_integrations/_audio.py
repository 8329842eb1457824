"""Local audio, examined and prepared for upload with PyAV (FFmpeg, no system install).

``prepare`` turns one local upload into the payloads to send:

* a file in a container the API accepts (WAV, MP3, FLAC, OGG, WEBM) that is within
  the limits is sent exactly as it is;
* anything else PyAV can decode (m4a/AAC, video, AIFF, AMR, WMA, ...) is converted
  to 16 kHz mono, the resolution Voxtral's encoder works at (it resamples to 16 kHz
  mono itself): a lossless source (AIFF, ALAC, WAV with more channels...) to FLAC,
  a lossy one to Opus in Ogg at about the source's bit rate, so the upload weighs
  no more than the source (:func:`upload_format`; ``upload_codec="flac"`` sends FLAC
  throughout); for video only the audio track is taken;
* audio longer than a chunk is split at the quietest point of a search window
  before each limit. MP3 and WAV chunks are byte ranges of the original (stream
  copy: nothing is decoded except the search windows, nothing re-encoded); other
  formats are converted chunk by chunk. A converted chunk is encoded only when its
  request is sent, into a temporary file (``Payload.encode``), so memory holds
  neither the decoded file nor the chunks in flight.

Every problem that can be seen locally (no audio stream, nothing decodable, zero
length, truncation, damage in the middle) is an :class:`AudioError` naming the
file, raised before anything is uploaded.

This module decides what is sent and plans the chunks; :mod:`._audio_decode` does
the PyAV work (probe, decoding, loudness, FLAC) and :mod:`._audio_checks` the checks
made from a file's bytes alone (damage, truncation, the WAV layout).
"""

from __future__ import annotations

import functools
import io
import logging
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, overload

from ._audio_checks import AudioInfo, _byte_range_file, _PacketIndex, _WavLayout
from ._audio_decode import (
    CONVERSION_RATE,
    FLAC,
    SENT_CHANNELS,
    UploadFormat,
    _encode,
    _levels_by_decoding,
    _levels_by_slice,
    _to_flac,
    inspect,
    opus,
)
from ._chat_content import audio_to_convert, converted_part
from ._chunking import fits_one_request, iter_chunks, one_request_seconds, quietest_point
from ._constants import ACCEPTED_AUDIO_TYPES, CHAT_MAX_AUDIO_SECONDS
from ._exceptions import AudioError
from ._models import Chunk
from ._options import UploadCodec
from ._sources import AudioUpload

logger = logging.getLogger("voxtral_integrations")

SEARCH_SECONDS = 30.0
"""How far before each chunk limit a cut may move to find a pause."""


LOSSLESS_CODECS = frozenset(
    {"flac", "alac", "wavpack", "tta", "ape", "mlp", "truehd", "shorten", "als"}
)
"""Lossless codecs that are not PCM (every ``pcm_*`` is lossless but G.711's two)."""
_COMPANDED_PCM = frozenset({"pcm_mulaw", "pcm_alaw"})
OPUS_MIN_BIT_RATE = 16_000
OPUS_MAX_BIT_RATE = 32_000
"""Opus bit rates for a lossy source: its own bit rate, within these bounds (docs/transcription.md,
"Upload format", says why)."""


def upload_format(info: AudioInfo, upload_codec: UploadCodec = "auto") -> UploadFormat:
    """How a converted chunk of the recording ``info`` describes is encoded.

    Lossless stays lossless: PCM and lossless codecs become FLAC (16 kHz, mono,
    16-bit, the resolution the model hears). A lossy source (AAC, AMR, WMA, a
    video's audio) becomes Opus in Ogg at the source's own bit rate, held within
    ``OPUS_MIN_BIT_RATE``..``OPUS_MAX_BIT_RATE``: the upload is no heavier than the
    source (FLAC of AAC weighs 2.5 times the AAC), and no lower than what wideband
    speech needs. ``upload_codec="flac"`` sends FLAC whatever the source.
    """
    lossless = info.codec in LOSSLESS_CODECS or (
        info.codec.startswith("pcm_") and info.codec not in _COMPANDED_PCM
    )
    if upload_codec == "flac" or lossless:
        return FLAC
    source_rate = info.size * 8 / info.duration if info.duration > 0 else OPUS_MAX_BIT_RATE
    bit_rate = min(max(source_rate, OPUS_MIN_BIT_RATE), OPUS_MAX_BIT_RATE)
    return opus(round(bit_rate / 1000) * 1000)


@dataclass(frozen=True)
class Payload:
    """One request's worth of audio: a chunk of the recording and how to read it."""

    chunk: Chunk
    upload: AudioUpload
    encode: Callable[[str], None] | None = None
    """Writes a converted chunk to the file at a path: set when producing the content
    means encoding it. It is then encoded once per request, into a temporary file
    (:func:`._transcribe.spooled`), not on every attempt and not in memory."""


class Plan(Sequence[Payload]):
    """One recording's payloads, planned as they are asked for.

    Iterating hands each payload out as soon as its cut is found, so the first
    request goes out while the later cuts are still searched (a short decode each);
    ``len`` and indexing plan as far as they need. The cuts are the same either way:
    each depends only on the one before it (:func:`._chunking.iter_chunks`). One
    thread at a time reads a plan. ``whole`` is known before any cut is searched: the
    recording goes in one request. A cut that could not be found is raised again by
    every later read, so a plan that failed never passes for a shorter one.
    """

    def __init__(
        self, payloads: Iterable[Payload], *, whole: bool, name: str, duration: float
    ) -> None:
        self._source = iter(payloads)
        self._planned: list[Payload] = []
        self._failure: Exception | None = None
        self.whole = whole
        self.name = name
        self.duration = duration

    def __iter__(self) -> Iterator[Payload]:
        position = 0
        while position < len(self._planned) or self._plan_one():
            yield self._planned[position]
            position += 1

    def __len__(self) -> int:
        while self._plan_one():
            pass
        return len(self._planned)

    @overload
    def __getitem__(self, index: int) -> Payload: ...
    @overload
    def __getitem__(self, index: slice) -> list[Payload]: ...
    def __getitem__(self, index: int | slice) -> Payload | list[Payload]:
        if isinstance(index, slice) or index < 0:
            len(self)
        else:
            while index >= len(self._planned) and self._plan_one():
                pass
        return self._planned[index]

    def _plan_one(self) -> bool:
        if self._failure is not None:
            raise self._failure
        try:
            payload = next(self._source, None)
        except Exception as failure:
            self._failure = failure
            raise
        if payload is None:
            return False
        self._planned.append(payload)
        return True


def prepare(
    upload: AudioUpload,
    *,
    max_chunk_seconds: float,
    max_bytes: int,
    target_seconds: float | None = None,
    overlap_seconds: float = 0.0,
    upload_codec: UploadCodec = "auto",
) -> tuple[AudioInfo, Plan]:
    """Probe, then plan the cuts and describe each chunk's payload (read lazily when
    sent) as the :class:`Plan` is read.

    Chunks never exceed ``max_chunk_seconds`` or ``max_bytes``; with
    ``target_seconds`` audio longer than that is shared out in even chunks of
    about that length, and neighbours share ``overlap_seconds`` (see
    ``iter_chunks``). Converted chunks are encoded as :func:`upload_format` says.
    """
    one_request = one_request_seconds(max_chunk_seconds, target_seconds)
    wav = _WavLayout.parse(upload)
    if wav is not None and wav.channels > SENT_CHANNELS:
        wav = None  # downmixed to mono: converted, never sent or sliced as it is
    if wav is not None and wav.duration <= one_request and upload.size <= max_bytes:
        info = wav.info(upload)  # the common short WAV: the header says it all
        return info, _sent_whole(upload, info)
    if upload.path is None:  # read a caller's stream once, then share it (bytes are not copied)
        content = upload.read_all()
        upload = AudioUpload(
            upload.name,
            upload.filename,
            upload.mime_type,
            len(content),
            lambda: nullcontext(content),
        )
    info, index = inspect(upload)
    if info.accepted_suffix and info.duration <= one_request and upload.size <= max_bytes:
        return info, _sent_whole(upload, info)
    sliceable = info.container in ("mp3", "wav")
    # keep every payload under the size limit: slices scale with the original's byte
    # rate, converted chunks are FLAC, at most the size of their 16 kHz 16-bit PCM
    bytes_per_second = upload.size / info.duration if sliceable else 2 * CONVERSION_RATE
    max_chunk_seconds = min(max_chunk_seconds, 0.95 * max_bytes / bytes_per_second)
    levels = _levels_by_slice if sliceable else _levels_by_decoding

    def find_cut(lo: float, hi: float) -> float:
        return lo + quietest_point(levels(upload, info, index, lo, hi))

    chunks = iter_chunks(
        info.duration,
        max_chunk_seconds,
        find_cut,
        search_seconds=SEARCH_SECONDS,
        target_seconds=target_seconds,
        overlap_seconds=overlap_seconds,
    )
    if info.container == "mp3":
        chunks = map(functools.partial(_snapped_to_packets, index=index), chunks)
    form = upload_format(info, upload_codec)
    payloads = (
        _payload(upload, info, index, chunk, wav, form) for chunk in _logged(upload, info, chunks)
    )
    whole = fits_one_request(info.duration, max_chunk_seconds, target_seconds)
    return info, Plan(payloads, whole=whole, name=upload.name, duration=info.duration)


def _logged(upload: AudioUpload, info: AudioInfo, chunks: Iterable[Chunk]) -> Iterator[Chunk]:
    """``chunks``, each logged (at debug level) as it is planned, then how many."""
    logger.debug("%s: %s/%s, %.1f s", upload.name, info.container, info.codec, info.duration)
    count = 0
    for chunk in chunks:
        logger.debug(
            "%s: chunk %d at %.2f-%.2f s", upload.name, chunk.index, chunk.start, chunk.end
        )
        count += 1
        yield chunk
    logger.debug("%s: %d chunk(s) planned", upload.name, count)


def _sent_whole(upload: AudioUpload, info: AudioInfo) -> Plan:
    """The plan of a recording sent as it is, in one request."""
    payload = Payload(Chunk(index=0, start=0.0, end=info.duration), _renamed(upload, info))
    return Plan([payload], whole=True, name=upload.name, duration=info.duration)


def chat_audio(content: bytes, *, name: str) -> tuple[bytes, str]:
    """``content`` as audio the chat endpoint decodes, with its format name.

    Audio in an accepted container and codec is returned as it is; anything else
    PyAV decodes (m4a/AAC, video, AIFF...) becomes FLAC, 16 kHz, mono, 16-bit, as
    for transcription: lossless (a lossy source is not coded twice), at the
    resolution the model hears, about half the size of WAV, and decoded by both
    Mistral and vLLM. Raises :class:`AudioError` naming ``name`` for audio that
    cannot be decoded or is longer than the model can take in one message.
    """
    upload = AudioUpload(
        name, "audio", "application/octet-stream", len(content), lambda: nullcontext(content)
    )
    info, _ = inspect(upload)
    if info.duration > CHAT_MAX_AUDIO_SECONDS:
        raise AudioError(
            f"The audio in {name} lasts {info.duration / 60:.1f} minutes; one chat message "
            f"takes at most {CHAT_MAX_AUDIO_SECONDS // 60} minutes of audio. Send a shorter "
            "excerpt, or transcribe the recording (VoxtralClient.transcribe) and chat about "
            "the text.",
            source=name,
        )
    if info.accepted_suffix:
        return content, info.accepted_suffix.lstrip(".")
    return _to_flac(upload, info, 0.0, info.duration), "flac"


def decodable_chat_part(part: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """An ``input_audio`` part the chat endpoint decodes: inline audio it may not
    (:func:`audio_to_convert` decides) goes through :func:`chat_audio`."""
    inline = audio_to_convert(part, where)
    if inline is None:
        return part
    return converted_part(part, inline, *chat_audio(inline.content, name=where))


def prepare_short_wav(
    upload: AudioUpload,
    *,
    max_chunk_seconds: float,
    max_bytes: int,
    target_seconds: float | None = None,
    overlap_seconds: float = 0.0,
    upload_codec: UploadCodec = "auto",
) -> Plan | None:
    """The plan of a PCM WAV within the limits, read from its header alone, or ``None``.

    (``overlap_seconds`` and ``upload_codec`` are :func:`prepare`'s; a single request
    has no neighbour, and a WAV within the limits is sent as it is.)

    Cheap enough (one 4 KiB read, no codec) for an event loop to call directly.
    """
    wav = _WavLayout.parse(upload)
    one_request = one_request_seconds(max_chunk_seconds, target_seconds)
    if wav is None or wav.channels > SENT_CHANNELS:
        return None
    if wav.duration > one_request or upload.size > max_bytes:
        return None
    return _sent_whole(upload, wav.info(upload))


def _renamed(upload: AudioUpload, info: AudioInfo) -> AudioUpload:
    """The upload under a filename whose suffix matches its real container."""
    suffix = info.accepted_suffix or ""
    if upload.filename.lower().endswith(suffix):
        return upload
    return _with(
        upload,
        filename=upload.filename.rsplit(".", 1)[0] + suffix,
        mime=ACCEPTED_AUDIO_TYPES[suffix],
    )


def _with(
    upload: AudioUpload, *, filename: str, mime: str, size: int | None = None, open: Any = None
) -> AudioUpload:
    """``upload`` under another name, or (given ``open``) a payload derived from it."""
    if open is None:
        return AudioUpload(upload.name, filename, mime, upload.size, upload.open, upload.path)
    return AudioUpload(upload.name, filename, mime, upload.size if size is None else size, open)


def _snapped_to_packets(chunk: Chunk, index: _PacketIndex) -> Chunk:
    """``chunk`` with its start and end moved to the start of the MP3 frame at or after each.

    A chunk is a byte range from its first frame, without the file's Xing/LAME header,
    so its decoder drops no encoder delay: its audio starts where that frame's does on
    the recording's clock (``index.times``), the first chunk's before 0 (by the delay),
    and it ends where the frame after its last begins (the last chunk at the end: no
    frame starts there).
    """
    times = index.times

    def frame_at(seconds: float) -> float | None:
        position = bisect_left(times, seconds)
        return times[position] if position < len(times) else None

    start = times[0] if chunk.index == 0 else frame_at(chunk.start)
    end = frame_at(chunk.end)
    return Chunk(
        index=chunk.index,
        start=times[-1] if start is None else start,
        end=chunk.end if end is None else end,
    )


def _payload(
    upload: AudioUpload,
    info: AudioInfo,
    index: _PacketIndex,
    chunk: Chunk,
    wav: _WavLayout | None,
    form: UploadFormat,
) -> Payload:
    stem = upload.filename.rsplit(".", 1)[0]
    name = f"{stem}.part{chunk.index:03d}"
    if info.container == "mp3":
        first = bisect_left(index.times, chunk.start)
        last = bisect_left(index.times, chunk.end)
        start = index.positions[first]
        stop = (
            index.positions[last]
            if last < len(index.positions)
            else index.positions[-1] + index.sizes[-1]
        )
        sliced = _with(
            upload,
            filename=name + ".mp3",
            mime="audio/mpeg",
            size=stop - start,
            open=lambda: _byte_range_file(upload, start, stop),
        )
        return Payload(chunk, sliced)
    if wav is not None:
        sliced = _with(
            upload,
            filename=name + ".wav",
            mime="audio/wav",
            open=lambda: nullcontext(wav.slice(upload, chunk.start, chunk.end)),
        )
        return Payload(chunk, sliced)

    def encode(output: str | io.BytesIO) -> None:
        _encode(upload, info, chunk.start, chunk.end, form, output)

    def encoded() -> bytes:
        output = io.BytesIO()
        encode(output)
        return output.getvalue()

    converted = _with(
        upload,
        filename=name + form.suffix,
        mime=ACCEPTED_AUDIO_TYPES[form.suffix],
        open=lambda: nullcontext(encoded()),
    )
    return Payload(chunk, converted, encode)
