"""Shared fixtures: hermetic environment, cassette configuration, test audio."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.cassette_support import vcr_config as cassette_vcr_config
from tests.support.constants import BCN_WEATHER, CASSETTES, FAKE_API_KEY, recording

# CI replays the same property-test examples every run (a red CI must be reproducible);
# local runs keep drawing new ones, which is how edge cases get found. No deadline: a
# timed assertion fails on a busy shared machine for reasons the change did not cause.
settings.register_profile("local", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "local")


def pytest_report_header() -> str:
    """The versions this run resolved: a red run against a new release names it."""
    names = {
        re.match(r"[A-Za-z0-9._-]+", requirement).group()  # type: ignore[union-attr]
        for requirement in importlib.metadata.requires("voxtral-integrations") or []
        if "extra ==" not in requirement
        or re.search(r"extra == .(langchain|llamaindex)", requirement)
    }
    found = []
    for name in sorted(names, key=str.lower):
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return "voxtral-integrations dependencies: " + ", ".join(found)


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, object]:
    return cassette_vcr_config()


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(CASSETTES / request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(autouse=True)
def _hermetic_environment(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's Mistral settings, except a live re-recording."""
    monkeypatch.delenv("MISTRAL_BASE_URL", raising=False)
    if not recording(request.config):
        monkeypatch.delenv("MISTRAL_API_KEY", raising=False)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the clients' waits (retries, the pace's turn) instead of waiting; they pass
    the pace's time. Replaces the transports' sleep seam, not ``time.sleep``."""
    from voxtral_integrations import _pacing
    from voxtral_integrations._transport import AsyncTransport, SyncTransport

    waited: list[float] = []
    real_now = _pacing.now

    def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    async def fake_async_sleep(seconds: float) -> None:
        waited.append(seconds)
        await asyncio.sleep(0)

    monkeypatch.setattr(SyncTransport, "sleep", staticmethod(fake_sleep))
    monkeypatch.setattr(AsyncTransport, "sleep", staticmethod(fake_async_sleep))
    monkeypatch.setattr(_pacing, "now", lambda: real_now() + sum(waited))  # waits pass time
    return waited


@pytest.fixture
def api_key(request: pytest.FixtureRequest) -> str:
    """The real key while re-recording cassettes, otherwise a sentinel."""
    if recording(request.config):
        key = os.environ.get("MISTRAL_API_KEY")
        if not key:
            pytest.fail("re-recording cassettes needs MISTRAL_API_KEY")
        return key
    return FAKE_API_KEY


@pytest.fixture
def bcn_weather() -> Path:
    """Real speech (11 s mp3) from Mistral's docs; see examples/data/README.md."""
    return BCN_WEATHER


@pytest.fixture
def tiny_wav(tmp_path: Path) -> Iterator[Path]:
    """A 0.5 s silent 16 kHz mono WAV, made with the standard library."""
    import wave

    path = tmp_path / "tiny.wav"
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
        writer.writeframes(b"\x00\x00" * 8000)
    yield path
