"""Every default the library uses, in one place.

Model ids are aliases documented by Mistral, so a deployment that moves an alias
to a newer model needs no release of this library. Voxtral 3 (October 2026) added
the aliases ``voxtral-mini-transcribe-latest`` and ``voxtral-small-transcribe-latest``;
pass one of them as ``model=`` to pin the Voxtral 3 generation. What each model is,
takes and costs is in :mod:`._catalogue`, not here.
"""

from __future__ import annotations

from typing import Literal

import httpx

# Model facts live in the catalogue; these names are kept for the modules importing them.
from ._catalogue import (
    DEFAULT_REALTIME_CAPABILITIES as DEFAULT_REALTIME_CAPABILITIES,
)
from ._catalogue import (
    REALTIME_MODELS as REALTIME_MODELS,
)
from ._catalogue import (
    ModelLimits,
)
from ._catalogue import (
    RealtimeCapabilities as RealtimeCapabilities,
)

DEFAULT_BASE_URL = "https://api.mistral.ai/v1"
DEFAULT_VLLM_BASE_URL = "http://localhost:8000/v1"
"""Where ``vllm serve`` listens by default."""
API_KEY_ENV = "MISTRAL_API_KEY"
BASE_URL_ENV = "MISTRAL_BASE_URL"

DEFAULT_TRANSCRIPTION_MODEL = "voxtral-mini-latest"
"""The alias Mistral's transcription docs and API reference use for speech-to-text."""

DEFAULT_CHAT_MODEL = "voxtral-small-latest"
"""The chat-capable Voxtral alias (audio understanding, function calling)."""

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=1800.0, write=120.0, pool=30.0)
"""A read timeout of 30 minutes: the server answers only once hours of audio are
transcribed, and the 5-minute default of other clients is a common failure."""

DEFAULT_MAX_RETRIES = 2
INITIAL_RETRY_DELAY = 0.5
"""Seconds before the first retry; doubled on every further attempt."""
MAX_RETRY_DELAY = 8.0
"""Cap on the computed backoff (before jitter)."""
MAX_RETRY_AFTER = 60.0
"""A ``Retry-After`` longer than this is not waited out: the error is raised with its
``retry_after`` so the caller decides, rather than a call silently sleeping for long."""

MIN_SECRET_KEY_LENGTH = 12
"""Keys at least this long are blanked from error bodies a proxy echoed; shorter ones
(vLLM placeholders such as ``EMPTY``) are no secret and would mangle the message."""

RETRYABLE_STATUS_CODES = frozenset({429, 500, 502, 503, 504})
"""Mistral's documented retryable statuses (its SDK retries the same set)."""

MAX_CONTEXT_BIAS_ITEMS = 100
TIMESTAMP_GRANULARITIES = ("segment", "word")

USER_AGENT_PREFIX = "voxtral-integrations"

ACCEPTED_AUDIO_TYPES = {
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".webm": "audio/webm",
}
"""Containers the transcription API documents as accepted, by file suffix."""

CHAT_AUDIO_FORMATS = ("wav", "mp3", "flac", "ogg", "webm")
"""The ``input_audio`` formats the chat endpoint decodes (other audio is converted first),
in the order messages list them; each is the suffix of its type in ``ACCEPTED_AUDIO_TYPES``."""

CHAT_MAX_AUDIO_SECONDS = 40 * 60
"""Audio one chat message may carry: Voxtral understands up to about 40 minutes of audio
in its 32k-token context (Mistral's Voxtral announcement); longer audio is refused
locally, before it is converted or sent."""

OTHER_AUDIO_TYPES = {
    ".m4a": "audio/mp4",
    ".mp4": "video/mp4",
    ".aac": "audio/aac",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
}
"""Common containers sent with their own MIME type (converted locally in a later stage)."""

MEDIA_SUFFIXES = frozenset(
    {
        *ACCEPTED_AUDIO_TYPES,
        *OTHER_AUDIO_TYPES,
        *(".aif", ".aiff", ".aifc", ".amr", ".wma", ".m4b", ".mka", ".caf", ".wv", ".ac3"),
        *(".3gp", ".avi", ".m4v", ".mpeg", ".mpg", ".ts", ".wmv", ".flv"),
    }
)
"""Audio and video suffixes the ``voxtral`` command looks for in directories and globs.
A file named explicitly is tried whatever its suffix: its content decides, not its name."""

CLI_CACHE_DIR_NAME = "voxtral-integrations"
"""The ``voxtral`` command's resume cache: ``$XDG_CACHE_HOME/<this>``, else ``~/.cache/<this>``."""
CLI_CACHE_MAX_AGE_DAYS = 30
"""Entries of the command's resume cache older than this are removed when ``voxtral
transcribe`` runs. The cache is there to resume a run that failed or was stopped, a
matter of days; kept for ever, it would be a second copy of every transcript."""

MAX_FILE_URL_LENGTH = 2083
"""The API's limit on ``file_url`` (OpenAPI ``maxLength``)."""


VLLM_LIMITS = ModelLimits(max_seconds=30 * 60, max_bytes=25_000_000)
"""vLLM's default upload cap (VLLM_MAX_AUDIO_CLIP_FILESIZE_MB) and Voxtral's 30 minutes."""

DEFAULT_CHUNK_SECONDS = 15 * 60
"""Long audio is shared out in even chunks of about 15 minutes even where a model takes
more: chunks are transcribed concurrently (with ``concurrency=8`` a 2-hour file takes
about as long as one chunk), a failed chunk costs minutes to redo, not hours, and no
request nears a timeout. Diarized audio aims at the model's limit instead (every cut
renames speakers: ``MistralDialect.chunk_limits``)."""

DIARIZATION_OVERLAP_SECONDS = 45.0
"""How much audio neighbouring diarized chunks share, centred on their cut, so each
later chunk's speaker labels can be linked to the earlier ones (``_speakers``): long
enough that most people in a conversation speak in it (AssemblyAI advises at least
30 s per speaker), short enough to bill little twice (a 2-hour file on Mistral's API:
three requests, 1.5 minutes more, +1.25%). Never more than a quarter of a chunk."""

DEFAULT_GRANULARITY: Literal["window"] = "window"
"""What one Document of the loaders holds: a window of consecutive segments. A segment
(2-5 s, a sentence or less) is too little text to retrieve by and floods a vector store;
a whole file is too much to embed as one vector. Windows keep every segment's times."""
DEFAULT_WINDOW_SECONDS = 60.0
"""A window's length: about 150 words of speech, a common retrieval chunk size, cut at
segment boundaries and at every change of speaker."""

DEFAULT_PIECE_CHARACTERS = 1000
"""The splitters' piece size in characters: about a default window of speech, so a
window is cut only where it runs long; pass less for finer citations."""

DEFAULT_CONCURRENCY = 4
DEFAULT_BULK_CONCURRENCY = 8
"""Requests in flight across the files and chunks of ``transcribe_many`` and multi-file loads."""
MAX_FREE_RATE_LIMIT_RETRIES = 20
"""429s a request may take without using up ``max_retries`` while the pool progresses."""
PACE_POLL_SECONDS = 0.005
"""How often a request waiting for a slot in a narrowed window (after a 429) looks again."""
RATE_SPAN_SECONDS = 0.5
"""The shortest stretch of sends a rate is measured over: over less, the burst a
limiter lets through at once says nothing about what it sustains."""
RATE_HISTORY_SECONDS = 10.0
"""How far back the pace keeps its sends to measure the rate over at a 429."""
BURST_SPAN_SECONDS = 0.1
"""Requests accepted within this long before a 429 count as one burst (the limiter's
allowance at once), which the rate measured over longer stretches leaves out."""
RATE_BACKOFF = 0.95
"""The pace sends at this share of the rate it measured at a 429 (a little under it)."""
RATE_GROWTH = 0.02
"""While no 429 comes, the rate grows by this share of the rate last learnt, per second
of sending (additive): a limit that rose is found again without probing above it often."""
RATE_TIGHT = 1.25
"""A 429 pins the rate down when the fastest rate at which the limiter would still
have refused it is within this factor of the slowest at which it let the rest through."""
RATE_SEARCH_GROWTH = 0.1
"""The growth instead, compounding, per second, of a rate known only from below (a 429
that a clump caused says how low the rate is not) where a 429 costs nothing (its hold is
over before the limiter's burst has refilled): a run kept at that floor loses more than
a probe, and a floor at a third of the rate is left within 11 s."""

BATCH_ENDPOINT = "/v1/audio/transcriptions"
"""The ``endpoint`` of a transcription batch job (the API's ``ApiEndpoint`` enum)."""
DEFAULT_BATCH_TIMEOUT_HOURS = 24
MAX_BATCH_TIMEOUT_HOURS = 168
"""The API's bounds on ``timeout_hours``: 1 to 168 (a week), 24 by default."""
MAX_BATCH_REQUESTS = 100_000
"""Requests one batch job may hold (Mistral's known-limitations page)."""
BATCH_RESULTS_KEPT_HOURS = 24
"""How long a finished job's results can be downloaded (Mistral's known-limitations page)."""
BATCH_POLL_INITIAL = 2.0
BATCH_POLL_FACTOR = 1.5
BATCH_POLL_MAX = 60.0
"""``wait_for_batch`` polls after 2 s, then 1.5 times later each time, at most a minute
apart: quick jobs are seen finishing quickly, day-long ones cost a request a minute."""

DEFAULT_REALTIME_MODEL = "voxtral-mini-transcribe-realtime-2602"
"""The dated realtime model: ``...-realtime-latest`` moved to Realtime 3 (at a new price)
in October 2026, so the default is pinned; pass a Realtime 3 id for turn detection."""

REALTIME_ENCODINGS: dict[str, int] = {
    "pcm_s16le": 2,
    "pcm_s32le": 4,
    "pcm_f16le": 2,
    "pcm_f32le": 4,
    "pcm_mulaw": 1,
    "pcm_alaw": 1,
}
"""The realtime endpoint's raw mono PCM encodings, each with its sample width in bytes."""
DEFAULT_REALTIME_ENCODING = "pcm_s16le"
DEFAULT_REALTIME_SAMPLE_RATE = 16000
MIN_REALTIME_SAMPLE_RATE = 8000
MAX_REALTIME_SAMPLE_RATE = 96000
MAX_APPEND_BYTES = 262144
"""Decoded audio one ``append`` may carry (the API's limit): 8.19 s of 16 kHz s16le."""

REALTIME_SESSION_TIMEOUT = 10.0
"""Seconds to wait for ``session.created`` (and ``session.updated``) after the upgrade."""
REALTIME_DONE_TIMEOUT = 2.0
"""Seconds a flushed turn waits for its ``done`` before its deltas are taken as final
(``done`` arrives 0.25-0.6 s after a flush in clean runs; Pipecat's P99 to final is 1.89 s)."""
REALTIME_STALL_TIMEOUT = 6.0
"""Seconds of speech sent, and of waiting, without a single server event before the
session is taken for stalled and replaced (above the 2.4 s longest streaming delay)."""
REALTIME_MAX_RECONNECTS = 3
"""Reconnections one realtime session may make (each replays its unfinalised audio)."""
REALTIME_TRANSIENT_ERROR_CODES = frozenset({"3505"})
"""Codes of an ``error`` sent instead of ``session.created`` that mean "try again later"
(3505: no capacity, the code a 503 upgrade carries): the connection is retried as a 503
is. Any other refusal there (a bad model, a bad key) fails the same way every time."""
REALTIME_SPEECH_LEVEL = 0.01
"""RMS level (of full scale: -40 dBFS) from which audio counts as speech for stall
detection and for timing a turn: silence legitimately gets no events."""

VLLM_REALTIME_ENCODING = "pcm_s16le"
VLLM_REALTIME_SAMPLE_RATE = 16000
"""vLLM's realtime route takes PCM16 at 16 kHz, mono, and negotiates nothing."""


REALTIME_CHUNK_SECONDS = 0.1
"""Audio per chunk sent from a converted source: Mistral's quickstart sends 100 ms at
real-time pace; ten small frames a second keep latency low and cost little."""
REALTIME_DECODE_BLOCK_SECONDS = 1.0
"""How far ahead a file is decoded at a time (and at most two blocks wait): one thread
hand-off a second per session, a few seconds of PCM in memory whatever the file's length.
A live iterator's audio is handed on chunk by chunk instead, as soon as it is decoded."""
VAD_THRESHOLD = 0.015
"""Loudness (RMS as a fraction of full scale, about -36 dBFS) above which a 10 ms hop
counts as speech for :class:`LoudnessVAD`: quiet speech near a microphone is -30 to
-20 dBFS, a quiet room's noise floor -60 to -45 dBFS."""
VAD_MIN_SILENCE_SECONDS = 0.55
"""Silence after speech that ends it: longer than the pauses inside a sentence (0.2 to
0.5 s), a little more than Realtime 3's own ``min_silence_ms`` default of 500."""
VAD_MIN_SPEECH_SECONDS = 0.15
"""Loud audio a turn must hold before its end is reported: a click or a cough is not
speech, and flushing after one would cost a turn with no text."""
