"""``create_realtime_token``: the browser's way in, end to end, and never on show.

A local HTTP server answers ``POST /v1/client/sessions`` as the reference documents it
(201, ``client_secret.value`` ``rt_…``) and checks the request body the way the server
does; the token it mints is registered with the strict realtime fake, where a
"browser" (a bare ``websockets`` client offering ``["realtime", token]``) opens a session
with it. The token is a credential: no repr, log record or error may show it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.asyncio.client import connect

from benchmarks.local_server import LocalVoxtralServer, ReceivedRequest, Reply
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_realtime import FakeRealtimeServer
from voxtral_integrations import (
    APIResponseError,
    AsyncVoxtralClient,
    AuthenticationError,
    InvalidInputError,
    RealtimeToken,
    UnsupportedFeatureError,
    VoxtralClient,
)

V3 = "voxtral-mini-transcribe-realtime-3"
EXPIRES = 1_800_000_000


class SessionsServer(LocalVoxtralServer):
    """``POST /v1/client/sessions`` for the fake realtime server's tokens; 422 for a body
    the real endpoint refuses (an unknown field, a purpose other than ``realtime``)."""

    def __init__(self, realtime: FakeRealtimeServer, body: Any = None) -> None:
        super().__init__(hook=self._route, api_key=FAKE_API_KEY)
        self.realtime = realtime
        self.body = body
        self.sent: list[dict[str, Any]] = []

    def _route(self, request: ReceivedRequest) -> Reply | None:
        if request.headers.get("authorization") != f"Bearer {FAKE_API_KEY}":
            return None
        if (request.method, request.path) != ("POST", "/v1/client/sessions"):
            return Reply(404, {"detail": "Not Found"})
        payload = json.loads(request.body)
        self.sent.append(payload)
        unknown = set(payload) - {"model", "purpose", "ttl_seconds"}
        if unknown or payload.get("purpose") != "realtime" or not payload.get("model"):
            return Reply(422, {"detail": f"invalid client session request: {sorted(unknown)}"})
        if self.body is not None:
            return Reply(201, self.body)
        token = self.realtime.mint_token(payload["model"])
        secret = {"value": token, "expires_at": EXPIRES}
        return Reply(
            201,
            {
                "object": "client.session",
                "purpose": "realtime",
                "expires_at": EXPIRES,
                "client_secret": secret,
            },
        )


async def test_a_minted_token_opens_a_session_for_its_model(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeRealtimeServer() as realtime, SessionsServer(realtime) as sessions:
        async with AsyncVoxtralClient(FAKE_API_KEY, base_url=sessions.base_url) as client:
            token = await client.create_realtime_token(V3, ttl_seconds=300)
        logged = caplog.text  # what the library and httpx logged while minting it
        secret = token.value.get_secret_value()
        url = realtime.ws_url(V3)
        async with connect(url, subprotocols=["realtime", secret]) as ws:  # type: ignore[list-item]
            created = json.loads(await ws.recv())
    assert "/client/sessions -> 201" in logged  # the scan below sees the logs
    assert sessions.sent == [{"model": V3, "purpose": "realtime", "ttl_seconds": 300}]
    assert isinstance(token, RealtimeToken) and token.model == V3
    assert token.expires_at is not None and token.expires_at.timestamp() == EXPIRES
    assert secret.startswith("rt_")
    assert created["type"] == "session.created"
    assert realtime.records[0].auth == "token"
    for shown in (repr(token), str(token), token.model_dump_json(), logged):
        assert secret not in shown


@contextmanager
def minting(
    body: Any = None, key: str = FAKE_API_KEY
) -> Iterator[tuple[SessionsServer, VoxtralClient]]:
    """A sessions server (answering ``body``, else a real token) and a client of it."""
    with (
        FakeRealtimeServer() as realtime,
        SessionsServer(realtime, body) as sessions,
        VoxtralClient(key, base_url=sessions.base_url, max_retries=0) as client,
    ):
        yield sessions, client


def test_the_sync_client_mints_one_too_and_the_default_ttl_is_the_servers() -> None:
    with minting() as (sessions, client):
        token = client.create_realtime_token(V3)
    assert sessions.sent == [{"model": V3, "purpose": "realtime"}]
    assert token.value.get_secret_value().startswith("rt_")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"client_secret": {"expires_at": EXPIRES}}, id="no-value"),
        pytest.param({"client_secret": {"value": "rt_SECRET", "expires_at": "soon"}}, id="date"),
        pytest.param(["rt_SECRET"], id="not-an-object"),
    ],
)
def test_a_malformed_answer_is_an_error_that_never_quotes_it(body: Any) -> None:
    with minting(body) as (_, client), pytest.raises(APIResponseError) as caught:
        client.create_realtime_token(V3)
    assert "client session is malformed" in str(caught.value)
    assert "rt_SECRET" not in str(caught.value) and "rt_SECRET" not in repr(caught.value)


def test_a_refused_key_says_so_and_shows_no_key() -> None:
    with minting(key="wrong-key-0123456789") as (sessions, client):
        with pytest.raises(AuthenticationError) as caught:
            client.create_realtime_token(V3)
        assert sessions.sent == []
    assert "wrong-key-0123456789" not in str(caught.value)


@pytest.mark.parametrize("ttl", [0, -5, 1.5, True, "60"])
def test_a_bad_ttl_is_refused_before_sending(ttl: Any) -> None:
    with minting() as (sessions, client):
        with pytest.raises(InvalidInputError, match="ttl_seconds") as caught:
            client.create_realtime_token(V3, ttl_seconds=ttl)
        assert sessions.request_count == 0
    assert caught.value.argument == "ttl_seconds"


def test_vllm_has_no_tokens() -> None:
    started = time.monotonic()
    with (
        VoxtralClient(base_url="http://127.0.0.1:9/v1", backend="vllm") as client,
        pytest.raises(UnsupportedFeatureError),
    ):
        client.create_realtime_token(V3)
    assert time.monotonic() - started < 5  # refused before any connection attempt
