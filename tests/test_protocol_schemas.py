"""The frame schemas the consumer tests check against are the ones the protocol document
lists: every documented frame type and error code has a schema, and nothing else does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chat.protocol import texts
from tests.protocol_schemas import ERROR_CODES, FRAMES, check_frame

DOC = (Path(__file__).resolve().parent.parent / "docs" / "websocket-protocol.md").read_text()


def _section(title: str) -> str:
    return DOC.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_every_documented_server_frame_has_a_schema():
    server = _section("Server → client").split("### ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z.]+)` \|", server, flags=re.M))
    assert documented == set(FRAMES)


def test_every_documented_error_code_has_a_schema_and_words():
    codes = _section("Server → client").split("### Error codes", 1)[1]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", codes, flags=re.M))
    assert documented == ERROR_CODES
    assert set(texts.PROTOCOL_TEXTS) >= ERROR_CODES


def test_a_frame_with_an_undocumented_field_fails_the_check():
    with pytest.raises(AssertionError, match="undocumented"):
        check_frame({"type": "error", "code": "busy", "message": "", "request_type": None, "x": 1})


def test_an_undocumented_error_code_fails_the_check():
    with pytest.raises(AssertionError, match="undocumented error code"):
        check_frame({"type": "error", "code": "oops", "message": "", "request_type": None})
