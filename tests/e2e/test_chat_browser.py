"""What a person sees: log in, send, watch reasoning stream into the thinking section, see it
collapse when the answer starts, read the rendered answer, reload mid-stream and lose nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from chat.fakeupstream.scenarios import Scenario, prompt_of, scenario_from
from chat.fakeupstream.texts import answer_text, reasoning_text
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e

LAST_ASSISTANT = ".message[data-role=assistant] >> nth=-1"


def expected_texts(prompt: str) -> tuple[str, str]:
    messages = [{"role": "user", "content": prompt}]
    scenario = scenario_from({}, messages, Scenario(tokens_per_second=60))
    return reasoning_text(scenario, prompt_of(messages)), answer_text(scenario, prompt_of(messages))


def send_message(page, text: str) -> None:
    page.fill("#composer-input", text)
    expect(page.locator("#send-button")).to_be_enabled()  # the socket is open
    page.press("#composer-input", "Enter")


def message_state(page, message_id: str) -> dict:
    return page.evaluate("(id) => window.chatApp.messageState(Number(id))", message_id)


def test_reasoning_streams_into_an_open_thinking_section_that_collapses_for_the_answer(
    page, live_app
):
    log_in(page, live_app)
    prompt = "Show me a table [[fake tps=30 reasoning=80]]"
    send_message(page, prompt)

    message = page.locator(LAST_ASSISTANT)
    thinking = message.locator("details.thinking")
    expect(thinking).to_have_attribute("open", "")
    expect(message.locator(".thinking-body")).not_to_be_empty()
    expect(message.locator(".thinking-label")).to_contain_text("Thinking")
    expect(message.locator(".answer")).to_have_text("")
    expect(page.locator("#stop-button")).to_be_visible()

    expect(message).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(thinking).not_to_have_attribute("open", "")
    expect(message.locator(".thinking-label")).to_contain_text(re.compile(r"Thought for"))
    answer = message.locator(".answer")
    expect(answer.locator("h2").first).to_be_visible()
    expect(answer.locator("pre code").first).to_be_visible()
    expect(answer.locator("table").first).to_be_visible()
    expect(page.locator("#send-button")).to_be_visible()

    reasoning, content = expected_texts(prompt)
    state = message_state(page, message.get_attribute("data-message-id"))
    assert state["content"] == content
    assert state["reasoning"] == reasoning
    assert re.search(r"/c/\d+/$", page.url), "the new chat got its own address"
    assert page.errors == []


def test_reloading_mid_stream_loses_nothing_and_doubles_nothing(page, live_app):
    log_in(page, live_app)
    prompt = "Tell me a long story [[fake tps=40 reasoning=40 answer=long]]"
    send_message(page, prompt)
    message = page.locator(LAST_ASSISTANT)
    expect(message.locator(".answer")).not_to_be_empty(timeout=15_000)
    expect(message).to_have_attribute("data-status", "streaming")
    message_id = message.get_attribute("data-message-id")

    page.reload()
    reloaded = page.locator(f".message[data-message-id='{message_id}']")
    expect(reloaded).to_have_attribute("data-status", "streaming")
    expect(reloaded).to_have_attribute("data-status", "complete", timeout=60_000)

    reasoning, content = expected_texts(prompt)
    state = message_state(page, message_id)
    assert state["content"] == content
    assert state["reasoning"] == reasoning
    assert page.errors == []


def test_a_hand_opened_thinking_section_stays_open_when_the_answer_arrives(page, live_app):
    log_in(page, live_app)
    send_message(page, "Keep it open [[fake tps=30 reasoning=60]]")
    message = page.locator(LAST_ASSISTANT)
    thinking = message.locator("details.thinking")
    expect(thinking).to_have_attribute("open", "")
    message.locator(".thinking summary").click()  # the user closes it by hand...
    expect(thinking).not_to_have_attribute("open", "")
    message.locator(".thinking summary").click()  # ...and opens it again
    expect(message).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(thinking).to_have_attribute("open", "")


def test_stop_keeps_the_partial_answer_and_marks_it_stopped(page, live_app):
    log_in(page, live_app)
    send_message(page, "Go on and on [[fake tps=30 answer=long]]")
    message = page.locator(LAST_ASSISTANT)
    expect(message.locator(".thinking-body")).not_to_be_empty()
    page.click("#stop-button")
    expect(message).to_have_attribute("data-status", "stopped")
    expect(message.locator(".thinking-body")).not_to_be_empty()
    expect(page.locator("#send-button")).to_be_visible()


def test_an_upstream_error_is_shown_inline_with_its_code_and_a_retry(page, live_app):
    log_in(page, live_app)
    send_message(page, "Please fail [[fake error=limit_requests]]")
    message = page.locator(LAST_ASSISTANT)
    expect(message).to_have_attribute("data-status", "failed")
    expect(message.locator(".message-error")).to_contain_text("limit_requests")
    expect(message.locator(".retry-button")).to_be_visible()


def test_an_error_a_retry_cannot_fix_offers_no_retry_button(page, live_app):
    log_in(page, live_app)
    send_message(page, "Bad key [[fake error=invalid_api_key]]")
    message = page.locator(LAST_ASSISTANT)
    expect(message).to_have_attribute("data-status", "failed")
    expect(message.locator(".message-error")).to_contain_text("rejected the API key")
    expect(message.locator(".retry-button")).to_be_hidden()


def test_model_output_is_sanitized_and_remote_images_are_not_loaded(page, live_app):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    log_in(page, live_app)
    hostile = (
        '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script> '
        "![tracker](http://tracker.invalid/pixel.png) [link](javascript:window.pwned=3) "
        "[[fake tps=0 answer=echo]]"
    )
    send_message(page, hostile)
    message = page.locator(LAST_ASSISTANT)
    expect(message).to_have_attribute("data-status", "complete")
    assert page.evaluate("() => window.pwned") is None
    assert message.locator(".answer script").count() == 0
    assert message.locator(".answer img").count() == 0
    assert message.locator(".answer [onerror]").count() == 0
    assert message.locator(".answer a[href^='javascript']").count() == 0
    assert not any("tracker.invalid" in url for url in requests)


def test_a_reopened_conversation_shows_thinking_collapsed_with_its_duration(page, live_app):
    log_in(page, live_app)
    send_message(page, "Short one [[fake tps=0 reasoning=20]]")
    message = page.locator(LAST_ASSISTANT)
    expect(message).to_have_attribute("data-status", "complete")
    page.reload()
    reopened = page.locator(LAST_ASSISTANT)
    expect(reopened).to_have_attribute("data-status", "complete")
    expect(reopened.locator("details.thinking")).not_to_have_attribute("open", "")
    expect(reopened.locator(".thinking-label")).to_contain_text("Thought for")
    expect(page.locator("#conversation-list a[data-conversation-id]").first).to_be_visible()
