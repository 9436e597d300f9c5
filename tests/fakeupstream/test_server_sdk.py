"""The official openai SDK against the fake running as a real process
(docs/upstream-protocol.md §1)."""

from typing import Any

import openai
import pytest
from openai import OpenAI

from chat.fakeupstream.scenarios import Scenario
from chat.fakeupstream.testing import RunningFake
from chat.fakeupstream.texts import answer_text, reasoning_pieces, reasoning_text

PROMPT = "Tell me about streaming"


def client(fake: RunningFake, scenario: str = "") -> OpenAI:
    headers = {"X-Fake-Scenario": scenario} if scenario else None
    return OpenAI(base_url=fake.url, api_key="sk-test", max_retries=0, default_headers=headers)


def stream(fake: RunningFake, scenario: str = "", **extra: Any) -> list[Any]:
    return list(
        client(fake, scenario).chat.completions.create(
            model="MiniMax-M2.5",
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
            **extra,
        )
    )


def test_sdk_streams_reasoning_then_content_then_usage(fake_upstream_process: RunningFake) -> None:
    chunks = stream(fake_upstream_process, stream_options={"include_usage": True})
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join(d.model_extra.get("reasoning_content") or "" for d in deltas)
    content = "".join(d.content or "" for d in deltas)
    expected = Scenario(tokens_per_second=0)
    assert reasoning == reasoning_text(expected, PROMPT)
    assert content == answer_text(expected, PROMPT)
    first_content = next(i for i, d in enumerate(deltas) if d.content)
    assert not any(d.model_extra.get("reasoning_content") for d in deltas[first_content:])
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    reasoning_tokens = len(reasoning_pieces(expected, PROMPT))
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == reasoning_tokens
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 0


def test_sdk_authentication_error(fake_upstream_process: RunningFake) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        stream(fake_upstream_process, "error=invalid_api_key")
    assert caught.value.code == "invalid_api_key"
    assert caught.value.request_id


def test_sdk_rate_limit_error(fake_upstream_process: RunningFake) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        stream(fake_upstream_process, "error=limit_requests")
    assert caught.value.code == "limit_requests"


def test_sdk_mid_stream_data_error(fake_upstream_process: RunningFake) -> None:
    with pytest.raises(openai.APIError) as caught:
        stream(fake_upstream_process, "error=data_inspection_output;at=5;shape=data")
    assert caught.value.code == "data_inspection_failed"
    assert not isinstance(caught.value, openai.APIStatusError)


def test_sdk_truncation_has_no_finish_reason(fake_upstream_process: RunningFake) -> None:
    chunks = stream(fake_upstream_process, "truncate=10")
    assert len(chunks) == 11
    assert all(c.choices[0].finish_reason is None for c in chunks)


def test_sdk_event_frame_mid_stream_is_a_silent_chunk(fake_upstream_process: RunningFake) -> None:
    chunks = stream(fake_upstream_process, "error=data_inspection_output;at=3;shape=event")
    assert chunks[-1].choices is None
    assert chunks[-1].model_extra["code"] == "DataInspectionFailed"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_sdk_non_streaming(fake_upstream_process: RunningFake) -> None:
    completion = client(fake_upstream_process).chat.completions.create(
        model="MiniMax-M2.5", messages=[{"role": "user", "content": PROMPT}]
    )
    expected = Scenario(tokens_per_second=0)
    assert completion.choices[0].message.content == answer_text(expected, PROMPT)
    assert completion.choices[0].message.model_extra["reasoning_content"] == reasoning_text(
        expected, PROMPT
    )
