"""Talk to ChatVoxtral with audio: ask about a recording, then let it call a tool.

    export MISTRAL_API_KEY=...
    python examples/langchain_chat_with_audio.py                 # bundled weather report
    python examples/langchain_chat_with_audio.py question.m4a

Audio goes in a LangChain standard content block; the model hears it directly
(no separate transcription step), and with tools bound it can act on what was
said. Any format works: what chat does not decode itself (m4a, aac, video...) is
converted to FLAC by the client before it is sent.
"""

from __future__ import annotations

import base64
import mimetypes
import sys
from pathlib import Path

from langchain_core.messages import HumanMessage
from langchain_core.tools import tool

from voxtral_integrations.langchain import ChatVoxtral

BUNDLED = Path(__file__).resolve().parent / "data" / "bcn_weather.mp3"


@tool
def get_weather(city: str) -> str:
    """The current temperature in a city."""
    return f"It is 21 degrees in {city}."


def audio_message(path: Path, prompt: str) -> HumanMessage:
    mime_type, _ = mimetypes.guess_type(path.name)  # .m4a: audio/mp4, converted before sending
    audio = {
        "type": "audio",
        "base64": base64.b64encode(path.read_bytes()).decode(),
        "mime_type": mime_type or "application/octet-stream",
    }
    return HumanMessage(content=[audio, {"type": "text", "text": prompt}])


def main(argv: list[str]) -> int:
    audio = Path(argv[0]) if argv else BUNDLED
    with ChatVoxtral() as model:  # releases its connections at the end
        summary = model.invoke([audio_message(audio, "What is this recording about?")])
        print(f"About the recording: {summary.content}")

        with_tools = model.bind_tools([get_weather], tool_choice="any")
        request = with_tools.invoke(
            [audio_message(audio, "Check the weather now in the city the recording mentions.")]
        )
    for call in request.tool_calls:
        print(f"Tool call: {call['name']}({call['args']}) -> {get_weather.invoke(call['args'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
