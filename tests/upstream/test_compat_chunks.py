import json

from chat.upstream.events import AnswerDelta, Failure, Finish, ReasoningDelta, Usage
from chat.upstream.protocols.openai_compat import CompatStream
from chat.upstream.protocols.stream import usage_from_dict
from chat.upstream.sse import SSEEvent


def chunk(delta=None, finish_reason=None, **extra) -> SSEEvent:
    payload = {
        "choices": [
            {"delta": delta or {}, "index": 0, "logprobs": None, "finish_reason": finish_reason}
        ],
        "object": "chat.completion.chunk",
        "usage": None,
        **extra,
    }
    return SSEEvent(None, json.dumps(payload), None)


def frame(payload: dict, event: str | None = None) -> SSEEvent:
    return SSEEvent(event, json.dumps(payload), None)


USAGE = {
    "prompt_tokens": 10,
    "completion_tokens": 360,
    "total_tokens": 370,
    "completion_tokens_details": {"reasoning_tokens": 300},
    "prompt_tokens_details": {"cached_tokens": 4},
}
DONE = SSEEvent(None, "[DONE]", None)


def run(*events: SSEEvent, eof: bool = False) -> list:
    stream = CompatStream(request_id="req-1")
    out = []
    for event in events:
        out += stream.on_event(event)
    return out + (stream.on_eof([]) if eof else [])


def test_the_role_chunk_with_empty_reasoning_emits_nothing():
    first = chunk({"content": None, "role": "assistant", "reasoning_content": ""})

    assert run(first) == []


def test_it_holds_finish_until_done_and_puts_the_late_usage_before_it():
    events = run(
        chunk({"content": None, "reasoning_content": "think"}),
        chunk({"content": "Hi", "reasoning_content": None}),
        chunk({"content": "", "reasoning_content": None}, finish_reason="stop"),
        frame({"choices": [], "usage": USAGE}),
        DONE,
    )

    assert events == [
        ReasoningDelta("think"),
        AnswerDelta("Hi"),
        Usage(10, 360, 370, reasoning_tokens=300, cached_tokens=4),
        Finish("stop"),
    ]


def test_usage_details_may_be_missing_or_null():
    raw = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}

    assert usage_from_dict(raw) == Usage(1, 2, 3, None, None)
    assert usage_from_dict(
        {**raw, "completion_tokens_details": None, "prompt_tokens_details": None}
    ) == Usage(1, 2, 3, None, None)


def test_an_error_frame_after_the_finish_chunk_is_a_failure_not_a_finish():
    events = run(
        chunk({"content": "Hi"}, finish_reason="stop"),
        frame({"error": {"message": "Output data…", "code": "data_inspection_failed"}}),
    )

    assert events[0] == AnswerDelta("Hi")
    assert isinstance(events[1], Failure)
    assert events[1].code == "data_inspection_failed"
    assert events[1].request_id == "req-1"
    assert len(events) == 2


def test_a_top_level_code_without_choices_is_a_failure():
    events = run(frame({"code": "Throttling", "message": "Requests throttling triggered."}))

    assert [(e.code, e.retryable) for e in events] == [("Throttling", True)]


def test_a_code_next_to_choices_is_not_an_error():
    events = run(chunk({"content": "ok"}, code="200"))

    assert events == [AnswerDelta("ok")]


def test_tool_call_deltas_are_ignored_without_crashing():
    tool = {"index": 0, "id": "", "type": "function", "function": {"arguments": '{"a"'}}

    events = run(
        chunk({"content": None, "reasoning_content": None, "tool_calls": [tool]}),
        chunk({"content": "", "reasoning_content": None}, finish_reason="tool_calls"),
        DONE,
    )

    assert events == [Finish("tool_calls")]


def test_json_that_is_not_an_object_is_a_malformed_stream():
    events = run(SSEEvent(None, "[1, 2]", None))

    assert [(e.code, e.retryable, e.upstream_message) for e in events] == [
        ("malformed_stream", True, "[1, 2]")
    ]


def test_a_frame_that_is_not_json_is_a_malformed_stream_and_ends_the_response():
    stream = CompatStream()

    events = stream.on_event(SSEEvent(None, "<html>oops", None))

    assert (events[0].code, events[0].kind) == ("malformed_stream", "malformed_stream")
    assert events[0].upstream_message == "<html>oops"
    assert stream.finished
    assert stream.on_event(chunk({"content": "late"})) == []


def test_frames_glued_without_a_blank_line_are_both_read():
    first, second = chunk({"reasoning_content": "a"}), chunk({"content": "b"})

    events = run(SSEEvent(None, f"{first.data}\n{second.data}", None))

    assert events == [ReasoningDelta("a"), AnswerDelta("b")]


def test_the_native_null_string_is_not_a_finish_reason():
    events = run(chunk({"content": "x"}, finish_reason="null"), eof=True)

    assert [type(e).__name__ for e in events] == ["AnswerDelta", "Failure"]
    assert events[1].code == "truncated"


def test_done_without_a_finish_reason_is_truncated():
    events = run(chunk({"content": "x"}), DONE)

    assert events[-1] == Failure(
        code="truncated",
        kind="truncated",
        upstream_message="",
        status=200,
        request_id="req-1",
        retryable=True,
    )


def test_a_cut_off_last_frame_at_eof_counts_as_missing():
    stream = CompatStream()
    stream.on_event(chunk({"content": "x"}, finish_reason="length"))

    events = stream.on_eof([SSEEvent(None, '{"choices":[],"usa', None)])

    assert events == [Finish("length")]


def test_an_unclosed_think_block_is_flushed_as_reasoning_before_a_failure():
    stream = CompatStream()
    assert stream.on_event(chunk({"content": "<think>abc</th"})) == [ReasoningDelta("abc")]

    events = stream.on_eof([])

    assert events[0] == ReasoningDelta("</th")
    assert events[1].code == "truncated"


def test_it_reports_only_the_last_usage_when_a_server_sends_running_totals():
    running = {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}

    events = run(
        chunk({"content": "a"}, usage=running),
        chunk({"content": "b"}, finish_reason="stop", usage={**USAGE}),
        DONE,
    )

    assert [e for e in events if isinstance(e, Usage)] == [Usage(10, 360, 370, 300, 4)]
    assert events[-1] == Finish("stop")
