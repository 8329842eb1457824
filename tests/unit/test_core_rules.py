"""Core rules pinned in their own modules, each by a table of its own.

Each rule here was guarded only from outside its module (a fuzz test, a loader
test, a fake server that looked at bytes alone): an upload's declared type must
be what its bytes are, a border's ownership is exact, stitched segments come out in
order of start, a window ends at a speaker change, and an output is written whole
or not at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest

from tests.support.audio_factory import encode, speech_pcm
from voxtral_integrations import AudioError
from voxtral_integrations._audio import Payload, Plan, prepare
from voxtral_integrations._chunking import by_start, owns
from voxtral_integrations._constants import ACCEPTED_AUDIO_TYPES
from voxtral_integrations._models import Chunk, Segment
from voxtral_integrations._records import _windows
from voxtral_integrations._sources import AudioUpload, resolve_audio

# --------------------------------------------------------------------------- payload types

MAGIC = {b"RIFF": ".wav", b"fLaC": ".flac", b"OggS": ".ogg", b"ID3": ".mp3", b"\xff\xfb": ".mp3"}


def container_of(content: bytes) -> str:
    """The container a payload's bytes are, from their first bytes."""
    return next(suffix for magic, suffix in MAGIC.items() if content.startswith(magic))


@pytest.mark.parametrize(
    ("name", "seconds", "max_chunk_seconds"),
    [
        pytest.param("wav", 30.0, 60.0, id="wav-whole"),
        pytest.param("wav", 30.0, 10.0, id="wav-sliced"),
        pytest.param("mp3", 30.0, 10.0, id="mp3-byte-ranges"),
        pytest.param("flac", 30.0, 10.0, id="flac-converted-chunks"),
        pytest.param("m4a", 30.0, 60.0, id="m4a-converted-whole"),
        pytest.param("m4a", 30.0, 10.0, id="m4a-converted-chunks"),
        pytest.param("ogg-opus", 30.0, 10.0, id="ogg-converted-chunks"),
    ],
)
def test_every_payload_is_labelled_as_what_its_bytes_are(
    name: str, seconds: float, max_chunk_seconds: float, tmp_path: Path
) -> None:
    path = tmp_path / f"talk.{name.split('-')[0]}"
    path.write_bytes(encode(speech_pcm([(1.0, 4.0), (12.0, 16.0), (21.0, 27.0)], seconds), name))
    upload = resolve_audio(path)
    _, payloads = prepare(
        upload, max_chunk_seconds=max_chunk_seconds, max_bytes=500_000_000, target_seconds=None
    )
    for payload in payloads:
        with payload.upload.open() as content:
            head = content if isinstance(content, bytes) else content.read(16)
        suffix = container_of(head[:16])
        assert payload.upload.filename.endswith(suffix), payload.upload.filename
        assert payload.upload.mime_type == ACCEPTED_AUDIO_TYPES[suffix]


# --------------------------------------------------------------------------- ownership


def at(start: float, end: float) -> Segment:
    return Segment(text="x", start=start, end=end)


@pytest.mark.parametrize(
    ("segment", "low", "high", "owned"),
    [
        pytest.param(at(9.0, 11.0), 10.0, 20.0, True, id="midpoint-on-the-lower-border"),
        pytest.param(at(19.0, 21.0), 10.0, 20.0, False, id="midpoint-on-the-upper-border"),
        pytest.param(at(0.1 + 0.2, 0.3), 0.3, 1.0, True, id="float-rounding-at-the-border"),
        pytest.param(at(5.0, 5.0), 5.0, 6.0, True, id="zero-length-on-the-border"),
        pytest.param(at(-3.0, -1.0), -math.inf, 0.0, True, id="before-zero-the-first-chunk"),
        pytest.param(at(1e9, 1e9 + 1), 100.0, math.inf, True, id="far-past-the-last-chunk"),
        pytest.param(Segment(text="x"), 10.0, 20.0, True, id="no-bounds-stay-with-its-chunk"),
        pytest.param(at(math.nan, 1.0), 10.0, 20.0, True, id="not-finite-stays-with-its-chunk"),
    ],
)
def test_a_segment_belongs_to_the_chunk_holding_its_midpoint(
    segment: Segment, low: float, high: float, owned: bool
) -> None:
    assert owns(segment, low, high) is owned


@pytest.mark.parametrize("border", [0.3, 10.0, 599.999, 3600.0000001, 1e6 / 3])
def test_exactly_one_of_two_neighbours_owns_a_midpoint_on_their_border(border: float) -> None:
    for segment in (at(border - 1.0, border + 1.0), at(border, border)):
        assert [owns(segment, border - 50, border), owns(segment, border, border + 50)] == [
            False,
            True,
        ]


# --------------------------------------------------------------------------- order


def timed(*starts: float | None) -> list[Segment]:
    return [
        Segment(text=str(i), start=s, end=None if s is None else s + 1)
        for i, s in enumerate(starts)
    ]


@pytest.mark.parametrize(
    ("starts", "order"),
    [
        pytest.param((3.0, 1.0, 2.0), [1, 2, 0], id="by-start"),
        pytest.param((1.0, 1.0, 0.5), [2, 0, 1], id="stable-on-ties"),
        pytest.param((2.0, None, 1.0), [2, 0, 1], id="untimed-follows-the-one-before-it"),
        pytest.param((None, 5.0, 1.0), [0, 2, 1], id="untimed-first-stays-first"),
        pytest.param((math.inf, 1.0), [0, 1], id="a-start-not-finite-keeps-its-place"),
    ],
)
def test_stitched_segments_come_out_in_order_of_start(
    starts: tuple[float | None, ...], order: list[int]
) -> None:
    assert [s.text for s in by_start(timed(*starts))] == [str(i) for i in order]


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize(
    ("timings", "windows"),
    [
        pytest.param(
            [(0.0, 2.0, "a"), (2.0, 4.0, "a"), (4.0, 6.0, "b"), (6.0, 8.0, "a")],
            [[0, 1], [2], [3]],
            id="a-new-window-at-each-speaker-change",
        ),
        pytest.param([(0.0, 2.0, None), (2.0, 4.0, None)], [[0, 1]], id="undiarized-one-window"),
        pytest.param(
            [(0.0, 30.0, "a"), (30.0, 61.0, "a"), (61.0, 62.0, "a")],
            [[0], [1, 2]],
            id="at-most-window-seconds",
        ),
        pytest.param([(0.0, 90.0, "a")], [[0]], id="a-long-segment-is-a-window-of-its-own"),
        pytest.param(
            [(None, None, "a"), (1.0, 2.0, "a"), (2.0, 3.0, "b")],
            [[0, 1], [2]],
            id="untimed-spans-join-their-speaker",
        ),
    ],
)
def test_windows_end_at_a_speaker_change_and_at_the_window_length(
    timings: list[tuple[float | None, float | None, str | None]], windows: list[list[int]]
) -> None:
    assert list(_windows(timings, 60.0)) == windows


# --------------------------------------------------------------------------- writes


class Unwritable(str):
    """Text whose encoding fails once the file has been opened for it."""

    def __new__(cls) -> Unwritable:
        return super().__new__(cls, "half a transcript \udcff")


def test_an_output_write_that_fails_midway_leaves_the_old_file_whole(tmp_path: Path) -> None:
    from voxtral_integrations.cli._outputs import write_atomically

    path = tmp_path / "talk.srt"
    path.write_text("the previous run's subtitles", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(path, Unwritable())
    assert path.read_text(encoding="utf-8") == "the previous run's subtitles"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.srt"]  # no temporary left


def test_a_plan_is_planned_as_far_as_it_is_read_and_reads_the_same_every_time() -> None:
    upload = AudioUpload("talk.wav", "talk.wav", "audio/wav", 0, lambda: nullcontext(b""))
    planned: list[int] = []

    def payloads() -> Iterator[Payload]:
        for index in range(3):
            planned.append(index)
            yield Payload(Chunk(index=index, start=float(index), end=index + 1.0), upload)

    plan = Plan(payloads(), whole=False, name="talk.wav", duration=3.0)
    assert planned == []
    assert next(iter(plan)).chunk.index == 0 and planned == [0]
    assert plan[1].chunk.index == 1 and planned == [0, 1]
    assert [payload.chunk.index for payload in plan] == [0, 1, 2] and planned == [0, 1, 2]
    assert [payload.chunk.index for payload in plan] == [0, 1, 2] and planned == [0, 1, 2]
    assert len(plan) == 3 and plan[-1].chunk.index == 2 and plan[1:] == list(plan)[1:]
    with pytest.raises(IndexError):
        plan[3]


def test_a_plan_whose_cut_failed_says_so_on_every_read() -> None:
    upload = AudioUpload("talk.wav", "talk.wav", "audio/wav", 0, lambda: nullcontext(b""))
    damaged = AudioError("'talk.wav' could not be decoded", source="talk.wav")

    def payloads() -> Iterator[Payload]:
        yield Payload(Chunk(index=0, start=0.0, end=1.0), upload)
        raise damaged

    plan = Plan(payloads(), whole=False, name="talk.wav", duration=3.0)
    assert plan[0].chunk.index == 0
    for read in (list, len, lambda plan: plan[1], lambda plan: plan[-1]):
        with pytest.raises(AudioError) as caught:
            read(plan)
        assert caught.value is damaged  # never taken for a plan of one chunk
