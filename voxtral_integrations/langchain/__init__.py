"""LangChain integration: document loaders (files and live audio), blob parser, splitter,
chat model and agent tools.

Install with ``pip install "voxtral-integrations[langchain]"``.
"""

try:
    import langchain_core  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "voxtral_integrations.langchain needs langchain-core: "
        'pip install "voxtral-integrations[langchain]"'
    ) from error

from .chat_models import ChatVoxtral
from .document_loaders import VoxtralLoader, VoxtralParser, VoxtralRealtimeLoader
from .splitters import VoxtralSplitter
from .tools import VoxtralRealtimeTool, VoxtralTranscriptionTool

__all__ = [
    "ChatVoxtral",
    "VoxtralLoader",
    "VoxtralParser",
    "VoxtralRealtimeLoader",
    "VoxtralRealtimeTool",
    "VoxtralSplitter",
    "VoxtralTranscriptionTool",
]
