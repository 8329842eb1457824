"""What tests share besides fixtures: the repository's paths and the fake key."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CASSETTES = REPO / "cassettes"
BCN_WEATHER = REPO / "examples" / "data" / "bcn_weather.mp3"
FAKE_API_KEY = "sk-test-SENTINEL-0123456789abcdef"
"""The key replayed tests use; a sentinel the secret-scanning tests look for."""


def recording(config: pytest.Config) -> bool:
    return config.getoption("--record-mode") not in (None, "none")
