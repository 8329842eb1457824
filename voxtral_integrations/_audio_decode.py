"""Local audio read through PyAV (FFmpeg): probe, decode, loudness and conversion.

``inspect`` demuxes a file without decoding it, measures its real duration, indexes
its packets for byte-range chunks and runs the checks of :mod:`._audio_checks`;
``_pcm`` decodes a stretch of it to mono 16-bit PCM, from which come the loudness
of the search windows (where a cut may go) and the FLAC a converted chunk is sent as.
This is the only module that touches PyAV, and it imports PyAV on first use.
"""

from __future__ import annotations

import importlib
import io
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any

from ._audio_checks import (
    TRUNCATION_SLACK_SECONDS,
    AudioInfo,
    _byte_range,
    _check_layout,
    _check_mp3_continuity,
    _check_mp3_frame,
    _check_ogg_pages,
    _declared_seconds,
    _no_audio,
    _PacketIndex,
    _truncated,
    _WavLayout,
)
from ._chunking import LEVEL_HOP_SECONDS, rms_levels
from ._exceptions import AudioError
from ._mp3_frames import frame_index
from ._sources import AudioUpload


class _ImportedOnFirstUse:
    """A module imported when one of its attributes is first read.

    Importing PyAV loads FFmpeg's libraries, a large share of what ``import
    voxtral_integrations`` cost, for work that chat, remote URLs, file ids and short
    WAVs never do. A missing or broken PyAV raises its own ``ImportError`` at the
    first audio work instead.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


if TYPE_CHECKING:
    import av
else:
    av = _ImportedOnFirstUse("av")

CONVERSION_RATE = 16000
LEVELS_RATE = 4000
"""Loudness profiles are computed at 4 kHz: pauses show as well as at full rate."""
SENT_CHANNELS = 2
"""Mono and stereo are sent as they are. More channels are downmixed to mono (converted):
the model hears one channel anyway, and eight would cost eight times the upload."""


@dataclass(frozen=True)
class UploadFormat:
    """How a converted chunk is encoded: muxer, encoder (and its FFmpeg options), the
    suffix it is sent under and, for a lossy codec, its bit rate (bits per second)."""

    muxer: str
    codec: str
    suffix: str
    bit_rate: int | None = None
    options: tuple[tuple[str, str], ...] = ()


FLAC = UploadFormat("flac", "flac", ".flac")


def opus(bit_rate: int) -> UploadFormat:
    """Opus in Ogg at ``bit_rate`` (the API takes ``.ogg``: ``ACCEPTED_AUDIO_TYPES``).

    At complexity 5 of 10: libopus then encodes about twice as fast as at its
    default (10), and speech at these rates loses nothing a listener, or the
    model, would notice; the conversion is CPU the caller waits for. Packets of
    120 ms: libopus packs six of its 20 ms frames in each (the frames, and what
    is heard, are the same), so a chunk has a sixth of the packets, the Python
    work around each of which held the GIL that another chunk's encoder needed
    (with 20 ms packets two chunks encoded side by side took 1.6 times as long
    as one, with 120 ms 1.2 times), and the file is 8% smaller.
    """
    options = (("compression_level", "5"), ("frame_duration", "120"))
    return UploadFormat("ogg", "libopus", ".ogg", bit_rate, options)


_ACCEPTED = {  # PyAV demuxer name -> (codecs sent as they are, suffix)
    "mp3": ({"mp3", "mp3float"}, ".mp3"),
    "wav": ({"pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_u8"}, ".wav"),
    "flac": ({"flac"}, ".flac"),
    "ogg": ({"vorbis", "opus", "flac"}, ".ogg"),
    "matroska,webm": ({"opus", "vorbis"}, ".webm"),
}


def _media(upload: AudioUpload) -> Any:
    """Something ``av.open`` reads: the path, or the content in memory."""
    if upload.path is not None:
        return str(upload.path)
    return io.BytesIO(upload.read_all())


@contextmanager
def _opened(upload: AudioUpload, media: Any = None) -> Iterator[Any]:
    with _open_media(media if media is not None else _media(upload), upload.name) as container:
        yield container


@contextmanager
def _open_media(media: Any, name: str, hint: str = "") -> Iterator[Any]:
    """``av.open(media)`` for reading; FFmpeg's refusal becomes an ``AudioError`` on ``name``."""
    open_media = av.open  # before the try: a missing PyAV fails here once, not again in except
    try:
        container = open_media(media, "r")
    except av.error.FFmpegError as exc:
        raise AudioError(
            f"{name!r} is not audio that can be decoded ({exc.strerror or exc}). "
            f"Check that the file is complete and really audio or video.{hint}",
            source=name,
        ) from exc
    try:
        yield container
    finally:
        container.close()


def _audio_stream(container: Any, name: str) -> Any:
    if not container.streams.audio:
        kind = "video with no audio track" if container.streams.video else "file with no audio"
        raise AudioError(
            f"{name!r} is a {kind}: there is nothing to transcribe. Pass the recording "
            "itself, or a video exported with its sound.",
            source=name,
        )
    stream = container.streams.audio[0]
    if stream.codec_context is None or stream.codec_context.codec is None:
        raise AudioError(
            f"{name!r} uses an audio codec PyAV cannot decode. Convert it to WAV, FLAC "
            "or MP3 with the program that made it.",
            source=name,
        )
    return stream


def inspect(upload: AudioUpload) -> tuple[AudioInfo, _PacketIndex]:
    """Probe ``upload`` and index its packets; raise ``AudioError`` for unusable audio.

    Reading every packet (without decoding) measures the real duration and finds
    damage: in MP3 a run of bytes no frame covers is a corrupt region that FFmpeg
    would otherwise skip silently.
    """
    with _opened(upload) as container:
        stream = _audio_stream(container, upload.name)
        context = stream.codec_context
        if not context.sample_rate or not context.channels:  # no frame FFmpeg could read
            raise AudioError(
                f"{upload.name!r} is not audio that can be decoded (no audio frame found). "
                "Check that the file is complete and really audio or video.",
                source=upload.name,
            )
        _check_layout(upload, context.sample_rate, context.channels)
        time_base = float(stream.time_base)
        times, positions, sizes = array("d"), array("q"), array("q")
        end = 0.0
        origin: float | None = None
        is_mp3 = container.format.name == "mp3"
        checked_size = -1
        tiled: _PacketIndex | None = None
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                if origin is None:
                    origin = _origin(stream, packet.pts * time_base)
                    if is_mp3 and packet.duration and packet.pos is not None and packet.pos >= 0:
                        tiled = frame_index(
                            upload,
                            packet.pos,
                            bytes(packet)[:4],
                            packet.pts,
                            packet.duration,
                            time_base,
                            origin,
                        )
                    if tiled is not None:  # every frame as its header says: indexed already
                        times, positions, sizes = tiled.times, tiled.positions, tiled.sizes
                        end = times[-1] + packet.duration * time_base
                        break
                start = packet.pts * time_base - origin
                times.append(start)
                positions.append(packet.pos)
                sizes.append(packet.size)
                end = max(end, start + (packet.duration or 0) * time_base)
                if is_mp3 and packet.size != checked_size:  # CBR: one check per size
                    _check_mp3_frame(upload, bytes(packet), start)
                    checked_size = packet.size
        except av.error.FFmpegError as exc:
            at = f" at {times[-1]:.1f} s" if times else ""
            raise AudioError(
                f"{upload.name!r} is damaged{at} ({exc.strerror or exc}); repair or re-encode it.",
                source=upload.name,
            ) from exc
        info = AudioInfo(
            container=container.format.name,
            codec=context.name,
            duration=end - max(times[0] if times else 0.0, 0.0),
            sample_rate=context.sample_rate or 0,
            channels=context.channels or 0,
            size=upload.size,
            accepted_suffix=_accepted_suffix(
                container.format.name, context.name, context.channels or 0
            ),
            origin=origin or 0.0,
        )
    if not times or info.duration <= 0:
        raise _no_audio(upload)
    index = _PacketIndex(times, positions, sizes)
    declared = _declared_seconds(upload, info.container, index)
    if declared is not None and info.duration < declared - TRUNCATION_SLACK_SECONDS:
        raise _truncated(upload, declared, info.duration)
    if info.container == "mp3" and tiled is None:
        _check_mp3_continuity(upload, index)
    if info.container == "ogg":
        _check_ogg_pages(upload, times[-1])
    return info, index


def _origin(stream: Any, first_packet: float) -> float:
    """The demuxer time (seconds) of the recording's first sample: what a decoder drops.

    Encoders put samples before the recording (MP3: LAME's encoder delay plus the
    decoder's 529; AAC: 1024 priming samples; Opus: the pre-skip) and tell the
    decoder in a header to drop them. A chunk that keeps that header is trimmed like
    the whole file; one that does not (an MP3 byte range) is not, so each chunk's
    offset must come from the same clock. Three cases:

    * FFmpeg read the delay from the file and starts the stream after it: MP3's
      Xing/LAME tag becomes ``stream.start_time`` (the first packet is at 0 and the
      decoder drops what comes before ``start_time``). That is the origin. It is also
      where a stream starts late (MPEG-TS, a video's audio track).
    * The container marks the priming with packets before the start (an MP4 edit
      list, Opus pre-skip): the first packet is before ``start_time`` and the decoder
      drops it. The origin is ``start_time``.
    * AAC with no edit list (raw ADTS, an MP4 written without one): nothing tells the
      decoder, which plays the priming as audio, so every time would be late by it.
      The priming is one frame (``frame_size``, 1024 samples for AAC-LC): the
      MDCT overlap every AAC encoder starts with.
    """
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    context = stream.codec_context
    if context.name == "aac" and first_packet >= start and context.sample_rate:
        return start + float(context.frame_size or 1024) / float(context.sample_rate)
    return start


def _accepted_suffix(container: str, codec: str, channels: int) -> str | None:
    codecs, suffix = _ACCEPTED.get(container, (set(), ""))
    return suffix if codec in codecs and channels <= SENT_CHANNELS else None


# --------------------------------------------------------------------------- decoding


def _pcm(
    container: Any,
    stream: Any,
    start: float,
    end: float | None,
    rate: int,
    *,
    name: str,
    origin: float,
    seek: bool = True,
    sample_format: str = "s16",
) -> Iterator[bytes]:
    """Mono PCM at ``rate`` (signed 16-bit unless ``sample_format`` says otherwise, a
    packed PyAV format such as ``"flt"``) covering ``[start, end)`` exactly.

    ``start`` and ``end`` are on the recording's clock: demuxer time minus ``origin``
    (``AudioInfo.origin`` for the whole file, 0 for a byte range, which has no header
    telling its decoder to drop anything). ``end=None`` decodes to the end of the stream.
    """
    resampler = av.AudioResampler(format=sample_format, layout="mono", rate=rate)
    width = resampler.format.bytes
    if seek and start > 0:
        at = int((start + origin) / float(stream.time_base))
        container.seek(at, stream=stream, backward=True)
    position: float | None = None  # time of the next output sample
    for frame in chain(_decoded(container, stream, name), [None]):  # None: the resampler's tail
        for out in resampler.resample(frame):
            if position is None:
                known = frame is not None and frame.time is not None
                position = frame.time - origin if known else start
            skip = max(0, round((start - position) * rate))
            keep = out.samples if end is None else max(0, round((end - position) * rate))
            position += out.samples / rate
            if min(keep, out.samples) > skip:
                yield bytes(out.planes[0])[skip * width : min(keep, out.samples) * width]
            if end is not None and position >= end:
                return


def _decoded(container: Any, stream: Any, name: str) -> Iterator[Any]:
    try:
        yield from container.decode(stream)
    except av.error.FFmpegError as exc:
        raise AudioError(
            f"{name!r} could not be decoded ({exc.strerror or exc}); repair or re-encode it.",
            source=name,
        ) from exc


def _rms_levels(pcm: bytes, rate: int) -> list[float]:
    return rms_levels(array("h", pcm), max(1, round(rate * LEVEL_HOP_SECONDS)))


def _levels_by_decoding(
    upload: AudioUpload, info: AudioInfo, index: _PacketIndex, lo: float, hi: float
) -> list[float]:
    with _opened(upload) as container:
        stream = container.streams.audio[0]
        pcm = b"".join(
            _pcm(container, stream, lo, hi, LEVELS_RATE, name=upload.name, origin=info.origin)
        )
    return _rms_levels(pcm, LEVELS_RATE)


def _levels_by_slice(
    upload: AudioUpload, info: AudioInfo, index: _PacketIndex, lo: float, hi: float
) -> list[float]:
    """Levels of ``[lo, hi]`` decoded from that byte range alone (exact times, no seeking)."""
    wav = _WavLayout.parse(upload) if info.container == "wav" else None
    if wav is not None:
        media = io.BytesIO(wav.slice(upload, lo, hi))
        offset = 0.0
    else:
        first = max(0, bisect_left(index.times, lo) - 1)
        last = min(bisect_left(index.times, hi) + 1, len(index.times) - 1)
        with _byte_range(upload, index.positions[first], index.positions[last]) as data:
            media = io.BytesIO(data)
        offset = lo - index.times[first]
    with _opened(upload, media) as container:
        stream = container.streams.audio[0]
        pcm = b"".join(
            _pcm(
                container,
                stream,
                offset,
                offset + hi - lo,
                LEVELS_RATE,
                name=upload.name,
                origin=0.0,
                seek=False,
            )
        )
    return _rms_levels(pcm, LEVELS_RATE)


def _to_flac(upload: AudioUpload, info: AudioInfo, start: float, end: float) -> bytes:
    """``[start, end)`` of ``upload`` (the recording's clock) as FLAC, 16 kHz, mono, 16-bit."""
    output = io.BytesIO()
    _encode(upload, info, start, end, FLAC, output)
    return output.getvalue()


def _encode(
    upload: AudioUpload, info: AudioInfo, start: float, end: float, form: UploadFormat, output: Any
) -> None:
    """Write ``[start, end)`` of ``upload`` (the recording's clock) to ``output`` (a path
    or a binary file object) as ``form``, 16 kHz, mono.

    Decoded, the output starts with the sample at ``start``: FLAC has no encoder
    delay, and Opus's (its pre-skip) is written in the Ogg header, which every
    decoder drops, as it drops the padding after ``end`` (the last page's granule
    position marks the end).
    """
    with _opened(upload) as container:
        stream = container.streams.audio[0]
        with av.open(output, "w", format=form.muxer) as muxer:
            # PyAV before 18 types add_stream() as a stream of any kind
            encoder: av.AudioStream = muxer.add_stream(  # type: ignore[assignment,unused-ignore]
                form.codec, rate=CONVERSION_RATE, layout="mono", options=dict(form.options)
            )
            encoder.codec_context.format = "s16"
            if form.bit_rate:
                encoder.codec_context.bit_rate = form.bit_rate
            pcms = _pcm(
                container, stream, start, end, CONVERSION_RATE, name=upload.name, origin=info.origin
            )
            for pcm in _blocks(pcms, 2 * CONVERSION_RATE * ENCODED_BLOCK_SECONDS):
                frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
                frame.planes[0].update(pcm)
                frame.sample_rate = CONVERSION_RATE
                muxer.mux(encoder.encode(frame))
            muxer.mux(encoder.encode(None))


ENCODED_BLOCK_SECONDS = 10
"""Decoded audio goes to the encoder 10 s at a time (320 KB of PCM), not a decoded
frame (64 ms of AAC) at a time: one call into PyAV per block, so the encoder runs
mostly without the GIL, and two chunks encode side by side on two cores."""


def _blocks(pieces: Iterator[bytes], size: int) -> Iterator[bytes]:
    """``pieces`` joined into blocks of at least ``size`` bytes (the last may be shorter)."""
    block = bytearray()
    for piece in pieces:
        block += piece
        if len(block) >= size:
            yield bytes(block)
            block.clear()
    if block:
        yield bytes(block)
