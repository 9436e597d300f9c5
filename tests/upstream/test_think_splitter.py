from hypothesis import given
from hypothesis import strategies as st

from chat.upstream.events import AnswerDelta, ReasoningDelta
from chat.upstream.reasoning import ThinkTagSplitter, reasoning_from_delta


def split(*pieces: str) -> tuple[str, str]:
    """Feed pieces; return (reasoning, answer) as joined text."""
    splitter = ThinkTagSplitter()
    events = [event for piece in pieces for event in splitter.feed(piece)] + splitter.close()
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    answer = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert all(event.text for event in events), "no empty deltas"
    return reasoning, answer


def test_it_prefers_reasoning_content():
    delta = {"reasoning_content": "a", "reasoning": "b", "reasoning_details": [{"text": "c"}]}

    assert reasoning_from_delta(delta) == "a"


def test_it_falls_back_to_the_reasoning_field():
    assert reasoning_from_delta({"reasoning_content": None, "reasoning": "vllm"}) == "vllm"
    assert reasoning_from_delta({"reasoning_content": "", "reasoning": "or"}) == "or"


def test_it_joins_the_text_of_reasoning_text_details_and_skips_other_types():
    delta = {
        "content": "",
        "reasoning_details": [
            {"type": "reasoning.text", "text": "one ", "format": "MiniMax-response-v1"},
            {"type": "reasoning.encrypted", "data": "xyz"},
            {"type": "reasoning.summary", "summary": "sum"},
            {"text": "two"},
            "junk",
            {"type": "reasoning.text", "text": None},
        ],
    }

    assert reasoning_from_delta(delta) == "one two"


def test_it_finds_no_reasoning_in_an_answer_delta():
    assert reasoning_from_delta({"content": "hi", "reasoning_content": None}) == ""
    assert reasoning_from_delta({"reasoning_details": None}) == ""


def test_it_routes_a_leading_think_block_to_reasoning():
    assert split("<think>plan</think>\n\nAnswer") == ("plan", "Answer")


def test_it_handles_tags_split_across_pieces():
    assert split("<th", "ink>pl", "an</th", "in", "k>", "\n", "\nAns", "wer") == (
        "plan",
        "Answer",
    )


def test_it_allows_whitespace_before_the_opening_tag():
    assert split("\n ", " <think>x</think>y") == ("x", "y")


def test_it_passes_through_an_answer_that_does_not_start_with_think():
    assert split("Hello ", "<think>not reasoning</think>") == (
        "",
        "Hello <think>not reasoning</think>",
    )


def test_it_passes_through_a_prefix_that_turns_out_not_to_be_a_tag():
    assert split("<th", "is is html") == ("", "<this is html")
    assert split("  <b>bold</b>") == ("", "  <b>bold</b>")


def test_it_never_splits_a_second_think_after_the_first_block():
    assert split("<think>a</think>b <think>c</think>") == ("a", "b <think>c</think>")


def test_it_treats_an_unclosed_think_block_at_the_end_as_reasoning():
    assert split("<think>still thinking</thi") == ("still thinking</thi", "")


def test_it_emits_a_partial_opening_tag_at_the_end_as_answer():
    assert split("<thi") == ("", "<thi")


def test_it_keeps_a_whitespace_only_answer():
    assert split(" \n") == ("", " \n")


def test_it_streams_reasoning_without_waiting_for_the_closing_tag():
    splitter = ThinkTagSplitter()

    assert splitter.feed("<think>abc") == [ReasoningDelta("abc")]
    assert splitter.feed("def</") == [ReasoningDelta("def")]
    assert splitter.feed("x") == [ReasoningDelta("</x")]


@given(
    reasoning=st.text(alphabet="ab<>/thinkn \n", max_size=20).filter(lambda t: "</think>" not in t),
    answer=st.text(alphabet="ab<>/thinkn \n", max_size=20),
    cuts=st.lists(st.integers(0, 60), max_size=6),
)
def test_any_split_of_a_think_block_gives_the_same_result(reasoning, answer, cuts):
    whole = f"<think>{reasoning}</think>{answer}"
    points = sorted({min(cut, len(whole)) for cut in cuts})
    pieces = [whole[a:b] for a, b in zip([0, *points], [*points, len(whole)], strict=True)]

    assert split(*pieces) == (reasoning, answer.lstrip())
