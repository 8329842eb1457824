"""The decision table of one request's attempts (``_attempt.Attempt``): pure, no sockets.

Each row drives one :class:`Attempt` through what happened at each attempt, as the
send loops in ``_transport`` report it, and pins what it decides: wait this long and
send again, raise this, or done. The pace's clock moves by the waits, as in a loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from voxtral_integrations import (
    APIConnectionError,
    APIResponseError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    UnprocessableEntityError,
    _pacing,
)
from voxtral_integrations._attempt import Attempt, Done, Fail, Wait, without_key
from voxtral_integrations._constants import (
    INITIAL_RETRY_DELAY,
    MAX_FREE_RATE_LIMIT_RETRIES,
    MAX_RETRY_AFTER,
    PACE_POLL_SECONDS,
)
from voxtral_integrations._pacing import Pace
from voxtral_integrations._requests import RequestSpec
from voxtral_integrations._retry import RetryPolicy

BASE_URL = "https://api.mistral.ai/v1"
PATH = "/audio/transcriptions"
KEY = "sk-test-SENTINEL-0123456789abcdef"
TRANSCRIPTION = RequestSpec("POST", PATH, transient_not_found=True)  # an upload or a URL
OTHER = RequestSpec("POST", PATH)  # a file id, vLLM, or any other endpoint
STREAM = RequestSpec("POST", PATH, stream=True)

Outcome = Callable[[Attempt], Any]
"""What happened at one attempt, reported to ``attempt`` as a send loop reports it."""


def answer(status: int, body: bytes = b'{"message": "no"}', **headers: str) -> Outcome:
    """A response with ``status``; a 2xx is read and parsed."""

    def report(attempt: Attempt) -> Any:
        response = httpx.Response(
            status, headers=headers, content=body, request=httpx.Request("POST", BASE_URL + PATH)
        )
        attempt.arrived(response, 0.01)
        if response.is_success:
            return attempt.done("parsed")
        return attempt.after_status(response)

    return report


def failed(exc: httpx.RequestError) -> Outcome:
    """No response: ``exc`` was raised by the send or the body's read."""
    return lambda attempt: attempt.after_transport_error(exc)


def unusable(body: bytes, problem: type[APIResponseError] = APIResponseError) -> Outcome:
    """A 200 whose body (or first event) could not be used."""

    def report(attempt: Attempt) -> Any:
        response = httpx.Response(200, content=body, request=httpx.Request("POST", BASE_URL))
        attempt.arrived(response, 0.01)
        if problem is IncompleteStreamError:
            error: APIResponseError = IncompleteStreamError(
                "ended before its final event", method="POST", url=BASE_URL, received=[]
            )
        else:
            error = problem("The transcription is malformed", method="POST", url=BASE_URL)
        return attempt.after_body(error, response)

    return report


OK = answer(200, b'{"text": "hi"}')
CUT = unusable(b'{"text": "hello wor')
HTML = unusable(b"<html>gateway</html>")
EMPTY_STREAM = unusable(b"", IncompleteStreamError)


def backoff(retries_done: int) -> tuple[float, float]:
    """The range of a backoff wait after ``retries_done`` retries (up to 25% jitter off)."""
    base = INITIAL_RETRY_DELAY * 2.0**retries_done
    return (0.75 * base, base)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    moment = [1000.0]
    monkeypatch.setattr(_pacing, "now", lambda: moment[0])
    return moment


def drive(
    clock: list[float],
    outcomes: list[Outcome],
    *,
    spec: RequestSpec = TRANSCRIPTION,
    max_retries: int = 2,
    resend_cut_short: bool = False,
    pace: Pace | None = None,
) -> list[Any]:
    """Each attempt's decision, in the table's terms: a wait in seconds, ``"done"``, or
    the class of the error to raise (and the error itself, last)."""
    attempt = Attempt(
        spec,
        base_url=BASE_URL,
        policy=RetryPolicy(max_retries),
        pace=pace or Pace(),
        secret=KEY,
        resend_cut_short=resend_cut_short,
    )
    shown: list[Any] = []
    for outcome in outcomes:
        while (wait := attempt.turn()) > 0:  # the pace's hold: the loop sleeps it out
            clock[0] += wait
        decision = outcome(attempt)
        attempt.release()
        if isinstance(decision, Done):
            return [*shown, "done"]
        if isinstance(decision, Fail):
            return [*shown, type(decision.error), decision.error]
        assert isinstance(decision, Wait)
        shown.append(decision.seconds)
        clock[0] += decision.seconds
    return shown


def matches(decisions: list[Any], expected: list[Any]) -> bool:
    """``expected`` with a backoff range standing for any wait within it."""
    if expected and isinstance(expected[-1], type):
        decisions = decisions[:-1]  # the error itself is checked by the rows that need it
    if len(decisions) != len(expected):
        return False
    for got, want in zip(decisions, expected, strict=True):
        if isinstance(want, tuple):
            if not (isinstance(got, float) and want[0] <= got <= want[1]):
                return False
        elif isinstance(want, float):
            if not (isinstance(got, float) and math.isclose(got, want)):
                return False
        elif got != want:
            return False
    return True


B0, B1 = backoff(0), backoff(1)

TABLE = [
    # ---- statuses
    pytest.param([OK], {}, ["done"], id="2xx-done"),
    pytest.param([answer(503), OK], {}, [B0, "done"], id="503-then-ok"),
    pytest.param(
        [answer(500), answer(502), answer(504)], {}, [B0, B1, InternalServerError], id="5xx-used-up"
    ),
    pytest.param([answer(504)], {"max_retries": 0}, [InternalServerError], id="max-retries-0"),
    pytest.param([answer(429), OK], {}, [B0, "done"], id="429-backoff-then-ok"),
    pytest.param([answer(400)], {}, [BadRequestError], id="400-raised"),
    pytest.param([answer(401)], {}, [AuthenticationError], id="401-raised"),
    pytest.param([answer(403)], {}, [PermissionDeniedError], id="403-raised"),
    pytest.param([answer(413)], {}, [RequestTooLargeError], id="413-raised"),
    pytest.param([answer(422)], {}, [UnprocessableEntityError], id="422-raised"),
    pytest.param([answer(501)], {}, [InternalServerError], id="501-raised"),
    # ---- Retry-After: honoured exactly, in every form; beyond the cap it ends the call
    pytest.param([answer(429, **{"Retry-After": "7"}), OK], {}, [7.0, "done"], id="seconds"),
    pytest.param(
        [answer(503, **{"retry-after-ms": "1500"}), OK], {}, [1.5, "done"], id="retry-after-ms"
    ),
    pytest.param(
        [answer(429, **{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), OK],
        {},
        [0.0, "done"],
        id="http-date-past",
    ),
    pytest.param(
        [answer(503, **{"Retry-After": "Fri, 31 Dec 2999 23:59:59 GMT"})],
        {},
        [InternalServerError],
        id="http-date-beyond-cap",
    ),
    pytest.param(
        [answer(429, **{"Retry-After": str(MAX_RETRY_AFTER)}), OK],
        {},
        [MAX_RETRY_AFTER, "done"],
        id="at-the-cap",
    ),
    pytest.param(
        [answer(429, **{"Retry-After": "3600"})], {}, [RateLimitError], id="beyond-cap-raised"
    ),
    pytest.param(
        [answer(503, **{"Retry-After": "1"})] * 3,
        {},
        [1.0, 1.0, InternalServerError],
        id="retry-after-within-max-retries",
    ),
    # ---- the Mistral-transcription 404: once, and only where it cannot mean "missing"
    pytest.param([answer(404), OK], {}, [B0, "done"], id="404-once"),
    pytest.param([answer(404), answer(404)], {}, [B0, NotFoundError], id="second-404-raised"),
    pytest.param(
        [answer(404), answer(503), answer(404)],
        {"max_retries": 5},
        [B0, B1, NotFoundError],
        id="404-once-per-request",
    ),
    pytest.param([answer(404)], {"spec": OTHER}, [NotFoundError], id="404-elsewhere-raised"),
    pytest.param([answer(404)], {"max_retries": 0}, [NotFoundError], id="404-max-retries-0"),
    # ---- transport
    pytest.param(
        [failed(httpx.ConnectError("refused")), failed(httpx.ReadError("reset")), OK],
        {},
        [B0, B1, "done"],
        id="connection-errors-then-ok",
    ),
    pytest.param(
        [failed(httpx.ConnectError("refused"))] * 3,
        {},
        [B0, B1, APIConnectionError],
        id="connection-used-up",
    ),
    pytest.param(
        [failed(httpx.ReadTimeout("slow"))] * 3, {}, [B0, B1, APITimeoutError], id="timeout-used-up"
    ),
    pytest.param(
        [failed(httpx.LocalProtocolError("bad header"))],
        {},
        [APIConnectionError],
        id="refused-by-httpx",
    ),
    pytest.param(
        [failed(httpx.UnsupportedProtocol("gopher"))], {}, [APIConnectionError], id="bad-protocol"
    ),
    pytest.param(
        [failed(httpx.TooManyRedirects("loop"))], {}, [APIConnectionError], id="redirect-loop"
    ),
    # ---- a 200 whose JSON is cut short: once, for a transcription
    pytest.param([CUT, OK], {"resend_cut_short": True}, [B0, "done"], id="cut-short-once"),
    pytest.param(
        [CUT, CUT], {"resend_cut_short": True}, [B0, APIResponseError], id="second-cut-raised"
    ),
    pytest.param([CUT], {}, [APIResponseError], id="cut-short-not-a-transcription"),
    pytest.param(
        [CUT], {"resend_cut_short": True, "max_retries": 0}, [APIResponseError], id="cut-no-retries"
    ),
    pytest.param(
        [answer(503), CUT, OK],
        {"resend_cut_short": True},
        [B0, B1, "done"],
        id="cut-short-within-max-retries",
    ),
    pytest.param([HTML], {"resend_cut_short": True}, [APIResponseError], id="malformed-raised"),
    # ---- a stream that ends before its first event: like a failed connection
    pytest.param([EMPTY_STREAM, OK], {"spec": STREAM}, [B0, "done"], id="empty-stream-again"),
    pytest.param(
        [EMPTY_STREAM] * 3,
        {"spec": STREAM},
        [B0, B1, IncompleteStreamError],
        id="empty-stream-used-up",
    ),
    pytest.param(
        [EMPTY_STREAM], {"spec": STREAM, "max_retries": 0}, [IncompleteStreamError], id="no-retries"
    ),
]


@pytest.mark.parametrize(("outcomes", "settings", "expected"), TABLE)
def test_the_decision_table(
    clock: list[float], outcomes: list[Outcome], settings: dict[str, Any], expected: list[Any]
) -> None:
    decisions = drive(clock, outcomes, **settings)
    assert matches(decisions, expected), decisions


def test_a_retry_after_beyond_the_cap_is_raised_carrying_it(clock: list[float]) -> None:
    *_, error = drive(clock, [answer(429, **{"Retry-After": "3600"})])
    assert isinstance(error, RateLimitError) and error.retry_after == 3600


def test_an_error_names_the_attempts_and_its_cause(clock: list[float]) -> None:
    reset = httpx.ConnectError("refused")
    *_, error = drive(clock, [failed(reset)] * 3)
    assert "after 3 attempts" in str(error) and error.__cause__ is reset
    *_, single = drive(clock, [failed(httpx.ReadTimeout("slow"))], max_retries=0)
    assert "after 1 attempt." in str(single)
    *_, gave_up = drive(clock, [EMPTY_STREAM] * 2, spec=STREAM, max_retries=1)
    assert str(gave_up).startswith("Gave up after 2 attempts")
    assert isinstance(gave_up.__cause__, IncompleteStreamError)
    *_, first = drive(clock, [EMPTY_STREAM], spec=STREAM, max_retries=0)
    assert first.__cause__ is None and "Gave up" not in str(first)


def test_an_echoed_key_is_blanked_from_the_status_error(clock: list[float]) -> None:
    *_, error = drive(clock, [answer(401, f'{{"message": "bad key {KEY}"}}'.encode())])
    assert KEY not in str(error) and "<redacted>" in str(error)
    assert without_key(b"EMPTY", "EMPTY") == b"EMPTY"  # a placeholder is no secret


# --------------------------------------------------------------------------- the pace


def test_a_429_holds_every_request_and_narrows_the_window(clock: list[float]) -> None:
    pace = Pace()
    others = [pace.admit() for _ in range(7)]  # seven other requests in flight
    attempt = Attempt(TRANSCRIPTION, base_url=BASE_URL, policy=RetryPolicy(2), pace=pace)
    assert others == [0.0] * 7 and attempt.turn() == 0.0
    decision = answer(429, **{"Retry-After": "4"})(attempt)
    attempt.release()
    assert decision == Wait(4.0)
    assert pace.window == 4  # half of the eight in flight when it came
    assert attempt.turn() == pytest.approx(4.0)  # held, as every other request is
    clock[0] += 4.0
    assert attempt.turn() == PACE_POLL_SECONDS  # the window is full: the seven still run
    for _ in range(4):
        pace.release(succeeded=False, epoch=0)
    assert attempt.turn() == 0.0


def test_a_hold_beyond_the_cap_raises_before_sending(clock: list[float]) -> None:
    pace = Pace()
    pace.throttle(3600.0)
    attempt = Attempt(TRANSCRIPTION, base_url=BASE_URL, policy=RetryPolicy(2), pace=pace)
    with pytest.raises(RateLimitError, match="was not sent") as caught:
        attempt.turn()
    assert caught.value.retry_after == pytest.approx(3600.0)


def test_mistrals_per_minute_quota_paces_the_requests_after(clock: list[float]) -> None:
    """The quota an answer states, less what went after its request, is what is left."""
    pace = Pace()
    attempt = Attempt(TRANSCRIPTION, base_url=BASE_URL, policy=RetryPolicy(2), pace=pace)
    assert attempt.turn() == 0.0
    others = [pace.admit() for _ in range(2)]  # two more went while it was answered
    quota = {"x-ratelimit-limit-req-minute": "30", "x-ratelimit-remaining-req-minute": "3"}
    assert others == [0.0, 0.0]
    assert isinstance(answer(200, b"{}", **quota)(attempt), Done)
    attempt.release()
    assert pace.admit() == 0.0  # 3 left once it was counted, 2 of them taken since
    assert pace.admit() == pytest.approx(2.0)  # then 30 a minute: one every 2 s


class Pool(Pace):
    """A pace that always admits and never narrows: only the pool's successes count."""

    def admit(self) -> float:
        return 0.0

    def throttle(self, wait: float, *, sent_ago: float = 0.0) -> None:
        pass


def test_a_429_is_free_when_the_pool_moved_on(clock: list[float]) -> None:
    """Other requests succeeded between the 429 and the next attempt: the limit is the
    pool's, so the 429 does not use up this request's retries (up to a bound)."""
    pool = Pool()

    def rate_limited_while_another_succeeds(attempt: Attempt) -> Any:
        pool.release(succeeded=True, epoch=pool.epoch)
        return answer(429, **{"retry-after-ms": "1"})(attempt)

    moved_on = [rate_limited_while_another_succeeds] * (MAX_FREE_RATE_LIMIT_RETRIES + 5)
    decisions = drive(clock, moved_on, pace=pool, max_retries=1)
    waits = MAX_FREE_RATE_LIMIT_RETRIES + 1  # the free ones, and the one retry
    assert decisions[:waits] == [0.001] * waits and decisions[waits] is RateLimitError
    stuck = drive(clock, [answer(429, **{"retry-after-ms": "1"})] * 3, pace=Pool(), max_retries=1)
    assert stuck[:2] == [0.001, RateLimitError]  # nobody moved on: the 429 counted


@pytest.mark.parametrize(
    "unusable_200",
    [pytest.param(CUT, id="json-cut-short"), pytest.param(EMPTY_STREAM, id="empty-stream")],
)
def test_a_200_found_unusable_is_no_success_for_the_pace(
    clock: list[float], unusable_200: Outcome
) -> None:
    """It neither widens a narrowed window nor counts as the pool moving on."""
    pace = Pace()
    pace.admit()
    pace.throttle(0.0)  # narrowed to 1
    pace.release(succeeded=False, epoch=pace.epoch)
    assert pace.window == 1
    window_at_retry: list[float] = []

    def ok_seeing_the_window(attempt: Attempt) -> Any:
        window_at_retry.append(pace.window)
        return OK(attempt)

    decisions = drive(clock, [unusable_200, ok_seeing_the_window], pace=pace, resend_cut_short=True)
    assert matches(decisions, [B0, "done"])
    assert window_at_retry == [1] and pace.successes == 1
