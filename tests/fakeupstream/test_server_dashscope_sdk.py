"""Alibaba's official dashscope SDK against the fake's native endpoint, running as a real
process, pointed there by `dashscope.base_http_api_url` (docs/upstream-protocol.md §2)."""

from collections.abc import Iterator
from typing import Any

import dashscope
import pytest

from chat.fakeupstream.scenarios import Scenario
from chat.fakeupstream.search import SEARCH_RESULTS
from chat.fakeupstream.testing import RunningFake
from chat.fakeupstream.texts import answer_text, reasoning_pieces, reasoning_text

PROMPT = "Tell me about streaming"


@pytest.fixture
def native(fake_upstream_process: RunningFake, monkeypatch) -> Iterator[RunningFake]:
    monkeypatch.setattr(dashscope, "base_http_api_url", fake_upstream_process.native_url)
    yield fake_upstream_process


def call(prompt: str = PROMPT, **extra: Any) -> list[Any]:
    return list(
        dashscope.Generation.call(
            api_key="sk-test",
            model="MiniMax-M2.5",
            messages=[{"role": "user", "content": prompt}],
            result_format="message",
            stream=True,
            incremental_output=True,
            **extra,
        )
    )


def test_sdk_streams_reasoning_then_answer_with_running_usage(native: RunningFake) -> None:
    responses = call()

    assert all(response.status_code == 200 for response in responses)
    messages = [response.output.choices[0].message for response in responses]
    reasoning = "".join(message.reasoning_content or "" for message in messages)
    content = "".join(message.content or "" for message in messages)
    expected = Scenario(tokens_per_second=0)
    assert reasoning == reasoning_text(expected, PROMPT)
    assert content == answer_text(expected, PROMPT)
    first_content = next(i for i, message in enumerate(messages) if message.content)
    assert not any(message.reasoning_content for message in messages[first_content:])
    finish_reasons = [response.output.choices[0].finish_reason for response in responses]
    assert finish_reasons[:-1] == ["null"] * (len(responses) - 1)
    assert finish_reasons[-1] == "stop"
    usage = responses[-1].usage
    assert usage.output_tokens == len(responses) - 1
    assert usage.output_tokens_details["reasoning_tokens"] == len(
        reasoning_pieces(expected, PROMPT)
    )
    assert [r.usage.output_tokens for r in responses[:3]] == [1, 2, 3]


def test_sdk_reads_the_search_sources(native: RunningFake) -> None:
    responses = call(
        enable_search=True, search_options={"enable_source": True, "enable_citation": True}
    )

    results = responses[0].output.search_info["search_results"]
    assert [result["url"] for result in results] == [r["url"] for r in SEARCH_RESULTS]
    content = "".join(r.output.choices[0].message.content or "" for r in responses)
    assert "[1][2][3]." in content


def test_sdk_reports_a_bad_key_with_the_native_code(native: RunningFake) -> None:
    (response,) = call("hi [[fake error=invalid_api_key]]")

    assert (response.status_code, response.code) == (401, "InvalidApiKey")
    assert response.message == "Invalid API-key provided."


def test_sdk_reports_an_error_event_in_the_middle_of_the_stream(native: RunningFake) -> None:
    responses = call("hi [[fake error=data_inspection_output at=5]]")

    assert all(r.status_code == 200 for r in responses[:-1])
    assert (responses[-1].status_code, responses[-1].code) == (400, "DataInspectionFailed")
