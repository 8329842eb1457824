"""Retry policy and ``Retry-After`` parsing (``_retry``): pure, no clock, no sleeps."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxtral_integrations._constants import (
    INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
)
from voxtral_integrations._retry import (
    Quota,
    RetryPolicy,
    parse_quota,
    parse_remaining,
    parse_retry_after,
)

NOW = datetime(2015, 10, 21, 7, 27, 30, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- status table


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        pytest.param(429, True, id="429"),
        pytest.param(500, True, id="500"),
        pytest.param(502, True, id="502"),
        pytest.param(503, True, id="503"),
        pytest.param(504, True, id="504"),
        pytest.param(400, False, id="400"),
        pytest.param(401, False, id="401"),
        pytest.param(403, False, id="403"),
        pytest.param(404, False, id="404"),
        pytest.param(408, False, id="408"),
        pytest.param(413, False, id="413"),
        pytest.param(422, False, id="422"),
        pytest.param(501, False, id="501"),
        pytest.param(200, False, id="200"),
    ],
)
def test_which_statuses_are_retried(status: int, retried: bool) -> None:
    policy = RetryPolicy(max_retries=3)
    delay = policy.delay_after_status(0, status, None)
    assert (delay is not None) is retried
    # A server-given wait does not make a non-retryable status retryable.
    assert (policy.delay_after_status(0, status, 1.0) is not None) is retried
    # A transient 404 is retryable; the flag changes nothing else.
    transient = policy.delay_after_status(0, status, None, not_found_is_transient=True)
    assert (transient is not None) is (retried or status == 404)
    assert policy.delay_after_status(3, 404, None, not_found_is_transient=True) is None


@pytest.mark.parametrize(
    ("max_retries", "retried_after"),
    [
        pytest.param(0, [], id="max_retries=0"),
        pytest.param(1, [0], id="max_retries=1"),
        pytest.param(3, [0, 1, 2], id="max_retries=3"),
    ],
)
def test_attempt_bound(max_retries: int, retried_after: list[int]) -> None:
    policy = RetryPolicy(max_retries=max_retries)
    for retries_done in range(max_retries + 3):
        expected = retries_done in retried_after
        assert (policy.delay_after_status(retries_done, 503, None) is not None) is expected
        assert (policy.delay_after_status(retries_done, 429, 2.0) is not None) is expected
        assert (policy.delay_after_transport_error(retries_done) is not None) is expected


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        pytest.param(0.0, 0.0, id="zero"),
        pytest.param(2.5, 2.5, id="honoured-exactly"),
        pytest.param(30.0, 30.0, id="longer-than-backoff-cap-still-honoured"),
        pytest.param(MAX_RETRY_AFTER, MAX_RETRY_AFTER, id="at-the-limit"),
        pytest.param(MAX_RETRY_AFTER + 0.001, None, id="just-above-the-limit"),
        pytest.param(3600.0, None, id="an-hour"),
    ],
)
def test_server_wait_honoured_up_to_max_retry_after(
    retry_after: float, expected: float | None
) -> None:
    assert RetryPolicy(max_retries=2).delay_after_status(0, 429, retry_after) == expected


def test_custom_max_retry_after() -> None:
    policy = RetryPolicy(max_retries=2, max_retry_after=5.0)
    assert policy.delay_after_status(0, 503, 5.0) == 5.0
    assert policy.delay_after_status(0, 503, 6.0) is None


@pytest.mark.parametrize(
    ("headers", "retried"),
    [
        pytest.param({"retry-after": "3"}, 3.0, id="seconds"),
        pytest.param({"retry-after": "120"}, None, id="above-max-not-retried"),
        pytest.param({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 30.0, id="http-date"),
        pytest.param({"retry-after": "Wed, 21 Oct 2015 08:28:00 GMT"}, None, id="date-too-far"),
        pytest.param({"retry-after-ms": "250"}, 0.25, id="retry-after-ms"),
    ],
)
def test_parsed_header_feeds_policy(headers: dict[str, str], retried: float | None) -> None:
    delay = RetryPolicy(max_retries=2).delay_after_status(
        0, 429, parse_retry_after(headers, now=NOW)
    )
    assert delay == retried


# --------------------------------------------------------------------------- Retry-After


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({}, None, id="absent"),
        pytest.param({"retry-after": "5"}, 5.0, id="seconds"),
        pytest.param({"retry-after": "0"}, 0.0, id="zero"),
        pytest.param({"retry-after": "  7 "}, 7.0, id="seconds-with-whitespace"),
        pytest.param({"retry-after": "1.5"}, 1.5, id="fractional-seconds"),
        pytest.param(
            {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 30.0, id="http-date-imf-fixdate"
        ),
        pytest.param(
            {"retry-after": "Wednesday, 21-Oct-15 07:28:00 GMT"}, 30.0, id="http-date-rfc850"
        ),
        pytest.param({"retry-after": "Wed Oct 21 07:28:00 2015"}, 30.0, id="http-date-asctime"),
        pytest.param(
            {"retry-after": "Wed, 21 Oct 2015 09:28:00 +0200"}, 30.0, id="http-date-with-offset"
        ),
        pytest.param(
            {"retry-after": "Wed, 21 Oct 2015 07:00:00 GMT"}, 0.0, id="http-date-in-the-past"
        ),
        pytest.param({"retry-after-ms": "1500"}, 1.5, id="ms"),
        pytest.param({"retry-after-ms": "0"}, 0.0, id="ms-zero"),
        pytest.param({"retry-after-ms": "250", "retry-after": "9"}, 0.25, id="ms-wins"),
        pytest.param({"retry-after-ms": "soon", "retry-after": "9"}, 9.0, id="bad-ms-falls-back"),
        pytest.param({"retry-after": "soon"}, None, id="garbage"),
        pytest.param({"retry-after": ""}, None, id="empty"),
        pytest.param({"retry-after": "5 seconds"}, None, id="seconds-with-unit"),
        pytest.param({"retry-after": "Wed, 32 Oct 2015 07:28:00 GMT"}, None, id="invalid-date"),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, now=NOW) == expected


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"retry-after": "-5"}, id="negative-seconds"),
        pytest.param({"retry-after": "-0.5"}, id="negative-fraction"),
        pytest.param({"retry-after-ms": "-100"}, id="negative-ms"),
        pytest.param({"retry-after": "-inf"}, id="minus-infinity"),
    ],
)
def test_negative_wait_is_never_returned(headers: dict[str, str]) -> None:
    # Either ignored (None) or clamped to "now"; never a negative sleep.
    assert parse_retry_after(headers, now=NOW) in (None, 0.0)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"retry-after": "nan"}, id="nan"),
        pytest.param({"retry-after": "NaN"}, id="NaN"),
        pytest.param({"retry-after": "inf"}, id="inf"),
        pytest.param({"retry-after": "Infinity"}, id="Infinity"),
        pytest.param({"retry-after": "1e400"}, id="overflowing-float"),
        pytest.param({"retry-after-ms": "nan"}, id="ms-nan"),
        pytest.param({"retry-after-ms": "inf"}, id="ms-inf"),
    ],
)
def test_non_finite_values_are_not_returned(headers: dict[str, str]) -> None:
    value = parse_retry_after(headers, now=NOW)
    assert value is None or (math.isfinite(value) and value >= 0)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Mon, 01 Jan 99999999999 00:00:00 GMT", id="huge-year"),
        pytest.param("Mon, 01 Jan 10000 00:00:00 GMT", id="year-10000"),
        pytest.param("Mon, 01 Jan 1 00:00:00 -2359", id="year-1-offset"),
    ],
)
def test_out_of_range_dates_do_not_raise(value: str) -> None:
    result = parse_retry_after({"retry-after": value}, now=NOW)
    assert result is None or (math.isfinite(result) and result >= 0)


def test_http_date_measured_against_given_now() -> None:
    header = {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}
    assert parse_retry_after(header, now=NOW) == 30.0
    assert parse_retry_after(header, now=NOW + timedelta(seconds=20)) == 10.0
    assert parse_retry_after(header, now=NOW + timedelta(seconds=60)) == 0.0


# --------------------------------------------------------------------------- backoff


@pytest.mark.parametrize(
    ("retries_done", "base"),
    [
        pytest.param(0, INITIAL_RETRY_DELAY, id="first"),
        pytest.param(1, INITIAL_RETRY_DELAY * 2, id="second"),
        pytest.param(2, INITIAL_RETRY_DELAY * 4, id="third"),
        pytest.param(3, INITIAL_RETRY_DELAY * 8, id="fourth"),
        pytest.param(4, MAX_RETRY_DELAY, id="reaches-cap"),
        pytest.param(10, MAX_RETRY_DELAY, id="capped"),
        pytest.param(2000, MAX_RETRY_DELAY, id="capped-without-overflow"),
    ],
)
def test_backoff_jitter_bounds(retries_done: int, base: float) -> None:
    policy = RetryPolicy(max_retries=5)
    values = [policy.backoff(retries_done, rng=random.Random(seed)) for seed in range(200)]
    assert all(base * 0.75 <= value <= base for value in values)
    assert len(set(values)) > 1, "jitter must vary with the random source"
    assert min(values) < base * 0.8
    assert max(values) > base * 0.95


def test_backoff_grows_until_the_cap() -> None:
    policy = RetryPolicy(max_retries=10)
    delays = [policy.backoff(n, rng=random.Random(1234)) for n in range(8)]
    # Same seed, so the same jitter fraction: strictly increasing until capped.
    assert delays[:5] == sorted(delays[:5])
    assert len(set(delays[:5])) == 5
    assert delays[5] == delays[6] == delays[7]
    assert delays[7] <= MAX_RETRY_DELAY


def test_backoff_is_deterministic_for_a_seed() -> None:
    policy = RetryPolicy(max_retries=3)
    assert policy.backoff(2, rng=random.Random(7)) == policy.backoff(2, rng=random.Random(7))


@pytest.mark.parametrize(
    ("policy", "retries_done", "low", "high"),
    [
        pytest.param(RetryPolicy(5, initial_delay=1.0, max_delay=3.0), 0, 0.75, 1.0, id="custom-0"),
        pytest.param(RetryPolicy(5, initial_delay=1.0, max_delay=3.0), 1, 1.5, 2.0, id="custom-1"),
        pytest.param(
            RetryPolicy(5, initial_delay=1.0, max_delay=3.0), 2, 2.25, 3.0, id="custom-capped"
        ),
    ],
)
def test_backoff_custom_policy(
    policy: RetryPolicy, retries_done: int, low: float, high: float
) -> None:
    for seed in range(50):
        assert low <= policy.backoff(retries_done, rng=random.Random(seed)) <= high


def test_status_and_transport_delays_use_backoff_bounds() -> None:
    policy = RetryPolicy(max_retries=5)
    for retries_done in range(5):
        base = min(INITIAL_RETRY_DELAY * 2**retries_done, MAX_RETRY_DELAY)
        for delay in (
            policy.delay_after_status(retries_done, 503, None),
            policy.delay_after_transport_error(retries_done),
        ):
            assert delay is not None
            assert base * 0.75 <= delay <= base


# --------------------------------------------------------------------------- property

_HEADER_VALUES = st.one_of(
    st.text(),
    st.floats().map(str),
    st.floats().map(repr),
    st.integers().map(str),
    st.sampled_from(["nan", "inf", "-inf", "Infinity", "1e400", "-0", "1_000", " 5 "]),
    st.builds(
        "{}, {:02d} {} {} {:02d}:{:02d}:{:02d} {}".format,
        st.sampled_from(["Mon", "Tue", "Wed", "Xyz"]),
        st.integers(0, 40),
        st.sampled_from(["Jan", "Feb", "Oct", "Foo"]),
        st.integers(-10, 10**12),
        st.integers(0, 30),
        st.integers(0, 70),
        st.integers(0, 70),
        st.sampled_from(["GMT", "UTC", "+0200", "-2359", "+9999", "", "EST"]),
    ),
)


@given(
    retry_after=st.none() | _HEADER_VALUES,
    retry_after_ms=st.none() | _HEADER_VALUES,
)
def test_parse_retry_after_never_raises_and_is_finite(
    retry_after: str | None, retry_after_ms: str | None
) -> None:
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    value = parse_retry_after(headers, now=NOW)
    assert value is None or (isinstance(value, float) and math.isfinite(value) and value >= 0)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-ratelimit-remaining": "7"}, 7),
        ({"x-ratelimit-remaining": " 0 "}, 0),
        ({"x-ratelimit-remaining": "-1"}, None),
        ({"x-ratelimit-remaining": "2.5"}, None),
        ({"x-ratelimit-remaining": "many"}, None),
        ({"x-ratelimit-remaining": "\u00b2"}, None),  # a digit to str.isdigit, not to int()
        ({"retry-after": "1"}, None),
        ({}, None),
    ],
)
def test_parse_remaining(headers: dict[str, str], expected: int | None) -> None:
    """Only a whole, non-negative ``X-RateLimit-Remaining`` paces (the documented header)."""
    assert parse_remaining(headers) == expected


LIMIT, REMAINING = "x-ratelimit-limit-req-minute", "x-ratelimit-remaining-req-minute"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({LIMIT: "720", REMAINING: "717"}, Quota(717, 720, 60.0)),
        ({LIMIT: " 720 ", REMAINING: "0"}, Quota(0, 720, 60.0)),
        ({LIMIT: "720", REMAINING: "900"}, Quota(720, 720, 60.0)),  # never more than it allows
        ({LIMIT: "0", REMAINING: "0"}, None),  # no quota at all: its 429 says the rest
        ({REMAINING: "717"}, None),
        ({LIMIT: "720"}, None),
        ({LIMIT: "720", REMAINING: "-1"}, None),
        ({LIMIT: "7.5", REMAINING: "3"}, None),
        ({"x-ratelimit-limit-tokens-minute": "5000000", REMAINING: "3"}, None),
        ({"x-ratelimit-remaining": "7"}, None),
    ],
)
def test_parse_quota(headers: dict[str, str], expected: Quota | None) -> None:
    """Mistral's per-minute request quota, as its API states it on an answer."""
    assert parse_quota(headers) == expected
