"""Mistral's Voxtral audio models for Python, LangChain and LlamaIndex.

The core needs no framework::

    from voxtral_integrations import VoxtralClient

    result = VoxtralClient().transcribe("meeting.mp3", timestamp_granularities=["segment"])

Many files: ``client.transcribe_many(paths)``; corpora: ``client.submit_batch``; what a
run would cost, before it: ``client.estimate(paths)`` (models and prices: ``model_info``).
The adapters live in ``voxtral_integrations.langchain`` and
``voxtral_integrations.llama_index``; the ``voxtral`` command in ``cli``.
"""

import importlib
import typing

from ._version import __version__

if typing.TYPE_CHECKING:
    from ._async_client import AsyncVoxtralClient
    from ._catalogue import ModelInfo, ModelLimits, Price, RealtimeCapabilities, model_info
    from ._client import VoxtralClient
    from ._constants import DEFAULT_CHAT_MODEL, DEFAULT_REALTIME_MODEL, DEFAULT_TRANSCRIPTION_MODEL
    from ._dialects import Backend
    from ._exceptions import (
        APIConnectionError,
        APIError,
        APIResponseError,
        APIStatusError,
        APITimeoutError,
        AudioError,
        AuthenticationError,
        BadRequestError,
        BatchJobError,
        ConfigurationError,
        IncompleteStreamError,
        IncompleteTranscriptionError,
        InternalServerError,
        InvalidInputError,
        LoadError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        RequestTooLargeError,
        UnprocessableEntityError,
        UnsupportedFeatureError,
        VoxtralError,
    )
    from ._models import (
        ChatChoice,
        ChatCompletion,
        ChatCompletionChunk,
        ChatDelta,
        ChatMessage,
        ChatStreamChoice,
        Chunk,
        DeletedFile,
        DoneEvent,
        FunctionCall,
        LanguageEvent,
        Segment,
        SegmentEvent,
        SignedURL,
        TextDeltaEvent,
        ToolCall,
        Transcription,
        TranscriptionStreamEvent,
        UnknownEvent,
        UploadedFile,
        Usage,
    )
    from ._outcomes import BatchJob, CostEstimate, FileEstimate, TranscriptionResult
    from ._realtime_events import (
        RealtimeErrorEvent,
        RealtimeEvent,
        RealtimeToken,
        ReconnectedEvent,
        SessionCreatedEvent,
        SessionUpdatedEvent,
        TurnEvent,
        UtteranceEvent,
    )
    from ._realtime_protocol import RawPCM, TurnDetection
    from ._realtime_vad import LoudnessVAD, VoiceActivityDetector
    from ._sources import AudioInput
    from ._streaming import AsyncStream, Stream

__all__ = [
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_REALTIME_MODEL",
    "DEFAULT_TRANSCRIPTION_MODEL",
    "APIConnectionError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncStream",
    "AsyncVoxtralClient",
    "AudioError",
    "AudioInput",
    "AuthenticationError",
    "Backend",
    "BadRequestError",
    "BatchJob",
    "BatchJobError",
    "ChatChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatDelta",
    "ChatMessage",
    "ChatStreamChoice",
    "Chunk",
    "ConfigurationError",
    "CostEstimate",
    "DeletedFile",
    "DoneEvent",
    "FileEstimate",
    "FunctionCall",
    "IncompleteStreamError",
    "IncompleteTranscriptionError",
    "InternalServerError",
    "InvalidInputError",
    "LanguageEvent",
    "LoadError",
    "LoudnessVAD",
    "ModelInfo",
    "ModelLimits",
    "NotFoundError",
    "PermissionDeniedError",
    "Price",
    "RateLimitError",
    "RawPCM",
    "RealtimeCapabilities",
    "RealtimeErrorEvent",
    "RealtimeEvent",
    "RealtimeToken",
    "ReconnectedEvent",
    "RequestTooLargeError",
    "Segment",
    "SegmentEvent",
    "SessionCreatedEvent",
    "SessionUpdatedEvent",
    "SignedURL",
    "Stream",
    "TextDeltaEvent",
    "ToolCall",
    "Transcription",
    "TranscriptionResult",
    "TranscriptionStreamEvent",
    "TurnDetection",
    "TurnEvent",
    "UnknownEvent",
    "UnprocessableEntityError",
    "UnsupportedFeatureError",
    "UploadedFile",
    "Usage",
    "UtteranceEvent",
    "VoiceActivityDetector",
    "VoxtralClient",
    "VoxtralError",
    "__version__",
    "model_info",
]

_HOMES: dict[str, str] = {
    "AsyncVoxtralClient": "._async_client",
    "ModelInfo": "._catalogue",
    "ModelLimits": "._catalogue",
    "Price": "._catalogue",
    "RealtimeCapabilities": "._catalogue",
    "model_info": "._catalogue",
    "VoxtralClient": "._client",
    "DEFAULT_CHAT_MODEL": "._constants",
    "DEFAULT_REALTIME_MODEL": "._constants",
    "DEFAULT_TRANSCRIPTION_MODEL": "._constants",
    "Backend": "._dialects",
    "APIConnectionError": "._exceptions",
    "APIError": "._exceptions",
    "APIResponseError": "._exceptions",
    "APIStatusError": "._exceptions",
    "APITimeoutError": "._exceptions",
    "AudioError": "._exceptions",
    "AuthenticationError": "._exceptions",
    "BadRequestError": "._exceptions",
    "BatchJobError": "._exceptions",
    "ConfigurationError": "._exceptions",
    "IncompleteStreamError": "._exceptions",
    "IncompleteTranscriptionError": "._exceptions",
    "InternalServerError": "._exceptions",
    "InvalidInputError": "._exceptions",
    "LoadError": "._exceptions",
    "NotFoundError": "._exceptions",
    "PermissionDeniedError": "._exceptions",
    "RateLimitError": "._exceptions",
    "RequestTooLargeError": "._exceptions",
    "UnprocessableEntityError": "._exceptions",
    "UnsupportedFeatureError": "._exceptions",
    "VoxtralError": "._exceptions",
    "ChatChoice": "._models",
    "ChatCompletion": "._models",
    "ChatCompletionChunk": "._models",
    "ChatDelta": "._models",
    "ChatMessage": "._models",
    "ChatStreamChoice": "._models",
    "Chunk": "._models",
    "DeletedFile": "._models",
    "DoneEvent": "._models",
    "FunctionCall": "._models",
    "LanguageEvent": "._models",
    "Segment": "._models",
    "SegmentEvent": "._models",
    "SignedURL": "._models",
    "TextDeltaEvent": "._models",
    "ToolCall": "._models",
    "Transcription": "._models",
    "TranscriptionStreamEvent": "._models",
    "UnknownEvent": "._models",
    "UploadedFile": "._models",
    "Usage": "._models",
    "BatchJob": "._outcomes",
    "CostEstimate": "._outcomes",
    "FileEstimate": "._outcomes",
    "TranscriptionResult": "._outcomes",
    "RealtimeErrorEvent": "._realtime_events",
    "RealtimeEvent": "._realtime_events",
    "RealtimeToken": "._realtime_events",
    "ReconnectedEvent": "._realtime_events",
    "SessionCreatedEvent": "._realtime_events",
    "SessionUpdatedEvent": "._realtime_events",
    "TurnEvent": "._realtime_events",
    "UtteranceEvent": "._realtime_events",
    "RawPCM": "._realtime_protocol",
    "TurnDetection": "._realtime_protocol",
    "LoudnessVAD": "._realtime_vad",
    "VoiceActivityDetector": "._realtime_vad",
    "AudioInput": "._sources",
    "AsyncStream": "._streaming",
    "Stream": "._streaming",
}
"""Where each public name lives. ``import voxtral_integrations`` loads none of them:
each is imported when first used (PEP 562, as pydantic's own ``__init__`` does), so a
program that only needs the chat adapter, the exceptions or ``--help`` does not pay
for the realtime and batch machinery, and ``import voxtral_integrations`` costs a few
milliseconds. ``tests/unit/test_public_api.py`` holds this table, ``__all__`` and the
imports above to the same names."""


def __getattr__(name: str) -> object:
    try:
        home = _HOMES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # once imported, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
