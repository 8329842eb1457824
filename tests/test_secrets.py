"""The API key and signed URLs never show: not in reprs, errors, logs or cassettes."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest
from conftest import CASSETTES, FAKE_API_KEY

from voxtral_integrations import AsyncVoxtralClient, SignedURL, VoxtralClient, VoxtralError

SIGNED = "https://files.example/audio/x.mp3?se=2026-12-01&sig=SIGNED-URL-TOKEN-SENTINEL"
SECRETS = (FAKE_API_KEY, "SIGNED-URL-TOKEN-SENTINEL")


def failing(status: int) -> httpx.MockTransport:
    message = f"File could not be fetched from url '{SIGNED}'"
    body = {"object": "error", "message": message, "type": "invalid_request_file", "code": "3310"}
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body))


def raising(error: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    "transport",
    [
        pytest.param(failing(400), id="400"),
        pytest.param(failing(401), id="401"),
        pytest.param(failing(503), id="503-after-retries"),
        pytest.param(raising(httpx.ConnectError(f"refused for {SIGNED}")), id="connect-error"),
        pytest.param(raising(httpx.ReadTimeout("slow")), id="timeout"),
    ],
)
def test_no_secret_in_errors_or_debug_logs(
    transport: httpx.MockTransport,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    client = VoxtralClient(api_key=FAKE_API_KEY, http_client=httpx.Client(transport=transport))
    with caplog.at_level(logging.DEBUG), pytest.raises(VoxtralError) as caught:
        client.transcribe(SIGNED)
    error = caught.value
    rendered = [
        str(error),
        repr(error),
        repr(vars(error)),
        *(r.getMessage() for r in caplog.records),
    ]
    rendered.append(repr(client))
    for secret in SECRETS:
        assert all(secret not in text for text in rendered), secret
    assert caplog.records, "the failing flow should have logged at DEBUG"


def test_the_server_echo_of_a_signed_url_is_redacted_in_the_error() -> None:
    client = VoxtralClient(api_key=FAKE_API_KEY, http_client=httpx.Client(transport=failing(400)))
    with pytest.raises(VoxtralError) as caught:
        client.transcribe(SIGNED)
    assert "https://files.example/audio/x.mp3?<redacted>" in str(caught.value)
    assert "SIGNED-URL-TOKEN-SENTINEL" not in repr(caught.value.body)  # type: ignore[attr-defined]


def test_clients_never_render_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    for client in (VoxtralClient(), AsyncVoxtralClient()):
        assert FAKE_API_KEY not in repr(client) and FAKE_API_KEY not in str(client)
    asyncio.run(AsyncVoxtralClient().close())


def test_a_signed_url_is_hidden_from_repr_and_str() -> None:
    signed = SignedURL(url=SIGNED)
    assert SIGNED not in repr(signed) and SIGNED not in str(signed)
    assert signed.url == SIGNED


def test_cassettes_hold_no_credentials() -> None:
    for path in Path(CASSETTES).rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert FAKE_API_KEY not in text and "Bearer " not in text, path
        assert "sig=" not in text or "sig=REDACTED" in text, path
