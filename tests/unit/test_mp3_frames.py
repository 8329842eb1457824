"""An MP3 whose frames tile it is indexed from its bytes, exactly as the demuxer would.

``inspect`` takes the index ``_mp3_frames.frame_index`` reads from the bytes when the
frames tile the file, and demuxes every packet otherwise. Each case here is inspected
both ways, and the two must agree to the last bit: the same duration, packet times,
byte positions and sizes (so the same cuts), or the same error.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import av
import pytest

from tests.support.audio_factory import speech_pcm
from voxtral_integrations import AudioError, _audio_decode
from voxtral_integrations._sources import resolve_audio

REGIONS = [(0.3, 2.0), (2.6, 5.2), (6.0, 9.5)]


def mp3(
    rate: int,
    bit_rate: int,
    *,
    layout: str = "mono",
    vbr: bool = False,
    bare: bool = False,
) -> bytes:
    """Ten seconds of speech-like bursts as MP3 (libmp3lame), CBR or VBR (ABR around
    ``bit_rate``); ``bare``:
    without the ID3v2 tag and the Info frame, so the first frame is at byte 0."""
    pcm = speech_pcm(REGIONS, 10.0)
    output = io.BytesIO()
    muxing = {"id3v2_version": "0", "write_xing": "0"} if bare else {}
    with av.open(output, "w", format="mp3", options=muxing) as container:
        # ABR (libmp3lame's own option, in every PyAV): frame sizes vary as with VBR
        options = {"abr": "1"} if vbr else {}
        stream = container.add_stream("libmp3lame", rate=rate, layout=layout, options=options)
        stream.codec_context.bit_rate = bit_rate
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout=layout, rate=rate
        )
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
        frame.planes[0].update(pcm)
        frame.sample_rate = 16000
        for piece in [*resampler.resample(frame), *resampler.resample(None)]:
            container.mux(stream.encode(piece))
        container.mux(stream.encode(None))
    return output.getvalue()


def both_ways(data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, list[Any]]:
    """``inspect`` of ``data`` as it is (recording what ``frame_index`` gave) and with the
    demuxer alone; each an ``(info, index)`` or the ``AudioError`` raised."""
    given: list[Any] = []
    real = _audio_decode.frame_index

    def spy(*args: Any) -> Any:
        given.append(real(*args))
        return given[-1]

    def outcome() -> Any:
        try:
            return _audio_decode.inspect(resolve_audio(data))
        except AudioError as error:
            return str(error)

    monkeypatch.setattr(_audio_decode, "frame_index", spy)
    tiled = outcome()
    monkeypatch.setattr(_audio_decode, "frame_index", lambda *args: None)
    return tiled, outcome(), given


CLEAN: dict[str, Callable[[], bytes]] = {
    "44.1 kHz 128k (padded frames)": lambda: mp3(44100, 128_000),
    "16 kHz 64k (MPEG-2)": lambda: mp3(16000, 64_000),
    "48 kHz 192k stereo": lambda: mp3(48000, 192_000, layout="stereo"),
    "22.05 kHz 32k": lambda: mp3(22050, 32_000),
    "8 kHz 16k (MPEG-2.5)": lambda: mp3(8000, 16_000),
    "44.1 kHz VBR": lambda: mp3(44100, 96_000, vbr=True),
    "no tag, no Info frame": lambda: mp3(44100, 128_000, bare=True),
}


@pytest.mark.parametrize("make", list(CLEAN.values()), ids=list(CLEAN))
def test_a_clean_mp3_is_indexed_from_its_bytes_as_the_demuxer_would(
    make: Callable[[], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    tiled, demuxed, given = both_ways(make(), monkeypatch)
    assert given and given[0] is not None  # the bytes were the index
    info, index = tiled
    assert (info, index) == demuxed
    assert len(index.times) > 100 and info.duration == pytest.approx(10.0, abs=0.1)


def _with_id3v1(data: bytes) -> bytes:
    return data + b"TAG" + b"\0" * 125


def _junk_inside(data: bytes) -> bytes:
    return data[:9000] + b"\xab" * 700 + data[9000:]


def _cut_off(data: bytes) -> bytes:
    return data[:-150]


OTHERS = {
    "an ID3v1 tag at the end": _with_id3v1,
    "junk in the middle": _junk_inside,
    "the last frame cut off": _cut_off,
}


@pytest.mark.parametrize("spoil", list(OTHERS.values()), ids=list(OTHERS))
def test_anything_else_is_left_to_the_demuxer(
    spoil: Callable[[bytes], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    tiled, demuxed, given = both_ways(spoil(mp3(44100, 128_000)), monkeypatch)
    assert given == [None]
    assert tiled == demuxed


def test_damage_is_still_named_before_anything_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    tiled, _, _ = both_ways(_junk_inside(mp3(44100, 128_000)), monkeypatch)
    assert isinstance(tiled, str) and "damaged" in tiled
