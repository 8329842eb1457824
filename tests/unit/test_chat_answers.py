"""What an answer holds, read once for the adapters: pure, no framework, no socket."""

from __future__ import annotations

from typing import Any

from voxtral_integrations._chat_answers import ToolCallDrafts, text_and_thinking, usage_counts
from voxtral_integrations._models import ToolCall, Usage


def fragment(index: int | None, arguments: Any, name: str = "", id: str | None = None) -> ToolCall:
    return ToolCall.model_validate(
        {"id": id, "index": index, "function": {"name": name, "arguments": arguments}}
    )


def test_streamed_fragments_join_by_index_and_a_new_id_starts_a_new_call() -> None:
    drafts = ToolCallDrafts()
    drafts.merge([fragment(0, '{"ci', "weather", "abcdefghi")])
    drafts.merge([fragment(0, 'ty": "Paris"}')])  # vLLM: no name, no id on the rest
    drafts.merge([fragment(0, {"q": 1}, "search", "jklmnopqr")])  # same index, other id
    drafts.merge([fragment(0, ""), fragment(None, "{}", "last")])  # no index: its position
    assert [(c.id, c.name, c.arguments) for c in drafts.calls[:2]] == [
        ("abcdefghi", "weather", '{"city": "Paris"}'),
        ("jklmnopqr", "search", '{"q": 1}'),
    ]
    assert (drafts.calls[2].name, len(drafts.calls[2].id)) == ("last", 9)  # an id made up


def test_text_and_reasoning_are_read_from_every_content_shape() -> None:
    parts = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "hm, "}, "odd"]},
        {"type": "text", "text": "Paris"},
        {"type": "thinking", "thinking": "sure"},
    ]
    assert text_and_thinking(parts) == ("Paris", "hm, sure")
    assert text_and_thinking("Paris") == ("Paris", "")
    assert text_and_thinking(None) == ("", "")


def test_usage_counts_total_what_the_server_left_out() -> None:
    counts = usage_counts(Usage(prompt_tokens=3, completion_tokens=4, prompt_audio_seconds=2.5))
    assert counts == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
        "prompt_audio_seconds": 2.5,
    }
