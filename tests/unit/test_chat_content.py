"""The chat content rules both adapters and the core share, as tables.

Pure: no PyAV, no sockets, no files."""

from __future__ import annotations

import ast
import base64
import json
import re
from collections.abc import Mapping
from typing import Any

import pytest

import voxtral_integrations
from voxtral_integrations import APIResponseError, ChatCompletion, InvalidInputError
from voxtral_integrations._chat_content import (
    ACCEPTED_AUDIO,
    DataURL,
    InlineAudio,
    accepted_format,
    api_tool_call,
    api_tool_call_id,
    api_tool_choice,
    arguments_text,
    audio_format,
    audio_string,
    audio_to_convert,
    base64_part,
    carries_inline_audio,
    chat_options,
    check_choices,
    check_fetchable,
    check_url_format,
    converted_part,
    looks_like_url,
    map_audio_parts,
    parse_data_url,
    parsed_arguments,
    received_tool_call_id,
    sniff_extension,
    sniff_format,
    tool_message,
    url_part,
)
from voxtral_integrations._constants import CHAT_AUDIO_FORMATS
from voxtral_integrations._dialects import dialect
from voxtral_integrations._models import FunctionCall

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00" + bytes(24)
MP3 = b"ID3\x04\x00\x00\x00\x00\x00#TSSE" + bytes(24)
M4A = b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00" + bytes(24)
UNKNOWN = b"not a container we know of, at all"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def part(input_audio: object) -> dict[str, Any]:
    return {"type": "input_audio", "input_audio": input_audio}


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        (None, None),
        ("", None),
        ("wav", "wav"),
        ("WAV", "wav"),
        (".wav", "wav"),
        ("audio/wav", "wav"),
        ("audio/x-wav", "wav"),
        ("audio/wave", "wav"),
        ("audio/vnd.wave", "wav"),
        ("x-wav", "wav"),  # OpenAI's object with a MIME subtype
        ("audio/mpeg", "mp3"),
        ("audio/mp3", "mp3"),  # what LangChain makes of OpenAI's "mp3"
        ("MPEG", "mp3"),
        ("audio/mpeg3", "mp3"),
        ("audio/x-mpeg-3", "mp3"),
        ("audio/x-flac", "flac"),
        ("audio/ogg; codecs=opus", "ogg"),
        ("opus", "ogg"),
        ("oga", "ogg"),
        ("audio/x-ogg", "ogg"),
        ("AUDIO/WEBM", "webm"),
        ("video/webm", "webm"),
        ("audio/mp4", "mp4"),  # not decoded by the endpoint: converted, under its own name
        ("audio/x-m4a", "x-m4a"),
        (".M4A", "m4a"),
    ],
)
def test_audio_format_names_what_a_format_suffix_or_mime_type_declares(
    declared: object, expected: str | None
) -> None:
    assert audio_format(declared) == expected


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("audio/x-wav", "wav"),
        ("mp3", "mp3"),
        ("audio/ogg; codecs=opus", "ogg"),
        ("audio/mp4", None),
        ("m4a", None),
        ("audio/aac", None),
        (None, None),
    ],
)
def test_accepted_format_is_none_for_what_the_endpoint_does_not_decode(
    declared: object, expected: str | None
) -> None:
    assert accepted_format(declared) == expected


def test_the_accepted_listing_names_each_decoded_format_once() -> None:
    assert ACCEPTED_AUDIO == "audio/wav, audio/mpeg (mp3), audio/flac, audio/ogg, audio/webm"
    assert all(accepted_format(name) == name for name in CHAT_AUDIO_FORMATS)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b64(WAV), "wav"),
        (b64(MP3), "mp3"),
        (b64(b"\xff\xfb\x90\x64" + bytes(20)), "mp3"),
        (b64(b"fLaC" + bytes(20)), "flac"),
        (b64(b"OggS" + bytes(20)), "ogg"),
        (b64(b"\x1a\x45\xdf\xa3" + bytes(20)), "webm"),
        (b64(M4A), "m4a"),
        (b64(UNKNOWN), None),
        ("", None),
        ("not base64 at all!", None),
    ],
)
def test_sniff_format_reads_the_first_bytes_of_base64(data: str, expected: str | None) -> None:
    assert sniff_format(data) == expected


def test_sniff_extension_needs_the_whole_wav_signature() -> None:
    assert sniff_extension(WAV[:12]) == ".wav"
    assert sniff_extension(WAV[:11]) is None


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("data:audio/wav;base64,UklGRg==", DataURL("audio/wav", "UklGRg==")),
        ("data:;base64,SUQz", DataURL(None, "SUQz")),  # RFC 2397: the type may be left out
        ("data:audio/ogg;codecs=opus;base64,T2dn", DataURL("audio/ogg", "T2dn")),
        ("DATA:audio/wav;BASE64,UklGRg==", DataURL("audio/wav", "UklGRg==")),
        ("data:audio/wav;base64,", DataURL("audio/wav", "")),  # empty: base64_part refuses it
        ("data:audio/wav,RIFF%00%00", None),  # percent-encoded, not base64
        ("https://example.com/a.wav", None),
        ("UklGRg==", None),
    ],
)
def test_parse_data_url(url: str, expected: DataURL | None) -> None:
    assert parse_data_url(url) == expected


@pytest.mark.parametrize(
    ("audio", "expected"),
    [
        (b64(WAV), False),
        ("https://example.com/a.wav", True),
        ("data:audio/wav;base64,UklGRg==", True),
        ("file:///tmp/a.wav", True),
        ("C:\\audio\\a.wav", True),
        ("/tmp/notes:v2.wav", True),
    ],
)
def test_base64_has_no_colon_so_a_colon_marks_a_url(audio: str, expected: bool) -> None:
    assert looks_like_url(audio) is expected


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.wav",
        "HTTP://example.com/a.wav",
        "https://files.example/a.mp3?sig=TOKEN",
        "data:audio/wav;base64,UklGRg==",
        "data:;base64,UklGRg==",
    ],
)
def test_check_fetchable_lets_http_and_base64_data_urls_pass(url: str) -> None:
    check_fetchable(url, "messages[0].content[0]", "send base64")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("file:///srv/audio/call.wav", "url='file:///srv/audio/call.wav'"),
        ("ftp://user:PASSWORD-SENTINEL@files.example/a.mp3", "ftp://<redacted>@files.example"),
        ("ftp://files.example/a.wav?sig=SECRET-TOKEN", "ftp://files.example/a.wav?<redacted>"),
        ("data:audio/wav,RIFF%00", "url='data:audio/wav,RIFF%00'"),
        ("javascript:alert(1)", "url='javascript:alert(1)'"),
        ("file:///" + "a" * 500, "url='file:///aaaa"),
    ],
)
def test_check_fetchable_refuses_what_the_server_cannot_take_naming_it_safely(
    url: str, shown: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_fetchable(url, "messages[0].content[1]", "send the audio as base64 data instead")
    message = str(caught.value)
    assert message.startswith("messages[0].content[1] has url=")
    assert shown in message and "cannot fetch" in message
    assert message.endswith("send the audio as base64 data instead.")
    assert "PASSWORD-SENTINEL" not in message and "SECRET-TOKEN" not in message
    assert len(message) < 400  # a URL is cut short: a data: URL may be megabytes
    assert caught.value.argument == "messages"


@pytest.mark.parametrize("declared", [None, "", "audio/mpeg", "mp3", "video/webm", "x-wav"])
def test_a_url_declaring_a_decoded_format_or_none_passes(declared: object) -> None:
    check_url_format(declared, "here", "advice")
    assert url_part("https://a.example/x", declared, "here", "advice") == part(
        "https://a.example/x"
    )


@pytest.mark.parametrize(
    ("declared", "named"),
    [
        ("audio/mp4", "Unsupported audio MIME type 'audio/mp4': a URL is fetched"),
        ("audio/x-m4a", "Unsupported audio MIME type 'audio/x-m4a'"),
        ("m4a", "Unsupported audio format 'm4a': a URL is fetched by the server as it is"),
    ],
)
def test_a_url_declaring_another_format_is_refused(declared: str, named: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        url_part("https://a.example/x", declared, "messages[2].content[0]", "pass `path=`")
    message = str(caught.value)
    assert named in message and ACCEPTED_AUDIO in message
    assert "(messages[2].content[0]); pass `path=`: other formats are then converted" in message


# --------------------------------------------------------------------------- parts


@pytest.mark.parametrize(
    "audio", [b64(WAV), "https://a.example/x.wav", "data:audio/wav;base64,UklGRg=="]
)
def test_audio_string_passes_base64_and_what_the_server_takes(audio: str) -> None:
    assert audio_string(audio) == audio


@pytest.mark.parametrize(
    ("audio", "named"),
    [
        ("", "needs audio"),
        ("   ", "needs audio"),
        (None, "needs audio"),
        ({"data": "AAAA"}, "needs audio"),
        ("file:///etc/passwd", "An `input_audio` content part has url='file:///etc/passwd'"),
        ("data:audio/wav,abc", "which the server cannot fetch"),
    ],
)
def test_audio_string_refuses_no_audio_and_what_the_server_cannot_take(
    audio: object, named: str
) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(named)):
        audio_string(audio)


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        ("UklGRg==", None, part("UklGRg==")),
        ("UklGRg==", "", part("UklGRg==")),
        ("UklGRg==", "audio/x-wav", part({"data": "UklGRg==", "format": "wav"})),
        ("SUQz", "MPEG", part({"data": "SUQz", "format": "mp3"})),
        ("AAAA", "audio/mp4", part({"data": "AAAA", "format": "mp4"})),
    ],
)
def test_base64_part(data: str, declared: object, expected: dict[str, Any]) -> None:
    assert base64_part(data, declared, "here") == expected


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"RIFF", "carries audio data of type bytes"),
        (None, "of type NoneType"),
        ("", "here holds empty audio data"),
        ("  \n", "here holds empty audio data"),
    ],
)
def test_base64_part_refuses_what_is_not_base64_text(data: object, named: str) -> None:
    with pytest.raises(InvalidInputError, match=named):
        base64_part(data, "wav", "here")


@pytest.mark.parametrize(
    ("input_audio", "expected"),
    [
        pytest.param(b64(WAV), None, id="accepted-bytes"),
        pytest.param({"data": b64(MP3), "format": "m4a"}, None, id="bytes-beat-the-label"),
        pytest.param(b64(UNKNOWN), None, id="nothing-known-sent-as-is"),
        pytest.param({"data": b64(UNKNOWN), "format": "wav"}, None, id="declared-accepted"),
        pytest.param("https://a.example/x.m4a", None, id="url-fetched-as-is"),
        pytest.param("file:///x.m4a", None, id="unfetchable-left-to-the-dialect"),
        pytest.param("data:audio/wav,abc", None, id="non-base64-data-url-left-to-the-dialect"),
        pytest.param("", None, id="empty"),
        pytest.param({"format": "m4a"}, None, id="no-data"),
        pytest.param(b64(M4A), InlineAudio(b64(M4A), M4A), id="sniffed-m4a"),
        pytest.param(
            {"data": b64(UNKNOWN), "format": "audio/aac"},
            InlineAudio(b64(UNKNOWN), UNKNOWN),
            id="declared-aac",
        ),
        pytest.param(
            f"data:audio/mp4;base64,{b64(UNKNOWN)}",
            InlineAudio(b64(UNKNOWN), UNKNOWN),
            id="data-url-declaring-mp4",
        ),
        pytest.param(f"data:;base64,{b64(M4A)}", InlineAudio(b64(M4A), M4A), id="data-url-m4a"),
    ],
)
def test_audio_to_convert_decides_which_inline_audio_is_converted(
    input_audio: object, expected: InlineAudio | None
) -> None:
    assert audio_to_convert(part(input_audio), "here") == expected


def test_audio_to_convert_refuses_invalid_base64_it_would_convert() -> None:
    with pytest.raises(InvalidInputError, match=r"The audio in messages\[0\].content\[1\] is not"):
        audio_to_convert(part({"data": "AA", "format": "aac"}), "messages[0].content[1]")


def test_converted_part_keeps_the_given_base64_when_the_converter_kept_the_bytes() -> None:
    inline = InlineAudio("AAAA", b"\x00\x00\x00")
    given = {**part("AAAA"), "extra": 1}
    assert converted_part(given, inline, inline.content, "wav") == {
        "type": "input_audio",
        "input_audio": {"data": "AAAA", "format": "wav"},
        "extra": 1,
    }
    assert converted_part(given, inline, b"fLaC", "flac")["input_audio"] == {
        "data": b64(b"fLaC"),
        "format": "flac",
    }


def test_map_audio_parts_changes_only_audio_parts_naming_each() -> None:
    seen: list[str] = []

    def change(audio: Mapping[str, Any], where: str) -> Mapping[str, Any]:
        seen.append(where)
        return {**audio, "changed": True}

    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": [{"type": "text", "text": "t"}, part("AAAA"), part("BBBB")]},
        {"role": "user", "content": [{"type": "text", "text": "only text"}]},
    ]
    mapped = map_audio_parts(messages, change)
    assert seen == ["messages[1].content[1]", "messages[1].content[2]"]
    assert mapped[0] is messages[0] and mapped[2] is messages[2]
    assert mapped[1]["content"][0] == {"type": "text", "text": "t"}
    assert mapped[1]["content"][1] == {**part("AAAA"), "changed": True}
    assert messages[1]["content"][1] == part("AAAA")  # the caller's messages are not changed


@pytest.mark.parametrize("messages", ["hi", {"role": "user"}, [], None])
def test_map_audio_parts_leaves_what_is_not_a_message_list_to_the_request_builder(
    messages: Any,
) -> None:
    assert map_audio_parts(messages, lambda audio, where: pytest.fail("called")) is messages


@pytest.mark.parametrize(
    ("input_audio", "expected"),
    [
        ("AAAA", True),
        ({"data": "AAAA", "format": "wav"}, True),
        ("data:audio/wav;base64,AAAA", True),
        ("https://a.example/x.wav", False),
        ({"url": "https://a.example/x.wav"}, False),
    ],
)
def test_carries_inline_audio(input_audio: object, expected: bool) -> None:
    assert carries_inline_audio([{"role": "user", "content": [part(input_audio)]}]) is expected


# --------------------------------------------------------------------------- tools


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("D681PevKs", True),
        ("abc123", False),
        ("call_Xy12abcDEF345", False),
        ("", False),
        (None, False),
        ("D681PevK!", False),
    ],
)
def test_api_tool_call_id_keeps_valid_ids_and_maps_others_stably(
    given: str | None, kept: bool
) -> None:
    mapped = api_tool_call_id(given)
    assert len(mapped) == 9 and mapped.isalnum()
    assert (mapped == given) is kept
    assert api_tool_call_id(given) == mapped


@pytest.mark.parametrize("given", ["D681PevKs", "call_abc", None, ""])
def test_received_tool_call_id_is_one_the_api_takes_back(given: str | None) -> None:
    received = received_tool_call_id(given)
    assert received == given if given else api_tool_call_id(received) == received


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"city": "Bcn"}', '{"city": "Bcn"}'),
        ('{"city": "Bc', '{"city": "Bc'),  # a streamed fragment is kept as it came
        ({"city": "Málaga"}, '{"city": "Málaga"}'),  # as written, not ASCII-escaped
        ({}, "{}"),
    ],
)
def test_arguments_text(arguments: str | dict[str, Any], expected: str) -> None:
    assert arguments_text(FunctionCall(name="f", arguments=arguments)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"city": "Bcn"}', {"city": "Bcn"}),
        ("", {}),
        ("  ", {}),
        ("[1, 2]", "the arguments are a JSON list, not an object"),
        ('"Bcn"', "the arguments are a JSON str, not an object"),
        ('{"city": "Bc', "Unterminated string starting at: line 1 column 10 (char 9)"),
        ("[" * 100_000, "maximum recursion depth exceeded"),  # a crash in both adapters before
    ],
)
def test_parsed_arguments_are_an_object_or_why_not(text: str, expected: object) -> None:
    parsed = parsed_arguments(text)
    if isinstance(expected, str):
        assert isinstance(parsed, str) and parsed.startswith(expected)
    else:
        assert parsed == expected


@pytest.mark.parametrize(
    ("call_id", "arguments", "expected"),
    [
        (
            "D681PevKs",
            {"city": "Málaga"},
            {
                "type": "function",
                "function": {"name": "get", "arguments": '{"city": "Málaga"}'},
                "id": "D681PevKs",
            },
        ),
        (
            "call_1",
            "{}",
            {
                "type": "function",
                "function": {"name": "get", "arguments": "{}"},
                "id": api_tool_call_id("call_1"),
            },
        ),
        (None, "", {"type": "function", "function": {"name": "get", "arguments": ""}}),
    ],
)
def test_api_tool_call(call_id: str | None, arguments: object, expected: dict[str, Any]) -> None:
    assert api_tool_call(call_id, "get", arguments) == expected


@pytest.mark.parametrize(
    ("call_id", "name", "expected"),
    [
        ("D681PevKs", "get", {"tool_call_id": "D681PevKs", "name": "get"}),
        ("call_1", None, {"tool_call_id": api_tool_call_id("call_1")}),
        ("", "", {"tool_call_id": api_tool_call_id("")}),
        (None, "get", {"name": "get"}),
    ],
)
def test_tool_message(call_id: str | None, name: str | None, expected: dict[str, Any]) -> None:
    assert tool_message("22 degrees", call_id, name) == {
        "role": "tool",
        "content": "22 degrees",
        **expected,
    }


@pytest.mark.parametrize(
    ("choice", "backend", "expected"),
    [
        ("auto", "mistral", "auto"),
        ("none", "vllm", "none"),
        ("any", "mistral", "any"),
        ("required", "mistral", "any"),
        ("any", "vllm", "required"),
        ("get", "mistral", {"type": "function", "function": {"name": "get"}}),
        (
            {"type": "function", "function": {"name": "x"}},
            "vllm",
            {"type": "function", "function": {"name": "x"}},
        ),
    ],
)
def test_api_tool_choice(choice: Any, backend: Any, expected: Any) -> None:
    assert api_tool_choice(choice, ["get"], dialect(backend).force_tool_choice) == expected


def test_api_tool_choice_names_the_tools_it_could_force() -> None:
    with pytest.raises(InvalidInputError, match=r"'put'.*\('get', 'set'\)") as caught:
        api_tool_choice("put", ["get", "set"], "any")
    assert caught.value.argument == "tool_choice"


def test_chat_options_puts_what_the_core_does_not_name_in_extra_body() -> None:
    given = {"model": None, "temperature": 0.2, "stop": ["x"], "random_seed": 1}
    assert chat_options(given, model="m", temperature=None, max_tokens=5) == {
        "model": "m",
        "tools": None,
        "tool_choice": None,
        "response_format": None,
        "temperature": 0.2,
        "max_tokens": 5,
        "extra_body": {"stop": ["x"], "random_seed": 1},
    }


def test_a_completion_without_choices_is_a_response_error() -> None:
    body = {"id": "c", "model": "m", "choices": [], "usage": {}}
    with pytest.raises(APIResponseError, match="no choices"):
        check_choices(ChatCompletion.model_validate(body))
    check_choices(ChatCompletion.model_validate({**body, "choices": [json.loads(CHOICE)]}))


CHOICE = '{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}'


def imported_modules(module: str) -> set[str]:
    """Every module ``voxtral_integrations/<module>.py`` imports (relative ones as ``_name``)."""
    path = voxtral_integrations.__file__.replace("__init__.py", f"{module}.py")
    with open(path, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_chat_content_is_pure_and_the_dialects_do_not_convert_audio() -> None:
    audio_modules = {"av", "_audio", "_audio_checks", "_audio_decode"}
    io_modules = {"httpx", "anyio", "os", "pathlib", "io", "_sources", "_client", *audio_modules}
    assert imported_modules("_chat_content") & io_modules == set()
    assert audio_modules & imported_modules("_dialects") == set()
    assert audio_modules & imported_modules("_chat_request") == set()
