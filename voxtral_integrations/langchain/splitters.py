"""``VoxtralSplitter``: transcript Documents cut at segment seams, each piece with its own times.

``RecursiveCharacterTextSplitter`` copies a window's ``start``/``end`` onto every
piece it cuts, so a citation can point up to a window too early. This splitter
never cuts inside a segment: it packs per-segment Documents (``granularity=
"segment"``) into pieces, so every piece's ``start``, ``end`` and ``citation`` are
its own first segment's start and last segment's end.

Why per-segment Documents rather than boundaries stored on each window: metadata
stays flat scalars that every vector store takes, and a window's segment offsets
would be a bulky string on every stored chunk, or a side channel lost as soon as a
Document is copied, pickled or stored. Segment Documents carry their times already;
``VoxtralLoader.load_and_split()`` loads them and splits with this class. Given
coarser Documents (windows), it keeps each whole: times stay exact, and pieces are
then no smaller than a window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.documents import BaseDocumentTransformer, Document

from .._constants import DEFAULT_PIECE_CHARACTERS, DEFAULT_WINDOW_SECONDS
from .._records import check_split_options, piece, piece_groups

__all__ = ["VoxtralSplitter"]


class VoxtralSplitter(BaseDocumentTransformer):
    """Pack transcript Documents into pieces at segment boundaries, each with its own times.

    Example::

        from voxtral_integrations.langchain import VoxtralLoader, VoxtralSplitter

        segments = VoxtralLoader("talk.mp3", granularity="segment").load()
        pieces = VoxtralSplitter(max_characters=500).split_documents(segments)
        pieces[0].metadata["citation"]  # "talk.mp3#t=0.5,31.2"

    Args:
        max_characters: The most characters a piece holds; one segment longer than
            that is a piece of its own (a segment is never cut).
        window_seconds: The longest span a piece covers. Pieces also end at a
            speaker change and between files, so with the loader's
            ``window_seconds`` no piece spans two of the loader's windows.

    LangChain's ``TextSplitter`` lives in ``langchain-text-splitters``, which this
    library does not require; this is a ``BaseDocumentTransformer`` (langchain-core)
    with the same ``split_documents``.
    """

    def __init__(
        self,
        *,
        max_characters: int = DEFAULT_PIECE_CHARACTERS,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
    ) -> None:
        check_split_options(max_characters, window_seconds)
        self.max_characters = max_characters
        self.window_seconds = window_seconds

    def split_documents(self, documents: Sequence[Document]) -> list[Document]:
        """The pieces of ``documents`` (consecutive segments of one or many files)."""
        units = [(document.page_content, document.metadata) for document in documents]
        groups = piece_groups(
            units, max_characters=self.max_characters, window_seconds=self.window_seconds
        )
        records = [piece(units, group) for group in groups]
        return [Document(page_content=record.text, metadata=record.metadata) for record in records]

    def transform_documents(self, documents: Sequence[Document], **kwargs: Any) -> list[Document]:
        """The ``BaseDocumentTransformer`` name for :meth:`split_documents`."""
        return self.split_documents(documents)

    def __repr__(self) -> str:
        return (
            f"VoxtralSplitter(max_characters={self.max_characters}, "
            f"window_seconds={self.window_seconds})"
        )
