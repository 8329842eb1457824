"""LlamaIndex integration: readers (files and live audio), node parser, LLM with audio
blocks, and tool spec.

Install with ``pip install "voxtral-integrations[llamaindex]"``.
"""

try:
    import llama_index.core  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "voxtral_integrations.llama_index needs llama-index-core: "
        'pip install "voxtral-integrations[llamaindex]"'
    ) from error

from .llms import VoxtralLLM
from .node_parsers import VoxtralNodeParser
from .readers import VoxtralReader, VoxtralRealtimeReader
from .tools import VoxtralToolSpec

__all__ = [
    "VoxtralLLM",
    "VoxtralNodeParser",
    "VoxtralReader",
    "VoxtralRealtimeReader",
    "VoxtralToolSpec",
]
