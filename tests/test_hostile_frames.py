"""Hostile JSON gets invalid_json or invalid_frame, never internal_error or a traceback."""

from __future__ import annotations

import logging

import pytest

from tests.wsclient import receive_type

pytestmark = pytest.mark.django_db(transaction=True)

BAD_JSON = "invalid_json"
HOSTILE = [
    ("[" * 100_000 + "]" * 100_000, "invalid_json"),
    (
        '{"type": "subscribe", "conversation_id": ' + "[" * 50_000 + "]" * 50_000 + "}",
        "invalid_json",
    ),
    ('{"type": "subscribe", "conversation_id": NaN}', "invalid_json"),
    ('{"type": "subscribe", "conversation_id": Infinity}', "invalid_json"),
    ('{"type": "subscribe", "conversation_id": 1' + "0" * 5000 + "}", "invalid_json"),
    ('{"type": "subscribe", "conversation_id": 1e400}', "invalid_frame"),
    ('{"type": "send", "conversation_id": null, "content": {"a": [1, 2]}}', "invalid_frame"),
    ('{"type": ["subscribe"]}', "invalid_frame"),
    ('"just a string"', "invalid_frame"),
    ("\ud800", "invalid_json"),
]


@pytest.mark.parametrize(("text", "code"), HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_json_gets_a_plain_error(sockets, alice, caplog, text, code):
    communicator, _ = await sockets.open(alice)
    with caplog.at_level(logging.ERROR):
        await communicator.send_to(text_data=text)
        error = await receive_type(communicator, "error")
    assert error["code"] == code
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
