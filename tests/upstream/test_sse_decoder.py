import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from chat.upstream.sse import SSEDecoder, SSEEvent, json_payloads

STREAMS = Path(__file__).parent / "streams"


def decode(*chunks: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.close()


def test_it_decodes_the_literal_compatible_mode_example_into_six_data_events():
    events = decode((STREAMS / "compat_thinking.txt").read_bytes())

    assert len(events) == 6
    assert all(event.event is None and event.id is None for event in events)
    assert json.loads(events[1].data)["choices"][0]["delta"]["reasoning_content"] == "The user"
    assert json.loads(events[4].data)["choices"] == []
    assert json.loads(events[4].data)["usage"]["completion_tokens_details"] == {
        "reasoning_tokens": 300
    }
    assert events[5].data == "[DONE]"


def test_it_decodes_native_framing_and_ignores_the_http_status_comment():
    events = decode((STREAMS / "native_thinking.txt").read_bytes())

    assert [(event.event, event.id) for event in events] == [
        ("result", "1"),
        ("result", "2"),
        ("result", "3"),
        ("result", "4"),
    ]
    assert json.loads(events[0].data)["output"]["choices"][0]["message"]["reasoning_content"] == (
        "Hmm"
    )
    assert all(":HTTP_STATUS" not in event.data for event in events)


def test_it_treats_crlf_line_endings_like_lf():
    raw = (STREAMS / "compat_thinking.txt").read_bytes()

    assert decode(raw.replace(b"\n", b"\r\n")) == decode(raw)


def test_it_treats_cr_only_line_endings_like_lf():
    raw = (STREAMS / "compat_thinking.txt").read_bytes()

    assert decode(raw.replace(b"\n", b"\r")) == decode(raw)


def test_it_counts_a_crlf_split_across_two_chunks_as_one_line_break():
    events = decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n")

    assert events == [SSEEvent(event=None, data="a\nb", id=None)]


def test_it_ignores_comment_lines():
    events = decode(b": ping\n\n:HTTP_STATUS/200\ndata: x\n\n: OPENROUTER PROCESSING\n\n")

    assert events == [SSEEvent(event=None, data="x", id=None)]


def test_it_strips_exactly_one_space_after_the_colon():
    events = decode(b"data:no-space\n\ndata: one\n\ndata:  two\n\n")

    assert [event.data for event in events] == ["no-space", "one", " two"]


def test_it_joins_several_data_lines_with_newlines():
    events = decode(b"event: error\nid: 7\ndata: first\ndata:\ndata: third\n\n")

    assert events == [SSEEvent(event="error", data="first\n\nthird", id="7")]


def test_it_keeps_the_last_event_id_for_later_events_and_resets_the_event_name():
    events = decode(b"id:1\nevent:result\ndata:a\n\ndata:b\n\n")

    assert events == [SSEEvent("result", "a", "1"), SSEEvent(None, "b", "1")]


def test_it_does_not_dispatch_an_event_without_data_lines():
    assert decode(b"event: error\n\nid: 3\n\n") == []


def test_it_flushes_an_event_that_lacks_the_final_blank_line_at_close():
    assert decode(b"data: [DONE]") == [SSEEvent(None, "[DONE]", None)]


def test_it_skips_a_leading_byte_order_mark():
    assert decode(b"\xef\xbb\xbf", b"data: x\n\n") == [SSEEvent(None, "x", None)]


def test_it_decodes_cjk_and_emoji_split_at_every_byte_offset():
    raw = 'data: {"content":"你好世界 👋🏽 emoji"}\n\n'.encode()
    expected = [SSEEvent(None, '{"content":"你好世界 👋🏽 emoji"}', None)]

    for offset in range(len(raw) + 1):
        assert decode(raw[:offset], raw[offset:]) == expected, offset
    assert decode(*(raw[i : i + 1] for i in range(len(raw)))) == expected


def test_it_replaces_invalid_utf8_instead_of_crashing():
    events = decode(b"data: a\xff\xfeb\n\n", b"data: cut \xe4\xbd")

    assert events == [SSEEvent(None, "a\ufffd\ufffdb", None), SSEEvent(None, "cut \ufffd", None)]


def test_json_payloads_reads_frames_that_an_old_gateway_glued_together():
    assert json_payloads('{"a": 1}\n{"b": 2}') == [{"a": 1}, {"b": 2}]
    assert json_payloads('{"a": 1}') == [{"a": 1}]


def test_json_payloads_rejects_text_that_is_not_json():
    for data in ("not json", "{", "\n", '{"a": 1}\nnope'):
        try:
            json_payloads(data)
        except ValueError:
            continue
        raise AssertionError(f"accepted {data!r}")


# Field values: any text without line breaks (those end a line), including CJK and emoji.
_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=20,
)
_events = st.lists(
    st.tuples(
        st.one_of(st.none(), _values.filter(bool)),
        st.lists(_values, min_size=1, max_size=3),
    ),
    max_size=6,
)
_line_breaks = st.sampled_from(["\n", "\r\n", "\r"])


@given(events=_events, line_break=_line_breaks, comment=st.booleans(), data=st.data())
def test_any_split_of_a_valid_stream_yields_the_same_events_as_feeding_it_whole(
    events, line_break, comment, data
):
    lines = []
    for name, data_lines in events:
        if comment:
            lines.append(": keep-alive")
        if name is not None:
            lines.append(f"event: {name}")
        lines += [f"data: {value}" for value in data_lines]
        lines.append("")
    raw = "".join(line + line_break for line in lines).encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=8)))
    chunks = [raw[start:end] for start, end in zip([0, *cuts], [*cuts, len(raw)], strict=True)]

    expected = [SSEEvent(name or None, "\n".join(values), None) for name, values in events]
    assert decode(raw) == expected
    assert decode(*chunks) == expected
