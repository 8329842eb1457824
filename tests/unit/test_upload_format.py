"""Lean uploads: how a converted chunk is encoded, labelled, spooled and removed.

A lossless source stays lossless (FLAC); a lossy one goes as Opus near its own bit
rate, so the upload weighs about what the source does. A converted chunk is
encoded into a temporary file for the length of its request, and that file is gone
afterwards whether the request succeeded, failed or was cancelled.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import threading
from pathlib import Path

import anyio
import httpx
import pytest

from tests.support.audio_factory import encode, speech_pcm
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_voxtral import FakeVoxtral
from voxtral_integrations import InvalidInputError, VoxtralClient
from voxtral_integrations._audio import Payload, prepare, upload_format
from voxtral_integrations._audio_checks import AudioInfo
from voxtral_integrations._constants import ACCEPTED_AUDIO_TYPES
from voxtral_integrations._transcribe import (
    SPOOL_PREFIX,
    _encode_when_a_core_is_free,
    aspooled,
    spooled,
)

REGIONS = [(1.0, 4.0), (12.0, 16.0), (21.0, 27.0)]


def info(codec: str, *, kbps: float, container: str = "mov,mp4,m4a,3gp,3g2,mj2") -> AudioInfo:
    duration = 600.0
    return AudioInfo(
        container=container,
        codec=codec,
        duration=duration,
        sample_rate=44100,
        channels=1,
        size=round(kbps * 1000 * duration / 8),
        accepted_suffix=None,
    )


@pytest.mark.parametrize(
    ("codec", "kbps", "upload_codec", "expected"),
    [
        pytest.param("aac", 64, "auto", ("ogg", "libopus", 32_000), id="aac-64k-capped"),
        pytest.param("aac", 24, "auto", ("ogg", "libopus", 24_000), id="aac-24k-own-rate"),
        pytest.param("libopencore_amrnb", 12.2, "auto", ("ogg", "libopus", 16_000), id="amr-floor"),
        pytest.param("wmav2", 128, "auto", ("ogg", "libopus", 32_000), id="wma"),
        pytest.param("pcm_mulaw", 64, "auto", ("ogg", "libopus", 32_000), id="g711-is-lossy"),
        pytest.param("pcm_s16be", 352, "auto", ("flac", "flac", None), id="aiff-lossless"),
        pytest.param("pcm_s24le", 2304, "auto", ("flac", "flac", None), id="wav-6ch-lossless"),
        pytest.param("alac", 500, "auto", ("flac", "flac", None), id="alac-lossless"),
        pytest.param("flac", 400, "auto", ("flac", "flac", None), id="flac-lossless"),
        pytest.param("aac", 64, "flac", ("flac", "flac", None), id="aac-flac-asked"),
    ],
)
def test_the_upload_format_keeps_lossless_lossless_and_lossy_near_its_bit_rate(
    codec: str, kbps: float, upload_codec: str, expected: tuple[str, str, int | None]
) -> None:
    form = upload_format(info(codec, kbps=kbps), upload_codec)  # type: ignore[arg-type]
    assert (form.muxer, form.codec, form.bit_rate) == expected
    assert form.suffix in ACCEPTED_AUDIO_TYPES


def payloads_of(tmp_path: Path, name: str, upload_codec: str = "auto") -> list[Payload]:
    from voxtral_integrations._sources import resolve_audio

    path = tmp_path / f"talk.{name}"
    path.write_bytes(encode(speech_pcm(REGIONS, 30.0), name))
    upload = resolve_audio(path)
    _, payloads = prepare(
        upload,  # type: ignore[arg-type]
        max_chunk_seconds=10.0,
        max_bytes=500_000_000,
        upload_codec=upload_codec,  # type: ignore[arg-type]
    )
    return payloads


MAGIC = {".ogg": b"OggS", ".flac": b"fLaC"}


@pytest.mark.parametrize(
    ("name", "upload_codec", "suffix"),
    [
        pytest.param("m4a", "auto", ".ogg", id="m4a-opus"),
        pytest.param("m4a", "flac", ".flac", id="m4a-flac-asked"),
        pytest.param("aiff", "auto", ".flac", id="aiff-flac"),
        pytest.param("wma", "auto", ".ogg", id="wma-opus"),
    ],
)
def test_a_spooled_payload_is_labelled_as_what_its_bytes_are_and_then_removed(
    name: str, upload_codec: str, suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    payloads = payloads_of(tmp_path, name, upload_codec)
    assert len(payloads) >= 3
    for payload in payloads:
        with spooled(payload) as upload:
            assert upload.path is not None and upload.path.parent == spool
            assert upload.path.name.startswith(SPOOL_PREFIX)
            content = upload.read_all()
            assert content.startswith(MAGIC[suffix]), content[:8]
            assert upload.filename.endswith(suffix), upload.filename
            assert upload.mime_type == ACCEPTED_AUDIO_TYPES[suffix]
            assert upload.size == len(content)
            assert content == upload.read_all()  # an attempt again reads the same bytes
        assert not upload.path.exists()
    assert list(spool.iterdir()) == []


def test_an_opus_upload_weighs_about_what_its_lossy_source_does(tmp_path: Path) -> None:
    source = tmp_path / "talk.wma"
    source.write_bytes(encode(speech_pcm(REGIONS, 30.0), "wma"))  # 64 kbit/s
    payloads = payloads_of(tmp_path, "wma")
    sent = 0
    for payload in payloads:
        with spooled(payload) as upload:
            sent += upload.size
    assert sent <= 1.2 * source.stat().st_size, (sent, source.stat().st_size)
    flac = 0
    for payload in payloads_of(tmp_path, "wma", "flac"):
        with spooled(payload) as upload:
            flac += upload.size
    assert sent < flac


def test_a_byte_range_payload_is_not_spooled(tmp_path: Path) -> None:
    (payload, *_) = payloads_of(tmp_path, "mp3")
    with spooled(payload) as upload:
        assert upload is payload.upload


class Refused(Exception):
    pass


def test_the_spooled_file_is_removed_when_the_request_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    (payload, *_) = payloads_of(tmp_path, "m4a")
    seen = []
    with pytest.raises(Refused), spooled(payload) as upload:
        assert upload.path is not None
        seen.append(upload.path)
        raise Refused
    assert seen and not seen[0].exists()


def test_the_spooled_file_is_removed_when_the_task_is_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    (payload, *_) = payloads_of(tmp_path, "m4a")
    seen: list[Path] = []

    async def main() -> None:
        async with anyio.create_task_group() as group:

            async def send() -> None:
                async with aspooled(payload) as upload:
                    assert upload.path is not None
                    seen.append(upload.path)
                    await anyio.sleep(60)  # a request in flight when the run stops

            group.start_soon(send)
            while not seen:
                await anyio.sleep(0.01)
            assert seen[0].exists()
            group.cancel_scope.cancel()

    anyio.run(main)
    assert not seen[0].exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(SPOOL_PREFIX)]


@pytest.mark.parametrize("answers", ["ok", "refused"])
def test_transcribe_leaves_no_spooled_file_after_a_long_conversion(
    answers: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    path = tmp_path / "talk.m4a"
    path.write_bytes(encode(speech_pcm(REGIONS, 30.0), "m4a"))
    fake = FakeVoxtral()
    in_flight: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        in_flight.append(len(list(spool.iterdir())))
        if answers == "refused":
            return httpx.Response(400, json={"message": "refused"})
        return fake(request)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with VoxtralClient(api_key=FAKE_API_KEY, http_client=http, max_retries=0) as client:
        try:
            result = client.transcribe(path, max_chunk_seconds=10, concurrency=2)
        except Exception as exc:  # every chunk refused: the run fails as a whole
            assert answers == "refused", exc
        else:
            assert answers == "ok" and len(result.chunks) >= 3
    assert in_flight and all(1 <= count <= 2 for count in in_flight)  # one per request
    assert list(spool.iterdir()) == []


def test_an_unknown_upload_codec_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    fake = FakeVoxtral()
    http = httpx.Client(transport=httpx.MockTransport(fake))
    with (
        VoxtralClient(api_key=FAKE_API_KEY, http_client=http) as client,
        pytest.raises(InvalidInputError, match="upload_codec") as caught,
    ):
        client.transcribe(b"RIFF", upload_codec="mp3")  # type: ignore[arg-type]
    assert caught.value.argument == "upload_codec"
    assert fake.uploads == []


def _encoded_in_a_forked_child(path: str) -> str:
    """Run in a child forked after the parent encoded: what the child's encoding wrote."""
    target = Path(path)
    _encode_when_a_core_is_free(lambda output: Path(output).write_text("child"), target)
    return target.read_text()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_child_forked_after_an_encoding_still_encodes(tmp_path: Path) -> None:
    parent = tmp_path / "parent.txt"
    _encode_when_a_core_is_free(lambda output: Path(output).write_text("parent"), parent)
    assert parent.read_text() == "parent"  # the parent's encoder threads now wait, idle
    pool = multiprocessing.get_context("fork").Pool(1)
    try:  # a child that cannot encode waits for ever: it is stopped after 20 s
        child = pool.apply_async(_encoded_in_a_forked_child, (str(tmp_path / "child.txt"),))
        assert child.get(timeout=20) == "child"
    finally:
        pool.terminate()
        pool.join()
    # the encoder ran in a thread of the pool, not in the caller's
    names: list[str] = []
    _encode_when_a_core_is_free(
        lambda output: names.append(threading.current_thread().name), parent
    )
    assert names and names[0].startswith("voxtral-encode")
