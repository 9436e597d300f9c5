"""The words for failed answers (chat.protocol.texts): one table keyed by Failure kind."""

from __future__ import annotations

import pytest

from chat.protocol.texts import FAILURE_TEXTS, RETRY_REASONS, failure_text, retrying_text
from chat.upstream.errors import KINDS
from chat.upstream.retry import RETRY_KINDS

APP_KINDS = {"internal_error", "server_shutdown"}


def test_every_kind_the_upstream_client_can_produce_has_words():
    assert KINDS - FAILURE_TEXTS.keys() == set()


def test_the_table_has_no_words_for_kinds_nobody_produces():
    assert FAILURE_TEXTS.keys() - KINDS - APP_KINDS == set()


def test_every_kind_that_is_retried_automatically_has_a_short_reason():
    assert RETRY_KINDS - RETRY_REASONS.keys() == set()


@pytest.mark.parametrize("kind", sorted(KINDS | APP_KINDS))
def test_every_text_is_a_sentence_ending_with_the_code(kind):
    params = {"upstream_message": "Upstream words.", "timeout_seconds": 60.0, "status": 418}

    text = failure_text(kind, "some_code", params)

    assert text.endswith(". (some_code)") or text.endswith("”. (some_code)")
    assert "?" not in text, "every placeholder is filled"
    assert "{" not in text


def test_it_says_what_happened_and_what_to_do():
    assert failure_text("bad_key", "invalid_api_key") == (
        "DashScope rejected the API key. Check the key in admin or DASHSCOPE_API_KEY "
        "(keys only work in the region they were created for). (invalid_api_key)"
    )
    assert failure_text("input_too_long", "invalid_parameter_error") == (
        "This conversation is too long for the model to read. Start a new chat to continue. "
        "(invalid_parameter_error)"
    )


def test_it_quotes_the_upstream_message_where_it_is_the_only_detail():
    text = failure_text(
        "bad_parameter", "InvalidParameter", {"upstream_message": "Range of top_p should be (0, 1]"}
    )

    assert text == (
        "DashScope rejected a setting in the request; this is a bug or a wrong setting in admin. "
        "DashScope said: “Range of top_p should be (0, 1]”. (InvalidParameter)"
    )


def test_it_names_the_limit_of_a_timeout():
    text = failure_text("timeout_first_byte", "timeout_first_byte", {"timeout_seconds": 60.0})

    assert "within 60 s" in text


def test_an_unknown_kind_falls_back_to_a_generic_sentence_with_a_short_quote():
    text = failure_text("from_the_future", "Weird.Code", {"upstream_message": "x" * 500})

    assert text.startswith("The answer failed because of an unexpected error. DashScope said: “")
    assert text.endswith("”. (Weird.Code)")
    assert len(text) < 300


def test_an_unknown_kind_without_a_message_still_names_the_code():
    assert failure_text("", "mystery") == (
        "The answer failed because of an unexpected error. (mystery)"
    )


def test_a_row_stored_before_kinds_existed_shows_its_old_words():
    old = "DashScope is rate-limiting requests. (limit_requests)"

    assert failure_text("", "limit_requests", {"legacy_text": old}) == old


@pytest.mark.parametrize(
    ("delay", "expected"),
    [
        (4.2, "Rate limited by DashScope — retrying in 4 s (attempt 2 of 4)"),
        (0.6, "Rate limited by DashScope — retrying in 1 s (attempt 2 of 4)"),
        (0.1, "Rate limited by DashScope — retrying (attempt 2 of 4)"),
    ],
)
def test_the_retry_notice_says_why_when_and_which_attempt(delay, expected):
    text = retrying_text("rate_limited", {}, delay_seconds=delay, attempt=2, max_attempts=4)

    assert text == expected
