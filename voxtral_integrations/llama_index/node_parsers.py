"""``VoxtralNodeParser``: transcript Documents cut at segment seams, each node with its own times.

``SentenceSplitter`` copies a window's ``start``/``end`` onto every node it cuts,
so a citation can point up to a window too early. This parser never cuts inside a
segment: it packs per-segment Documents (``VoxtralReader(granularity="segment")``)
into nodes, so every node's ``start``, ``end`` and ``citation`` are its own first
segment's start and last segment's end. Why per-segment Documents rather than
boundaries stored on each window: see ``voxtral_integrations.langchain.splitters``
(the same core, ``_records.piece_groups``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import BaseNode, MetadataMode, NodeRelationship, TextNode

from .._constants import DEFAULT_PIECE_CHARACTERS, DEFAULT_WINDOW_SECONDS
from .._records import check_split_options, piece, piece_groups

__all__ = ["VoxtralNodeParser"]


class VoxtralNodeParser(NodeParser):
    """Pack transcript Documents into nodes at segment boundaries, each with its own times.

    Example::

        from llama_index.core.ingestion import IngestionPipeline
        from voxtral_integrations.llama_index import VoxtralNodeParser, VoxtralReader

        segments = VoxtralReader(granularity="segment").load_data("talk.mp3")
        nodes = IngestionPipeline(
            transformations=[VoxtralNodeParser(max_characters=500)]
        ).run(documents=segments)
        nodes[0].metadata["citation"]  # "talk.mp3#t=0.5,31.2"

    ``max_characters`` (characters, not tokens) bounds a node's text; a segment
    longer than that is a node of its own (a segment is never cut).
    ``window_seconds`` bounds the span a node covers; nodes also end at a speaker
    change and between files. Given coarser Documents (windows), each is kept whole:
    times stay exact. A node keeps its first segment's metadata, excluded keys and
    ``SOURCE`` relationship (that segment's Document).
    """

    max_characters: int = DEFAULT_PIECE_CHARACTERS
    window_seconds: float = DEFAULT_WINDOW_SECONDS

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        check_split_options(self.max_characters, self.window_seconds)

    @classmethod
    def class_name(cls) -> str:
        return "VoxtralNodeParser"

    def _parse_nodes(
        self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        units = [
            (node.get_content(metadata_mode=MetadataMode.NONE), node.metadata) for node in nodes
        ]
        groups = piece_groups(
            units, max_characters=self.max_characters, window_seconds=self.window_seconds
        )
        parsed: list[BaseNode] = []
        for position, group in enumerate(groups):
            record, unit = piece(units, group), nodes[group[0]]
            source = unit.as_related_node_info() if unit.source_node is None else unit.source_node
            parsed.append(
                TextNode(
                    id_=self.id_func(position, unit),
                    text=record.text,
                    metadata=dict(record.metadata),
                    excluded_embed_metadata_keys=list(unit.excluded_embed_metadata_keys),
                    excluded_llm_metadata_keys=list(unit.excluded_llm_metadata_keys),
                    relationships={NodeRelationship.SOURCE: source},
                )
            )
        return parsed
