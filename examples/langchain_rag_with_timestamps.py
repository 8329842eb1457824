"""Ask a recording a question and cite where in it the answer was said.

    export MISTRAL_API_KEY=...
    python examples/langchain_rag_with_timestamps.py                       # bundled weather report
    python examples/langchain_rag_with_timestamps.py talk.m4a "What was decided?"

Load and split (VoxtralLoader.load_and_split with VoxtralSplitter: pieces cut
between segments, each with its own absolute start/end seconds and a
``file#t=start,end`` citation), index, retrieve, answer with ChatVoxtral, and
print the sources as ``file @ HH:MM:SS (citation)``. The index uses
Mistral embeddings when a key is set and ``langchain-mistralai`` is installed,
and otherwise a small BM25 keyword retriever defined below, so the example also
runs offline with no extra package.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections import Counter
from pathlib import Path

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from voxtral_integrations.langchain import ChatVoxtral, VoxtralLoader, VoxtralSplitter

BUNDLED = Path(__file__).resolve().parent / "data" / "bcn_weather.mp3"
QUESTION = "How cold will it get today?"


class BM25Retriever(BaseRetriever):
    """Okapi BM25 over the documents' words: a real keyword ranking, no dependency."""

    documents: list[Document]
    k: int = 3

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        corpus = [_words(doc.page_content) for doc in self.documents]
        average = sum(map(len, corpus)) / max(len(corpus), 1)
        frequency = Counter(word for words in corpus for word in set(words))

        def score(words: list[str]) -> float:
            counts = Counter(words)
            total = 0.0
            for word in set(_words(query)):
                idf = math.log(1 + (len(corpus) - frequency[word] + 0.5) / (frequency[word] + 0.5))
                tf = counts[word]
                total += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(words) / average))
            return total

        ranked = sorted(zip(corpus, self.documents, strict=True), key=lambda p: -score(p[0]))
        return [doc for _, doc in ranked[: self.k]]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def retriever(documents: list[Document]) -> BaseRetriever:
    """Mistral embeddings with a key and ``langchain-mistralai``; BM25 otherwise."""
    if not os.environ.get("MISTRAL_API_KEY"):
        return BM25Retriever(documents=documents)
    try:
        from langchain_core.vectorstores import InMemoryVectorStore
        from langchain_mistralai import MistralAIEmbeddings
    except ImportError:  # pip install langchain-mistralai for semantic search
        return BM25Retriever(documents=documents)
    store = InMemoryVectorStore.from_documents(documents, MistralAIEmbeddings())
    return store.as_retriever(search_kwargs={"k": 3})


def main(argv: list[str]) -> int:
    audio = argv[0] if argv else str(BUNDLED)
    question = argv[1] if len(argv) > 1 else QUESTION
    # pieces cut between segments, each with its own start, end and citation
    splitter = VoxtralSplitter(max_characters=300, window_seconds=30)
    pieces = VoxtralLoader(audio).load_and_split(splitter)
    hits = retriever(pieces).invoke(question)
    excerpts = "\n".join(f"[{doc.metadata['start_timestamp']}] {doc.page_content}" for doc in hits)
    answer = ChatVoxtral().invoke(
        [
            ("system", "Answer from the transcript excerpts only; cite their [HH:MM:SS] times."),
            ("human", f"Transcript excerpts:\n{excerpts}\n\nQuestion: {question}"),
        ]
    )
    print(answer.content)
    print("\nSources:")
    for doc in hits:
        name, at = Path(doc.metadata["source"]).name, doc.metadata["start_timestamp"]
        print(f"  {name} @ {at}  ({doc.metadata['citation']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
