"""Construct the cassettes of LangChain's standard integration suite (``test_integration``).

Run from the repository root::

    python tests/build_integration_cassettes.py

No live Mistral API is reachable where this project is built, so the cassettes are
*constructed*: this script runs ``tests/langchain/test_integration.py`` exactly as a
live re-recording would (pytest-recording, ``--record-mode=rewrite``, the project's
scrubbing and canonical request bodies), except that the network behind vcrpy is
replaced by :class:`StandIn`, a scripted stand-in for the two hosts the suite talks to:

* ``POST https://api.mistral.ai/v1/chat/completions``: answers in the documented
  ``ChatCompletionResponse`` shape, or as a ``CompletionChunk`` stream ending in
  ``data: [DONE]`` with usage on the last chunk. Its rules are simple and stated
  here: a forced ``tool_choice`` (or ``auto`` with a user message last) gives one tool
  call whose arguments follow the bound tool's schema and the prompt; a
  ``response_format`` gives the JSON asked for; otherwise the last message gets the
  scripted answer from :data:`ANSWERS` (an unknown prompt stops the build rather than
  invent one); ``stop`` cuts the text; usage is a rough count (about 4 characters a
  token, 12.5 tokens a second of audio). Requests Mistral refuses (a ``user`` after a
  ``tool`` message, a ``system`` message after the start, an assistant message last, a
  tool call id that is not 9 letters or digits) get Mistral's 400 error instead.
* ``GET https://upload.wikimedia.org/.../Northern_Flicker_202280456.wav`` (the
  suite's audio download): answered with :func:`constructed_wav`, a 0.6 s synthetic
  chirp made here. The real recording is not fetched; a live re-recording stores it.

Every cassette so made is labelled "constructed by a scripted stand-in, not recorded"
in ``cassettes/README.md``. Re-record them live with::

    MISTRAL_API_KEY=your-key python -m pytest tests/langchain/test_integration.py \
        --record-mode=rewrite
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import math
import os
import re
import shutil
import struct
import sys
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TEST_FILE = HERE / "langchain" / "test_integration.py"
CASSETTE_DIR = REPO / "cassettes" / "test_integration"
PLACEHOLDER_KEY = "sk-constructed-cassette"
"""What the suite sends as its key while constructing (scrubbed from every cassette)."""

CHAT_URL = "https://api.mistral.ai/v1/chat/completions"
AUDIO_URL = "https://upload.wikimedia.org/wikipedia/commons/6/6a/Northern_Flicker_202280456.wav"
CREATED = 1763700000
MODEL_IDS = {
    "voxtral-small-latest": "voxtral-small-2507",
    "voxtral-mini-latest": "voxtral-mini-2507",
}
"""Aliases as the answer's ``model`` names them (dated ids, like the documented answers)."""
AUDIO_TOKENS_PER_SECOND = 12.5


class StandInError(AssertionError):
    """The stand-in has no scripted answer: extend the script, do not invent one here."""


# --------------------------------------------------------------------------- the audio


def constructed_wav() -> bytes:
    """0.6 s, 8 kHz, 16-bit mono: two downward chirps (3.2 -> 1.6 kHz), then silence.

    Stands in for the suite's Northern Flicker recording, which is not fetched here.
    """
    rate, frames = 8000, bytearray()
    phase = 0.0
    for index in range(int(rate * 0.6)):
        t = index / rate
        within = t % 0.25  # a 0.15 s chirp every 0.25 s, for the first 0.5 s
        if t < 0.5 and within < 0.15:
            frequency = 3200.0 - 1600.0 * within / 0.15
            envelope = math.sin(math.pi * within / 0.15)
        else:
            frequency, envelope = 0.0, 0.0
        phase += 2 * math.pi * frequency / rate
        frames += struct.pack("<h", round(12000 * envelope * math.sin(phase)))
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(frames))
    return out.getvalue()


def _audio_seconds(parts: list[Any]) -> float:
    seconds = 0.0
    for part in parts:
        if not (isinstance(part, dict) and part.get("type") == "input_audio"):
            continue
        audio = part["input_audio"]
        try:
            data = base64.b64decode(audio, validate=True)
            with wave.open(io.BytesIO(data), "rb") as reader:
                seconds += reader.getnframes() / reader.getframerate()
        except (binascii.Error, wave.Error, EOFError) as exc:
            raise StandInError(f"the stand-in hears only base64 WAV audio: {exc}") from exc
    return seconds


# --------------------------------------------------------------------------- scripted answers

JOKE = {
    "setup": "Why did the cat sit on the computer?",
    "punchline": "To keep an eye on the mouse!",
}
HAIKUS = (
    "Morning light spills in\n"
    "a cat stretches on the sill\n"
    "dust motes drift and fall\n\n"
    "Rain taps the window\n"
    "tea steam curls above the cup\n"
    "the long day slows down"
)
CHIRP = (
    "The clip is short and has no speech: two quick high-pitched chirps, each sweeping "
    "downward in pitch, like a bird call, followed by a moment of silence."
)
STORY = (
    "Miso was a small grey cat who lived above a bakery. Every morning she watched the "
    "baker knead the dough from the top of the flour sacks, and every morning she waited "
    "for the first warm crust to fall. One day it did not fall, so Miso jumped down, "
    "tapped the baker's hand with her paw, and from then on she had a crust of her own "
    "every morning, on a saucer by the oven."
)
ANSWERS: dict[str, str] = {
    "hello": "Hello! How can I help you today?",
    "hey": "Hey there! What can I do for you today?",
    "hi": "Hi! How can I help you today?",
    "how are you": "I'm doing well, thank you for asking! How can I help you today?",
    "write me 2 haikus. only include the haikus.": HAIKUS,
    "describe this audio:": CHIRP,
    "write a story about a cat.": STORY,
}
"""The answer to a user message (lower case, trimmed), when no tool is called."""

TOOL_RESULT_ANSWERS: list[tuple[str, str]] = [
    ("error:", "The tool call failed because the argument b was missing. 1 + 2 = 3."),
    ('"result": 3', "1 + 2 = 3."),
    ("sunny", "It's sunny in San Francisco, CA."),
]
"""The answer after a tool message, by what the tool message contains."""

STRING_ARGUMENTS: dict[str, Callable[[str], str | None]] = {
    "location": lambda prompt: _match(r"\bin ([^?]+)\?", prompt),
    "answer_style": lambda prompt: _match(r"generate an? (\w+) greeting", prompt),
    "customer_name": lambda prompt: _match(r"'([^']+)'", prompt),
    "description": lambda prompt: _match(r" - (.+)$", prompt),
    "setup": lambda prompt: JOKE["setup"],
    "punchline": lambda prompt: JOKE["punchline"],
}
"""A string argument of a tool call, by property name, from the prompt."""


def _match(pattern: str, text: str) -> str | None:
    found = re.search(pattern, text, flags=re.IGNORECASE)
    return found.group(1).strip() if found else None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if isinstance(part, dict)).strip()


def _arguments(function: dict[str, Any], prompt: str) -> dict[str, Any]:
    """Arguments satisfying the tool's JSON schema, taken from the prompt."""
    schema = function.get("parameters") or {}
    required = set(schema.get("required", []))
    numbers = [int(n) for n in re.findall(r"-?\d+", prompt)]
    arguments: dict[str, Any] = {}
    for name, spec in schema.get("properties", {}).items():
        if name not in required and re.search(rf"\bno {re.escape(name)}\b", prompt, re.I):
            continue  # an optional field the prompt asks to leave out
        if spec.get("type") == "integer":
            arguments[name] = numbers.pop(0) if numbers else 0
            continue
        value = STRING_ARGUMENTS[name](prompt) if name in STRING_ARGUMENTS else None
        if value is None:
            raise StandInError(f"no scripted value for argument {name!r} of {function['name']}")
        arguments[name] = value
    return arguments


def _chosen_tool(tools: list[dict[str, Any]], choice: Any, prompt: str) -> dict[str, Any]:
    functions: list[dict[str, Any]] = [tool["function"] for tool in tools]
    if isinstance(choice, dict):
        wanted = choice["function"]["name"]
        return next(f for f in functions if f["name"] == wanted)
    named = [f for f in functions if f["name"] in prompt]
    return (named or functions)[0]


def _reply(body: dict[str, Any], digest: str) -> tuple[dict[str, Any], str]:
    """The assistant message and finish reason for a chat request."""
    messages = body["messages"]
    last = messages[-1]
    prompt = _text(last.get("content")) if last["role"] == "user" else ""
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or "auto"
    forced = choice in ("any", "required") or isinstance(choice, dict)
    if tools and choice != "none" and (forced or last["role"] == "user"):
        function = _chosen_tool(tools, choice, prompt)
        call = {
            "id": _call_id(digest),
            "type": "function",
            "function": {
                "name": function["name"],
                "arguments": json.dumps(_arguments(function, prompt), ensure_ascii=False),
            },
        }
        return {"role": "assistant", "content": "", "tool_calls": [call]}, "tool_calls"
    response_format = (body.get("response_format") or {}).get("type")
    if response_format in ("json_object", "json_schema"):
        return {"role": "assistant", "content": json.dumps(JOKE), "tool_calls": None}, "stop"
    if last["role"] == "tool":
        prompt = _text(last.get("content"))
        text = next((a for key, a in TOOL_RESULT_ANSWERS if key in prompt.lower()), None)
    else:
        text = ANSWERS.get(prompt.lower())
    if text is None:
        raise StandInError(f"no scripted answer for the {last['role']} message {prompt!r}")
    stops = body.get("stop") or []
    for stop in [stops] if isinstance(stops, str) else stops:
        text = text.split(stop, 1)[0]
    return {"role": "assistant", "content": text, "tool_calls": None}, "stop"


def _call_id(digest: str) -> str:
    """A tool call id in Mistral's form (9 letters or digits), fixed for a request."""
    letters = re.sub(r"[^A-Za-z0-9]", "", base64.b64encode(bytes.fromhex(digest)).decode())
    return letters[:9]


# --------------------------------------------------------------------------- Mistral's rules


def _refusal(body: dict[str, Any]) -> dict[str, Any] | None:
    """Mistral's 400 answer for a message list it refuses, else ``None``."""
    previous = None
    call_ids: set[str] = set()
    for message in body["messages"]:
        role = message["role"]
        if role == "system" and previous not in (None, "system"):
            return _order_error(f"Unexpected role 'system' after role '{previous}'")
        if role == "user" and previous == "tool":
            return _order_error("Unexpected role 'user' after role 'tool'")
        for call in message.get("tool_calls") or []:
            call_ids.add(call.get("id", ""))
        ids = [call.get("id", "") for call in message.get("tool_calls") or []]
        if role == "tool":
            ids.append(message.get("tool_call_id", ""))
        for call_id in ids:
            if not re.fullmatch(r"[a-zA-Z0-9]{9}", call_id):
                return _request_error(
                    f"Tool call id was {call_id} but must be a-z, A-Z, 0-9, with a length of 9."
                )
        if role == "tool" and message.get("tool_call_id") not in call_ids:
            return _request_error("Tool message refers to an unknown tool call id.")
        previous = role
    if previous not in ("user", "tool"):
        return _request_error(
            f"Expected last role User or Tool (or Assistant with prefix True) for serving "
            f"but got {previous}"
        )
    return None


def _order_error(message: str) -> dict[str, Any]:
    return {
        "object": "error",
        "message": message,
        "type": "invalid_request_message_order",
        "param": None,
        "code": "3230",
    }


def _request_error(message: str) -> dict[str, Any]:
    return {
        "object": "error",
        "message": message,
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


# --------------------------------------------------------------------------- answers on the wire


def _usage(body: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    parts = [
        part
        for m in body["messages"]
        if isinstance(m.get("content"), list)
        for part in m["content"]
    ]
    seconds = _audio_seconds(parts)
    text_in = json.dumps(
        [_text(m.get("content")) for m in body["messages"]] + [body.get("tools") or []]
    )
    prompt_tokens = 5 * len(body["messages"]) + len(text_in) // 4
    prompt_tokens += math.ceil(seconds * AUDIO_TOKENS_PER_SECOND)
    text_out = message["content"] or json.dumps(message.get("tool_calls"))
    completion_tokens = max(1, math.ceil(len(text_out) / 4))
    if body.get("max_tokens") is not None and completion_tokens > body["max_tokens"]:
        raise StandInError("a scripted answer is longer than the request's max_tokens")
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if seconds:
        usage["prompt_audio_seconds"] = math.ceil(seconds)
    return usage


def _pieces(text: str) -> list[str]:
    """Text as a model streams it: a few words per chunk."""
    words = re.findall(r"\S+\s*|\s+", text)
    return ["".join(words[i : i + 3]) for i in range(0, len(words), 3)] or [""]


def _chat_answer(body: dict[str, Any], digest: str) -> httpx.Response:
    if (refusal := _refusal(body)) is not None:
        return httpx.Response(400, json=refusal)
    message, finish_reason = _reply(body, digest)
    usage = _usage(body, message)
    model = MODEL_IDS.get(body["model"], body["model"])
    if not body.get("stream"):
        choice = {"index": 0, "message": message, "finish_reason": finish_reason}
        completion = {
            "id": digest[:32],
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "choices": [choice],
            "usage": usage,
        }
        return httpx.Response(200, json=completion)
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    if message["tool_calls"]:
        deltas.append({"tool_calls": [{**call, "index": 0} for call in message["tool_calls"]]})
    else:
        deltas.extend({"content": piece} for piece in _pieces(message["content"]))
    chunks = []
    for position, delta in enumerate(deltas, start=1):
        choice = {"index": 0, "delta": delta, "finish_reason": None}
        chunk = {
            "id": digest[:32],
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [choice],
        }
        if position == len(deltas):
            choice["finish_reason"] = finish_reason
            chunk["usage"] = usage
        chunks.append(chunk)
    frames = "".join(f"data: {_compact(chunk)}\n\n" for chunk in chunks)
    return httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=f"{frames}data: [DONE]\n\n"
    )


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class StandIn:
    """The network behind vcrpy while constructing: scripted answers, no sockets."""

    def __init__(self) -> None:
        self.answered: list[str] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if request.method == "GET" and url == AUDIO_URL:
            response = httpx.Response(
                200, headers={"content-type": "audio/wav"}, content=constructed_wav()
            )
        elif request.method == "POST" and url == CHAT_URL:
            content = request.read()
            digest = hashlib.sha256(content).hexdigest()
            response = _chat_answer(json.loads(content), digest)
        else:
            raise StandInError(f"no scripted answer for {request.method} {url}")
        self.answered.append(f"{request.method} {url} -> {response.status_code}")
        return response

    # A pytest plugin: the transports vcrpy calls to record become the stand-in.

    def pytest_configure(self, config: pytest.Config) -> None:
        import vcr.patch

        def handle(transport: Any, request: httpx.Request) -> httpx.Response:
            return self.answer(request)

        async def handle_async(transport: Any, request: httpx.Request) -> httpx.Response:
            await request.aread()
            return self.answer(request)

        vcr.patch._HttpxHttpTransport_handle_request = handle
        vcr.patch._HttpxAsyncHttpTransport_handle_async_request = handle_async


def main() -> int:
    os.chdir(REPO)
    os.environ["MISTRAL_API_KEY"] = PLACEHOLDER_KEY  # recording needs a key; it is scrubbed
    shutil.rmtree(CASSETTE_DIR, ignore_errors=True)
    stand_in = StandIn()
    args = [
        str(TEST_FILE.relative_to(REPO)),
        "--record-mode=rewrite",
        "--disable-socket",  # nothing may leave this process (pytest-socket)
        "--allow-unix-socket",  # asyncio's event loop wakes itself through a socketpair
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    code = pytest.main(args, plugins=[stand_in])
    written = sorted(CASSETTE_DIR.glob("*.yaml"))
    size = sum(path.stat().st_size for path in written)
    print(  # noqa: T201
        f"{len(stand_in.answered)} requests answered; {len(written)} cassettes, "
        f"{size / 1024:.0f} KiB in {CASSETTE_DIR.relative_to(REPO)}"
    )
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
