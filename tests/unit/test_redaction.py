"""Credential redaction in URLs and free text (``_redaction``)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxtral_integrations._redaction import redact_url, redact_urls, redact_urls_in


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("https://example.com/a.mp3", "https://example.com/a.mp3", id="clean"),
        pytest.param(
            "https://files.mistral.ai/x.mp3?X-Amz-Signature=SECRET&X-Amz-Expires=3600",
            "https://files.mistral.ai/x.mp3?<redacted>",
            id="signed-query",
        ),
        pytest.param("https://e.com/a#SECRET", "https://e.com/a?<redacted>", id="fragment"),
        pytest.param(
            "https://e.com/a?sig=SECRET#SECRET2", "https://e.com/a?<redacted>", id="query-fragment"
        ),
        pytest.param("https://e.com/a?", "https://e.com/a?<redacted>", id="empty-query"),
        pytest.param(
            "https://user:SECRET@e.com/a.mp3",
            "https://<redacted>@e.com/a.mp3",
            id="userinfo-password",
        ),
        pytest.param("https://SECRET@e.com/", "https://<redacted>@e.com/", id="userinfo-token"),
        pytest.param(
            "https://user:SECRET@e.com?q=SECRET2",
            "https://<redacted>@e.com?<redacted>",
            id="userinfo-and-query-no-path",
        ),
        pytest.param(
            "https://user:p@SECRET@e.com/a.mp3",
            "https://<redacted>@e.com/a.mp3",
            id="userinfo-with-raw-at-sign",
        ),
        pytest.param(
            "https://e.com/path/@handle", "https://e.com/path/@handle", id="at-sign-in-path"
        ),
        pytest.param(
            "https://e.com/a?next=user@host", "https://e.com/a?<redacted>", id="at-sign-in-query"
        ),
        pytest.param(
            "HTTP://USER:SECRET@E.COM/A?B=SECRET",
            "HTTP://<redacted>@E.COM/A?<redacted>",
            id="upper",
        ),
        pytest.param(
            "s3://key:SECRET@bucket/a.mp3?x=SECRET",
            "s3://<redacted>@bucket/a.mp3?<redacted>",
            id="other-scheme",
        ),
        pytest.param(
            "http://localhost:8000/v1/audio", "http://localhost:8000/v1/audio", id="port-kept"
        ),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert "SECRET" not in redact_url(url)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("no urls here", "no urls here", id="no-url"),
        pytest.param(
            "Audio from 'https://files.mistral.ai/x.mp3?X-Amz-Signature=SECRET' could not be "
            "decoded.",
            "Audio from 'https://files.mistral.ai/x.mp3?<redacted>' could not be decoded.",
            id="quoted",
        ),
        pytest.param(
            'fetch "https://a.com/1?t=SECRET" then https://b.com/2#SECRET and '
            "<https://u:SECRET@c.com/3> or https://d.com/4",
            'fetch "https://a.com/1?<redacted>" then https://b.com/2?<redacted> and '
            "<https://<redacted>@c.com/3> or https://d.com/4",
            id="several-urls",
        ),
        pytest.param(
            "first https://a.com/x?sig=SECRET\nsecond https://b.com/y?sig=SECRET\tend",
            "first https://a.com/x?<redacted>\nsecond https://b.com/y?<redacted>\tend",
            id="separated-by-whitespace",
        ),
        pytest.param(
            "{'url': 'https://a.com/x?sig=SECRET', 'n': 1}",
            "{'url': 'https://a.com/x?<redacted>', 'n': 1}",
            id="python-repr",
        ),
        pytest.param(
            "https://a.com/x?sig=SECRET", "https://a.com/x?<redacted>", id="whole-text-is-url"
        ),
    ],
)
def test_redact_urls_in_text(text: str, expected: str) -> None:
    assert redact_urls(text) == expected
    assert "SECRET" not in redact_urls(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("https://a.com/x?s=SECRET", "https://a.com/x?<redacted>", id="string"),
        pytest.param(
            {"message": "see https://a.com/x?s=SECRET", "code": 3310, "param": None},
            {"message": "see https://a.com/x?<redacted>", "code": 3310, "param": None},
            id="dict",
        ),
        pytest.param(
            {"detail": [{"loc": ["body", "file_url"], "input": "https://u:SECRET@a.com/x"}]},
            {"detail": [{"loc": ["body", "file_url"], "input": "https://<redacted>@a.com/x"}]},
            id="nested",
        ),
        pytest.param([1, 2.5, True, None], [1, 2.5, True, None], id="non-strings-untouched"),
    ],
)
def test_redact_urls_in_json(value: Any, expected: Any) -> None:
    original = repr(value)
    assert redact_urls_in(value) == expected
    assert repr(value) == original, "the input must not be modified"


_LOWER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)
_SECRET = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=%", min_size=1, max_size=30)


@given(
    host=_LOWER,
    path=st.lists(_LOWER, max_size=3),
    secret=_SECRET,
    where=st.sampled_from(["query", "fragment", "user", "password"]),
    before=st.sampled_from(["", "see ", "url '", '"', "(", "<"]),
    after=st.sampled_from(["", " failed", "'", '"', ">", "\n"]),
)
def test_secret_never_survives(
    host: str, path: list[str], secret: str, where: str, before: str, after: str
) -> None:
    marker = "ZZ" + secret  # upper case: cannot occur in the lower-case host or path
    base = f"https://{host}.example/" + "/".join(path)
    url = {
        "query": f"{base}?X-Amz-Signature={marker}",
        "fragment": f"{base}#{marker}",
        "user": f"https://{marker}@{host}.example/" + "/".join(path),
        "password": f"https://me:{marker}@{host}.example/" + "/".join(path),
    }[where]
    text = before + url + after
    redacted = redact_urls(text)
    assert marker not in redacted
    assert f"{host}.example" in redacted
