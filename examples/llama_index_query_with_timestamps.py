"""Query a recording with LlamaIndex and print where in it the answer was said.

    export MISTRAL_API_KEY=...
    python examples/llama_index_query_with_timestamps.py                    # bundled weather report
    python examples/llama_index_query_with_timestamps.py talk.m4a "What was decided?"

Ingest (VoxtralReader's segments through an IngestionPipeline with
VoxtralNodeParser: nodes cut between segments, each with its own start/end seconds
and a ``file#t=start,end`` citation), index, query with VoxtralLLM, and print the
source nodes as ``file @ HH:MM:SS (citation)``. The index uses Mistral embeddings
when a key is set and ``llama-index-embeddings-mistralai`` is installed, and
otherwise a small BM25 keyword retriever defined below, so the example also runs
offline.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections import Counter
from pathlib import Path

from llama_index.core import QueryBundle, VectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore

from voxtral_integrations.llama_index import VoxtralLLM, VoxtralNodeParser, VoxtralReader

BUNDLED = Path(__file__).resolve().parent / "data" / "bcn_weather.mp3"
QUESTION = "How cold will it get today?"


class BM25Retriever(BaseRetriever):
    """Okapi BM25 over the nodes' embeddable text: a real keyword ranking, no dependency."""

    def __init__(self, nodes: list[BaseNode], k: int = 3) -> None:
        super().__init__()
        self._nodes = nodes
        self._k = k
        self._corpus = [_words(n.get_content(MetadataMode.EMBED)) for n in nodes]
        self._frequency = Counter(w for words in self._corpus for w in set(words))
        self._average = sum(map(len, self._corpus)) / max(len(self._corpus), 1)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = set(_words(query_bundle.query_str))
        scored = []
        for words, node in zip(self._corpus, self._nodes, strict=True):
            counts, score = Counter(words), 0.0
            for word in query:
                df = self._frequency[word]
                idf = math.log(1 + (len(self._corpus) - df + 0.5) / (df + 0.5))
                tf = counts[word]
                score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(words) / self._average))
            scored.append(NodeWithScore(node=node, score=score))
        return sorted(scored, key=lambda hit: -(hit.score or 0.0))[: self._k]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def retriever(nodes: list[BaseNode]) -> BaseRetriever:
    """Mistral embeddings with a key and the embeddings package; BM25 otherwise."""
    if not os.environ.get("MISTRAL_API_KEY"):
        return BM25Retriever(nodes)
    try:
        from llama_index.embeddings.mistralai import MistralAIEmbedding
    except ImportError:  # pip install llama-index-embeddings-mistralai for semantic search
        return BM25Retriever(nodes)
    return VectorStoreIndex(nodes, embed_model=MistralAIEmbedding()).as_retriever(
        similarity_top_k=3
    )


def main(argv: list[str]) -> int:
    audio = argv[0] if argv else str(BUNDLED)
    question = argv[1] if len(argv) > 1 else QUESTION
    # one Document per segment, packed into nodes with their own start, end and citation
    documents = VoxtralReader(granularity="segment").load_data(audio)
    pipeline = IngestionPipeline(
        transformations=[VoxtralNodeParser(max_characters=300, window_seconds=30)]
    )
    nodes = pipeline.run(documents=documents)
    engine = RetrieverQueryEngine.from_args(retriever(nodes), llm=VoxtralLLM())
    response = engine.query(question)
    print(response.response)
    print("\nSources:")
    for hit in response.source_nodes:
        metadata = hit.node.metadata
        name, at = Path(metadata["source"]).name, metadata["start_timestamp"]
        print(f"  {name} @ {at}  ({metadata['citation']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
