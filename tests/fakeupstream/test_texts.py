import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat.fakeupstream.scenarios import ANSWER_KINDS, Scenario
from chat.fakeupstream.texts import (
    answer_pieces,
    answer_text,
    reasoning_pieces,
    reasoning_text,
    tokenize,
)


@given(st.text())
def test_tokenize_round_trips_any_text(text: str) -> None:
    assert "".join(tokenize(text)) == text


@pytest.mark.parametrize("kind", ANSWER_KINDS)
def test_tokenize_round_trips_every_answer(kind: str) -> None:
    text = answer_text(Scenario(answer=kind), "Explain **this**\n  please 你好 🚀")
    assert "".join(tokenize(text)) == text


def test_tokenize_keeps_leading_space_and_splits_cjk_and_emoji() -> None:
    assert tokenize("Hello, world! 日本語 🚀✨") == [
        "Hello",
        ",",
        " world",
        "!",
        " ",
        "日",
        "本",
        "語",
        " ",
        "🚀",
        "✨",
    ]


def test_tokenize_splits_numbers_and_indentation() -> None:
    assert tokenize("    x = 12345") == ["   ", " x", " =", " 123", "45"]


@pytest.mark.parametrize("kind", ANSWER_KINDS)
def test_texts_are_deterministic(kind: str) -> None:
    scenario = Scenario(answer=kind)
    assert answer_text(scenario, "same prompt") == answer_text(Scenario(answer=kind), "same prompt")
    assert reasoning_text(scenario, "same prompt") == reasoning_text(scenario, "same prompt")


def test_markdown_answer_has_every_feature() -> None:
    text = answer_text(Scenario(), "anything")
    for feature in ("## ", "**", "`inline code`", "```python", "|---|", "\n- ", "日本語と中文"):
        assert feature in text
    assert "🚀✨" in text


def test_demo_answer_says_it_is_a_demo_and_how_to_connect() -> None:
    text = answer_text(Scenario(answer="demo"), "What is the capital of France?\nThanks")
    assert "offline demo" in text
    assert "not MiniMax-M2.5" in text
    assert "> What is the capital of France?\n> Thanks" in text
    assert "DASHSCOPE_API_KEY" in text
    assert "Django admin" in text
    for feature in ("```python", "| Setting |", "\n- ", "日本語と中文", "🚀✨"):
        assert feature in text


def test_demo_reasoning_mentions_prompt_and_demo_at_natural_length() -> None:
    text = reasoning_text(Scenario(answer="demo", reasoning_tokens=None), "capital of France?")
    assert '"capital of France?"' in text
    assert "offline demo" in text
    assert text.endswith("Let me write that.")


def test_token_counts_are_exact_when_asked() -> None:
    scenario = Scenario(reasoning_tokens=300, answer="short", answer_tokens=50)
    assert len(reasoning_pieces(scenario, "hi")) == 300
    assert len(answer_pieces(scenario, "hi")) == 50
    assert len(answer_pieces(Scenario(answer_tokens=3), "hi")) == 3
    assert reasoning_pieces(Scenario(reasoning_tokens=0), "hi") == []


def test_echo_repeats_the_prompt() -> None:
    assert answer_text(Scenario(answer="echo"), "say 你好 back") == "say 你好 back"
    assert answer_text(Scenario(answer="echo", answer_tokens=3), "say 你好 back") == "say 你"


def test_long_answer_is_long() -> None:
    assert len(answer_pieces(Scenario(answer="long"), "x")) > 500
