"""No socket is left open: adapters close their clients, the Quickstart one-liner too.

Every test talks to a real local server, so a connection pool left open holds a
real socket, and Python warns ``ResourceWarning: unclosed <socket...>`` when it
is collected. The warnings are recorded around a ``gc.collect()`` (a warning
raised inside a finaliser would otherwise only be printed).
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from langchain_core.messages import HumanMessage
from llama_index.core.llms import ChatMessage

from tests.support.audio_factory import encode, speech_pcm
from tests.support.chat_server import ChatServer
from tests.support.constants import FAKE_API_KEY
from voxtral_integrations import AsyncVoxtralClient, VoxtralClient
from voxtral_integrations.langchain import ChatVoxtral, VoxtralTranscriptionTool
from voxtral_integrations.llama_index import VoxtralLLM


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer() as running:
        yield running


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "talk.wav"
    path.write_bytes(encode(speech_pcm([(0.2, 0.8)], 1.0), "wav"))
    return path


def unclosed_after(run: Callable[[], Any]) -> list[str]:
    """The ``ResourceWarning``s raised while ``run`` runs and its garbage is collected."""
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run()
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_the_one_liner_leaves_no_socket(server: ChatServer, wav: Path) -> None:
    def run() -> None:
        VoxtralClient(FAKE_API_KEY, base_url=server.base_url).transcribe(wav)

    assert unclosed_after(run) == []
    assert server.request_count == 1


def test_an_unclosed_async_client_would_warn(server: ChatServer, wav: Path) -> None:
    """The check above can see a leak: an async pool cannot be closed by a finaliser."""

    async def leak() -> None:
        await AsyncVoxtralClient(FAKE_API_KEY, base_url=server.base_url).transcribe(wav)

    assert any("unclosed" in message for message in unclosed_after(lambda: anyio.run(leak)))


LANGCHAIN = [HumanMessage("hi")]
LLAMA_INDEX = [ChatMessage(role="user", content="hi")]


def langchain_model(base_url: str) -> ChatVoxtral:
    return ChatVoxtral(api_key=FAKE_API_KEY, base_url=base_url)


def llama_index_llm(base_url: str) -> VoxtralLLM:
    return VoxtralLLM(api_key=FAKE_API_KEY, base_url=base_url)


def test_chat_models_close_in_with_blocks(server: ChatServer) -> None:
    def run() -> None:
        with langchain_model(server.base_url) as model:
            assert model.invoke(LANGCHAIN).content == "ok"
            sync_pool = model._client()._http
        assert sync_pool.is_closed
        assert model.invoke(LANGCHAIN).content == "ok"  # still usable, on a new pool
        model.close()
        with llama_index_llm(server.base_url) as llm:
            assert llm.chat(LLAMA_INDEX).message.content == "ok"
            sync_pool = llm._client()._http
        assert sync_pool.is_closed

    assert unclosed_after(run) == []
    assert len(server.chat_bodies) == 3


def test_chat_models_close_in_async_with_blocks(server: ChatServer) -> None:
    async def run() -> None:
        async with langchain_model(server.base_url) as model:
            assert (await model.ainvoke(LANGCHAIN)).content == "ok"
            assert model.invoke(LANGCHAIN).content == "ok"
        async with llama_index_llm(server.base_url) as llm:
            assert (await llm.achat(LLAMA_INDEX)).message.content == "ok"
            llm.temperature = 0.5  # a new setting: new clients, the old ones closed too
            assert (await llm.achat(LLAMA_INDEX)).message.content == "ok"
            assert llm.chat(LLAMA_INDEX).message.content == "ok"

    assert unclosed_after(lambda: anyio.run(run)) == []
    assert len(server.chat_bodies) == 5


def test_async_calls_without_aclose_would_leak(server: ChatServer) -> None:
    """What the test above guards against: the adapters' async pools need aclose()."""

    async def run() -> None:
        await llama_index_llm(server.base_url).achat(LLAMA_INDEX)

    assert any("unclosed" in message for message in unclosed_after(lambda: anyio.run(run)))


def test_the_langchain_tool_closes(server: ChatServer, wav: Path) -> None:
    async def run() -> None:
        async with VoxtralTranscriptionTool(api_key=FAKE_API_KEY, base_url=server.base_url) as tool:
            assert await tool.ainvoke({"path_or_url": str(wav)})
            assert tool.invoke({"path_or_url": str(wav)})

    assert unclosed_after(lambda: anyio.run(run)) == []
    assert server.request_count == 2


@pytest.mark.parametrize(
    "make", [langchain_model, llama_index_llm], ids=["langchain", "llama_index"]
)
def test_a_copy_has_clients_of_its_own_and_shares_the_callers_http_client(
    server: ChatServer, make: Callable[[str], Any]
) -> None:
    """Built lazily (the async client only for async calls), reused, never shared with a
    copy: closing a copy leaves the original working; the caller's pool is never closed."""
    import copy

    def call(adapter: Any) -> str:
        if isinstance(adapter, ChatVoxtral):
            return str(adapter.invoke(LANGCHAIN).content)
        return str(adapter.chat(LLAMA_INDEX).message.content)

    def run() -> None:
        given = httpx.Client()
        adapter = make(server.base_url)
        adapter.http_client = given
        assert call(adapter) == "ok"
        assert adapter._client() is adapter._client()  # reused
        assert adapter._clients._made.keys() == {VoxtralClient}  # no async client built
        for clone in (copy.copy(adapter), copy.deepcopy(adapter)):
            assert clone.http_client is given
            assert call(clone) == "ok"
            assert clone._client() is not adapter._client()
            clone.close()
            assert call(adapter) == "ok"
        adapter.close()
        assert not given.is_closed
        given.close()

    assert unclosed_after(run) == []
    assert len(server.chat_bodies) == 5
