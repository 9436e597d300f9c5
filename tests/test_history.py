"""What the model is sent: the whole conversation in order, earlier reasoning never replayed."""

from __future__ import annotations

import pytest

from chat.models import Conversation, Message
from chat.selectors import history_for_upstream
from chat.streaming.orchestration import _build_request
from chat.upstream.protocols.openai_compat import OpenAICompatProtocol
from chat.upstream_config import upstream_resolve

pytestmark = pytest.mark.django_db


def _conversation(owner, **fields) -> Conversation:
    return Conversation.objects.create(owner=owner, title="t", **fields)


def _add(conversation, role, content="", **fields) -> Message:
    return Message.objects.create(conversation=conversation, role=role, content=content, **fields)


def test_history_is_every_turn_in_order_without_reasoning(alice):
    conversation = _conversation(alice, system_prompt="Be brief.")
    _add(conversation, "user", "What is 2+2?")
    _add(conversation, "assistant", "4", reasoning="2+2 is 4, obviously.")
    _add(conversation, "user", "And 3+3?")
    pending = _add(conversation, "assistant", status="streaming")

    history = history_for_upstream(conversation=conversation, before_id=pending.pk)

    assert history == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
    ]


def test_failed_answers_without_text_are_left_out_but_stopped_text_stays(alice):
    conversation = _conversation(alice)
    _add(conversation, "user", "first")
    _add(conversation, "assistant", "", status="failed", error_code="limit_requests")
    _add(conversation, "user", "second")
    _add(conversation, "assistant", "half an ans", status="stopped")
    _add(conversation, "user", "third")
    pending = _add(conversation, "assistant", status="streaming")

    history = history_for_upstream(conversation=conversation, before_id=pending.pk)

    assert [m["content"] for m in history] == ["first", "second", "half an ans", "third"]


def test_a_retried_answer_is_not_sent_its_own_old_text(alice):
    conversation = _conversation(alice)
    _add(conversation, "user", "question")
    retried = _add(conversation, "assistant", "old answer", status="complete")

    history = history_for_upstream(conversation=conversation, before_id=retried.pk)

    assert history == [{"role": "user", "content": "question"}]


def test_the_request_carries_the_conversation_settings(alice):
    conversation = _conversation(
        alice, model="MiniMax-M2.1", temperature=0.7, top_p=0.8, max_tokens=512
    )
    _add(conversation, "user", "hi")
    pending = _add(conversation, "assistant", status="streaming")

    body = OpenAICompatProtocol().body(_build_request(conversation, pending, upstream_resolve()))

    assert body["model"] == "MiniMax-M2.1"
    assert body["temperature"] == 0.7
    assert body["top_p"] == 0.8
    assert body["presence_penalty"] == 0.0
    assert body["max_tokens"] == 512
    assert "thinking_budget" not in body and "enable_thinking" not in body
    assert "enable_search" not in body


def test_earlier_reasoning_goes_back_only_when_the_provider_asks_for_it(alice):
    conversation = _conversation(alice)
    _add(conversation, "user", "question")
    _add(conversation, "assistant", "answer", reasoning="thoughts", status="complete")
    pending = _add(conversation, "assistant", status="streaming")

    without = history_for_upstream(conversation=conversation, before_id=pending.pk)
    with_it = history_for_upstream(
        conversation=conversation, before_id=pending.pk, with_reasoning=True
    )

    assert without[1] == {"role": "assistant", "content": "answer"}
    assert with_it[1] == {
        "role": "assistant",
        "content": "answer",
        "reasoning_content": "thoughts",
    }


def test_web_search_goes_out_with_the_native_options_only_on_the_native_protocol(alice, settings):
    conversation = _conversation(alice, enable_search=True)
    _add(conversation, "user", "hi")
    pending = _add(conversation, "assistant", status="streaming")

    compat = _build_request(conversation, pending, upstream_resolve())
    settings.OFFLINE_DEMO_PROTOCOL = "dashscope_native"
    native = _build_request(conversation, pending, upstream_resolve())

    assert (compat.enable_search, dict(compat.search_options)) == (True, {})
    assert native.enable_search is True
    assert native.search_options["enable_source"] is True
    assert native.search_options["enable_citation"] is True
