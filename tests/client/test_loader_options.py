"""The loaders take every transcription option, default to windows, and keep what failed loads made.

``VoxtralLoader``, ``VoxtralParser`` and ``VoxtralReader`` all pass their options
through ``_loading.LoadOptions``; these tests hold each adapter to that table and
to ``VoxtralClient.transcribe``, so an option added to the core cannot be missing
from an adapter again.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import fields
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.documents.base import Blob
from llama_index.core.schema import MetadataMode

from tests.support.audio_factory import encode, speech_pcm
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_voxtral import FakeVoxtral, multipart
from voxtral_integrations import LoadError, VoxtralClient
from voxtral_integrations._loading import LoadOptions
from voxtral_integrations.langchain import VoxtralLoader, VoxtralParser
from voxtral_integrations.llama_index import VoxtralReader

SET_BY_THE_LOADERS = {"audio", "file_id", "timestamp_granularities"}
"""What a loader decides itself: the inputs, and timestamps (from ``granularity``)."""
LOADER_ONLY = {"on_error", "mode", "batch_dir"}
"""What a parser, given one blob at a time, has no use for."""


def accepted(adapter: type) -> set[str]:
    if adapter is VoxtralReader:
        return set(VoxtralReader.model_fields)
    return set(inspect.signature(adapter.__init__).parameters)  # type: ignore[misc]


@pytest.mark.parametrize("adapter", [VoxtralLoader, VoxtralParser, VoxtralReader])
def test_every_transcription_option_and_load_option_is_accepted(adapter: type) -> None:
    core = set(inspect.signature(VoxtralClient.transcribe).parameters) - {"self"}
    carried = {"transcription", "chunking"}  # the _options tables, held to `core` above
    table = {f.name for f in fields(LoadOptions)} - carried
    assert carried <= {f.name for f in fields(LoadOptions)}
    expected = (core - SET_BY_THE_LOADERS) | table
    if adapter is VoxtralParser:
        expected -= LOADER_ONLY
    assert expected - accepted(adapter) == set()


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "note.wav"
    path.write_bytes(encode(speech_pcm([(0.5, 1.5), (2.0, 2.8)], 3.0), "wav"))
    return path


class FormFields:
    """A FakeVoxtral that keeps the form fields of every request."""

    def __init__(self) -> None:
        self.fake = FakeVoxtral()
        self.fields: list[dict[str, list[str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.fields.append(multipart(request)[0])
        return self.fake(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def test_temperature_reaches_the_server_from_every_adapter(wav: Path) -> None:
    seen = FormFields()
    common: dict[str, Any] = {"api_key": FAKE_API_KEY, "temperature": 0.2}
    VoxtralLoader(wav, http_client=seen.client(), **common).load()
    VoxtralParser(http_client=seen.client(), **common).parse(Blob.from_path(wav))
    VoxtralReader(http_client=seen.client(), **common).load_data(wav)
    assert [f["temperature"] for f in seen.fields] == [["0.2"]] * 3


# --------------------------------------------------------------------------- defaults


def test_the_default_is_a_window_of_segments_not_one_document_per_segment(wav: Path) -> None:
    fake = FakeVoxtral()
    (doc,) = VoxtralLoader(
        wav, api_key=FAKE_API_KEY, http_client=httpx.Client(transport=httpx.MockTransport(fake))
    ).load()
    assert doc.page_content == "words 0 words 1"
    assert doc.metadata["start"] == pytest.approx(0.5, abs=0.05)
    assert doc.metadata["end"] == pytest.approx(2.8, abs=0.05)
    (node,) = VoxtralReader(
        api_key=FAKE_API_KEY, http_client=httpx.Client(transport=httpx.MockTransport(fake))
    ).load_data(wav)
    assert node.text == doc.page_content


def test_the_model_is_metadata_only_not_embedded_nor_shown_to_the_llm(wav: Path) -> None:
    fake = FakeVoxtral()
    (doc,) = VoxtralReader(
        api_key=FAKE_API_KEY, http_client=httpx.Client(transport=httpx.MockTransport(fake))
    ).load_data(wav)
    assert doc.metadata["model"]
    embedded = doc.get_content(MetadataMode.EMBED)
    shown = doc.get_content(MetadataMode.LLM)
    assert "model:" not in embedded and doc.metadata["model"] not in embedded
    assert "model:" not in shown and "start_timestamp: 00:00:00" in shown


# --------------------------------------------------------------------------- failures


def failing_second(tmp_path: Path, wav: Path) -> list[Path]:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wav file at all")
    return [wav, broken]


def test_load_and_aload_keep_the_documents_made_before_a_failure(tmp_path: Path, wav: Path) -> None:
    fake = FakeVoxtral()
    files = failing_second(tmp_path, wav)

    def make() -> VoxtralLoader:
        return VoxtralLoader(
            files,
            api_key=FAKE_API_KEY,
            http_client=httpx.Client(transport=httpx.MockTransport(fake)),
            async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake)),
        )

    with pytest.raises(LoadError) as sync_error:
        make().load()
    with pytest.raises(LoadError) as async_error:
        asyncio.run(make().aload())
    for caught in (sync_error, async_error):
        assert [d.page_content for d in caught.value.documents] == ["words 0 words 1"]
        assert "broken.wav" in str(caught.value) and "`documents`" in str(caught.value)
