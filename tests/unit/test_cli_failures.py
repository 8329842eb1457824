"""What ``voxtral transcribe`` says of its failures: a rerun is advised only where it can
pass, for failures of the server or the network, not of the input."""

from __future__ import annotations

import pytest

from voxtral_integrations import (
    APIConnectionError,
    APITimeoutError,
    AudioError,
    IncompleteTranscriptionError,
    InvalidInputError,
    VoxtralError,
)
from voxtral_integrations._responses import status_error
from voxtral_integrations.cli._commands import _failures, _may_pass_again
from voxtral_integrations.cli._summary import Tally

URL = "https://api.mistral.ai/v1/audio/transcriptions"


def _status(code: int) -> VoxtralError:
    return status_error(method="POST", url=URL, status_code=code, headers={}, content=b"{}")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (AudioError("'a.mp3' is not audio", source="a.mp3"), False),
        (InvalidInputError("`language` ...", argument="language"), False),
        (_status(400), False),
        (_status(401), False),
        (_status(413), False),
        (_status(429), True),
        (_status(500), True),
        (_status(503), True),
        (APIConnectionError("refused", method="POST", url=URL), True),
        (APITimeoutError("read timeout", method="POST", url=URL), True),
        (IncompleteTranscriptionError("chunk 2", source="a", failed={}, partial=None), True),
    ],
)
def test_a_failure_may_pass_again_only_if_the_server_or_network_caused_it(
    error: VoxtralError, transient: bool
) -> None:
    assert _may_pass_again(error) is transient


@pytest.mark.parametrize(
    ("failed", "transient", "skipping", "said"),
    [
        (
            2,
            0,
            True,
            "2 inputs failed (named above); the same inputs would fail again: fix or remove them",
        ),
        (1, 1, False, "1 input failed (named above); run the same command again to retry them"),
        (
            2,
            2,
            True,
            "2 inputs failed (named above); run the same command again to retry "
            "them (finished outputs are skipped)",
        ),
        (
            3,
            1,
            False,
            "3 inputs failed (named above); run the same command again to retry "
            "the 1 the server or the network failed",
        ),
    ],
)
def test_the_advice_fits_what_failed(
    failed: int, transient: int, skipping: bool, said: str
) -> None:
    assert _failures(Tally(failed=failed, transient=transient), skipping=skipping) == said
