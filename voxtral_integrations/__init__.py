"""Mistral's Voxtral audio models for Python, LangChain and LlamaIndex.

The core needs no framework::

    from voxtral_integrations import VoxtralClient

    result = VoxtralClient().transcribe("meeting.mp3", timestamp_granularities=["segment"])

Many files: ``client.transcribe_many(paths)``; corpora: ``client.submit_batch``; what a
run would cost, before it: ``client.estimate(paths)`` (models and prices: ``model_info``).
The adapters live in ``voxtral_integrations.langchain`` and
``voxtral_integrations.llama_index``; the ``voxtral`` command in ``cli``.
"""

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
from ._sources import AudioInput
from ._streaming import AsyncStream, Stream
from ._version import __version__

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
    "VoxtralClient",
    "VoxtralError",
    "__version__",
    "model_info",
]
