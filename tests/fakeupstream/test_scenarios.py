import argparse

import pytest

from chat.fakeupstream.scenarios import (
    ERRORS,
    Scenario,
    ScenarioError,
    add_scenario_arguments,
    parse_spec,
    prompt_of,
    scenario_from,
    scenario_from_cli,
)

REQUIRED_ERRORS = [
    "invalid_api_key",
    "arrearage",
    "data_inspection_input",
    "data_inspection_output",
    "input_too_long",
    "invalid_parameter",
    "access_denied",
    "model_not_found",
    "limit_requests",
    "limit_burst_rate",
    "insufficient_quota",
    "free_quota_exhausted",
    "throttling_allocation_quota",
    "internal_error",
    "request_timeout",
    "model_unavailable",
    "model_serving_error",
    "throttling",
    "commodity_not_purchased",
    "prepaid_bill_overdue",
    "postpaid_bill_overdue",
    "model_not_supported",
]


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_errors_table_covers_protocol_rows() -> None:
    assert set(REQUIRED_ERRORS) <= set(ERRORS)
    assert ERRORS["invalid_api_key"].status == 401
    assert ERRORS["limit_requests"].native_code == "Throttling.RateQuota"
    assert ERRORS["insufficient_quota"].status == 429
    assert ERRORS["arrearage"].status == 400
    assert ERRORS["throttling_allocation_quota"].code == "Throttling.AllocationQuota"
    assert ERRORS["model_unavailable"].status == 503


def test_header_overrides_with_aliases() -> None:
    headers = {"X-Fake-Scenario": "tps=50; error=limit_requests;at=3;shape=data;split"}
    scenario = scenario_from(headers, user("hi"), Scenario())
    assert scenario.tokens_per_second == 50
    assert (scenario.error, scenario.error_at, scenario.error_shape) == (
        "limit_requests",
        3,
        "data",
    )
    assert scenario.split_utf8 is True


def test_marker_in_last_user_message_wins_over_header() -> None:
    messages = [
        {"role": "user", "content": "[[fake answer=cjk]] old"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "hello [[fake answer=echo reasoning-tokens=0 crlf=true]]"},
    ]
    scenario = scenario_from({"x-fake-scenario": "answer=short;tps=0"}, messages, Scenario())
    assert (scenario.answer, scenario.reasoning_tokens, scenario.crlf) == ("echo", 0, True)
    assert scenario.tokens_per_second == 0
    assert prompt_of(messages) == "hello"


def test_marker_in_text_parts() -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "[[fake answer=short]]"}]}]
    assert scenario_from({}, messages, Scenario()).answer == "short"


@pytest.mark.parametrize(
    "spec",
    [
        "tps=fast",
        "colour=red",
        "error=no_such_error",
        "answer=poem",
        "shape=xml",
        "at=2",
        "finish=tool_calls",
        "tokens=-1",
        "error",
        "crlf=maybe",
    ],
)
def test_invalid_specs_raise(spec: str) -> None:
    with pytest.raises(ScenarioError):
        scenario_from({"X-Fake-Scenario": spec}, user("hi"), Scenario())


def test_none_values_and_bare_flags() -> None:
    assert parse_spec("reasoning=none keepalive") == {"reasoning_tokens": None, "keepalive": True}


def test_summary_lists_only_changes() -> None:
    assert Scenario().summary() == "default"
    assert Scenario(tokens_per_second=5, keepalive=True).summary() == "tps=5 ping=True"


def test_cli_flags() -> None:
    parser = argparse.ArgumentParser()
    add_scenario_arguments(parser)
    args = parser.parse_args(
        [
            "--tps",
            "0",
            "--answer",
            "demo",
            "--reasoning-tokens",
            "none",
            "--error",
            "arrearage",
            "--error-at",
            "4",
            "--error-shape",
            "event",
            "--keepalive",
            "--crlf",
        ]
    )
    scenario = scenario_from_cli(args)
    assert scenario == Scenario(
        tokens_per_second=0,
        answer="demo",
        reasoning_tokens=None,
        error="arrearage",
        error_at=4,
        error_shape="event",
        keepalive=True,
        crlf=True,
    )
    assert scenario_from_cli(parser.parse_args([])) == Scenario()
