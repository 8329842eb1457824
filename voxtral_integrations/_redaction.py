"""Keep credentials out of anything a human or a log may read.

Signed URLs carry their token in the query string, and URLs may carry user
info; both are credentials. Anything that renders a URL into a message, a log
record or a repr passes it through here first.
"""

from __future__ import annotations

import re

_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]{0,31}://[^\s'\"<>]+")
"""A URL in free text. The scheme's length is bounded, so that a long run of scheme
characters (a megabyte of ``a.a.a.``) costs linear time, not quadratic; a match may
start inside a word, which can only redact more."""
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#]*@")
SHOWN_URL_LENGTH = 80
"""Characters of a URL a message quotes."""


def redact_url(url: str) -> str:
    """``url`` without user info, query string or fragment (marked ``<redacted>``)."""
    base, has_query = re.split(r"[?#]", url, maxsplit=1)[0], ("?" in url or "#" in url)
    base = _USERINFO.sub(r"\1<redacted>@", base)
    return base + ("?<redacted>" if has_query else "")


def shown_url(url: str) -> str:
    """``url`` fit for a message: redacted, and cut short (a ``data:`` URI may be megabytes)."""
    return shortened(redact_url(url), SHOWN_URL_LENGTH)


def shortened(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut.

    Redact before cutting: a URL cut in half no longer looks like one.
    """
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def redact_urls(text: str) -> str:
    """``text`` with every URL in it redacted (for server messages that echo URLs)."""
    return _URL.sub(lambda match: redact_url(match.group(0)), text)


def redact_urls_in(value: object) -> object:
    """A copy of a parsed JSON value with every URL in its strings, keys too, redacted."""
    if isinstance(value, str):
        return redact_urls(value)
    if isinstance(value, dict):
        return {redact_urls_in(key): redact_urls_in(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_urls_in(item) for item in value]
    return value
