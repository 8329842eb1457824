"""Transcribe a recording and print each segment with its time.

export MISTRAL_API_KEY=...
python examples/transcribe_file.py                      # the bundled weather report
python examples/transcribe_file.py meeting.mp3          # any path
python examples/transcribe_file.py https://docs.mistral.ai/audio/obama.mp3
"""

from __future__ import annotations

import sys
from pathlib import Path

from voxtral_integrations import VoxtralClient, VoxtralError

BUNDLED = Path(__file__).resolve().parent / "data" / "bcn_weather.mp3"


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--:--.-"
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours:02d}:{minutes:02d}:{rest:04.1f}"


def main(argv: list[str]) -> int:
    audio = argv[0] if argv else str(BUNDLED)
    try:
        with VoxtralClient() as client:
            result = client.transcribe(audio, timestamp_granularities=["segment"])
    except VoxtralError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for segment in result.segments:
        print(f"[{clock(segment.start)} - {clock(segment.end)}] {segment.text.strip()}")
    if not result.segments:
        print(result.text)
    print(f"\n{result.usage.prompt_audio_seconds or 0:.0f} s of audio, model {result.model}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
