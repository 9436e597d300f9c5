"""Codes -> words, in one table. Errors and refusals are stored and sent as a code plus
parameters; the words are made here when a frame or page is built, so the interface can be
translated and messages already stored follow the reader's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Refusals and frame errors of the websocket protocol (docs/websocket-protocol.md).
PROTOCOL_TEXTS: dict[str, str] = {
    "invalid_json": "The frame is not valid JSON.",
    "invalid_frame": "{detail}",
    "unknown_type": "Unknown frame type '{frame_type}'.",
    "too_large": "The frame is larger than {max_bytes} bytes.",
    "empty_message": "The message is empty.",
    "message_too_long": (
        "The message has {length:,} characters; the limit is {limit:,}. Nothing was sent."
    ),
    "not_found": "That conversation or message does not exist.",
    "busy": "An answer is still being generated in this conversation. Stop it or wait.",
    "not_retryable": "Only the last answer of a conversation can be retried, once it has ended.",
    "rate_limited": (
        "You started {limit} answers in the last minute, the most allowed. "
        "Try again in {retry_after} s."
    ),
    "too_many_generations": (
        "You have {limit} answers generating at once, the most allowed. Wait for one to end."
    ),
    "quota_daily_tokens": (
        "You have used {used:,} of your {limit:,} tokens for today, so this message was not "
        "sent. Your daily budget resets at {reset_time}."
    ),
    "quota_monthly_tokens": (
        "You have used {used:,} of your {limit:,} tokens for this month, so this message was "
        "not sent. Your monthly budget resets at {reset_time}."
    ),
    "quota_requests_per_minute": (
        "You may start {limit} answers a minute and have used them all, so this message was "
        "not sent. Try again at {reset_time} (in {retry_after} s)."
    ),
    "subscribe_rate_limited": "Too many conversation loads at once. Wait a moment.",
    "shutting_down": "The server is restarting. Send your message again in a few seconds.",
    "model_unavailable": (
        "No enabled provider offers the model {model}. Pick another model or ask an "
        "administrator to enable it."
    ),
    "internal_error": "The server failed to handle that request.",
}

# Refusals of the history, search and share pages and their JSON endpoints (chat.views).
REQUEST_TEXTS: dict[str, str] = {
    "empty_title": "A title cannot be empty.",
    "title_too_long": "A title can have at most {limit} characters; this one has {length}.",
    "bad_cursor": "That page link is not valid. Reload the page.",
    "not_found": "That conversation does not exist.",
    "share_not_found": "This shared link does not exist or was revoked by its owner.",
    "bad_request": "The request was not understood: {detail}",
}

# How an answer failed, by Failure kind (chat.upstream.errors.KINDS, plus the app's own
# internal_error and server_shutdown). Say what happened and what to do. {quote} becomes
# ' DashScope said: “…”.' when the upstream sent a message, else nothing.
FAILURE_TEXTS: dict[str, str] = {
    "bad_key": (
        "DashScope rejected the API key. Check the key in admin or DASHSCOPE_API_KEY "
        "(keys only work in the region they were created for)."
    ),
    "overdue": (
        "The Alibaba Cloud account behind the API key has an overdue payment, so DashScope "
        "refused the request. Settle the bill in the Alibaba Cloud console, then try again."
    ),
    "input_too_long": (
        "This conversation is too long for the model to read. Start a new chat to continue."
    ),
    "bad_parameter": (
        "DashScope rejected a setting in the request; this is a bug or a wrong setting in "
        "admin.{quote}"
    ),
    "access_denied": (
        "The DashScope account is not allowed to use this model. Enable the model in the Model "
        "Studio console, or check that the key and the base URL are from the same region."
    ),
    "model_not_activated": (
        "This model has not been activated for the DashScope account. Activate it in the Model "
        "Studio console."
    ),
    "free_tier_only": (
        "The free quota for this model is used up and the account is set to use the free tier "
        "only. Turn off 'free tier only' in the Model Studio console to keep using it."
    ),
    "free_quota_used": (
        "The free quota for this model is used up. Switch the account to paid use in the Model "
        "Studio console to keep using it."
    ),
    "model_not_found": (
        "DashScope does not know this model name, or the API key has no access to it. Check "
        "the model setting in admin."
    ),
    "model_not_compatible": (
        "This model is not offered on DashScope's OpenAI-compatible endpoint. Pick another model."
    ),
    "throttled": "DashScope is throttling requests right now. Wait a moment and retry.",
    "rate_limited": (
        "DashScope is rate-limiting requests (too many per minute). Wait a moment and retry."
    ),
    "burst_rate": "Requests to DashScope ramped up too quickly. Wait a few seconds and retry.",
    "token_throttle": (
        "DashScope's per-minute token limit was reached. Wait about a minute and retry."
    ),
    "not_purchased": (
        "Model Studio has not been activated (purchased) for this Alibaba Cloud account. "
        "Activate it in the Alibaba Cloud console."
    ),
    "prepaid_overdue": (
        "The Alibaba Cloud account's prepaid bill is overdue. Settle it in the billing console, "
        "then try again."
    ),
    "postpaid_overdue": (
        "The Alibaba Cloud account's postpaid bill is overdue. Settle it in the billing "
        "console, then try again."
    ),
    "server_error": "DashScope had an internal error. Try again in a moment.",
    "upstream_timeout": "DashScope took too long to produce the answer. Try again.",
    "overloaded": (
        "The model is overloaded or temporarily unavailable on DashScope. Try again shortly."
    ),
    "moderation_input": (
        "DashScope's content filter blocked your message. Rephrase it and try again."
    ),
    "moderation_output": (
        "DashScope's content filter stopped the model's reply. Try rephrasing your request."
    ),
    "moderation": (
        "DashScope's content filter blocked this conversation. Rephrase your message and try again."
    ),
    "bad_request": "DashScope rejected the request.{quote}",
    "endpoint_not_found": (
        "DashScope could not find the endpoint or the model. Check the base URL and the model "
        "name in admin.{quote}"
    ),
    "gateway_error": "DashScope's gateway had a problem. Try again in a moment.",
    "gateway_timeout": "DashScope's gateway timed out. Try again in a moment.",
    "unexpected_status": ("DashScope answered with an unexpected error (HTTP {status}).{quote}"),
    "stream_error": "DashScope reported an error during the response.{quote}",
    "invalid_base_url": "The DashScope base URL is not valid. Check it in admin.",
    "connect_failed": (
        "Could not connect to DashScope. Check the network and the base URL, then retry."
    ),
    "connection_lost": "The connection to DashScope broke during the response. Try again.",
    "timeout_connect": (
        "Could not open a connection to DashScope within {seconds} s. Check the network and "
        "the base URL, then retry."
    ),
    "timeout_first_byte": (
        "DashScope did not start answering within {seconds} s. It may be overloaded; try "
        "again in a moment."
    ),
    "timeout_idle": (
        "DashScope went silent for {seconds} s in the middle of the answer, so it was ended; "
        "the text so far is kept. Try again."
    ),
    "timeout_total": (
        "The answer took longer than the {seconds} s allowed for one answer, so it was ended; "
        "the text so far is kept. Try again, or ask for a shorter answer."
    ),
    "timeout_write": "Sending the request to DashScope took longer than {seconds} s. Try again.",
    "timeout_pool": (
        "Too many requests to DashScope are already in flight on this server. Try again in a "
        "moment."
    ),
    "truncated": (
        "The response stopped before the model finished (the connection ended without a "
        "finish signal)."
    ),
    "not_a_stream": (
        "DashScope's address answered with a web page instead of a stream: a proxy, a login "
        "portal or a wrong base URL is in the way. Try again; if it keeps happening, check "
        "the base URL in admin or DASHSCOPE_BASE_URL."
    ),
    "malformed_stream": (
        "DashScope sent a piece of the response that could not be read. Try again."
    ),
    "internal_error": "minimax-web hit an internal error while streaming. Try again.",
    "server_shutdown": (
        "The server restarted while this answer was being written; the text so far is kept. "
        "Retry to generate it again."
    ),
}

# The short reason shown while an automatic retry waits: "<reason> — retrying in 4 s …".
RETRY_REASONS: dict[str, str] = {
    "throttled": "DashScope is throttling requests",
    "rate_limited": "Rate limited by DashScope",
    "burst_rate": "Requests to DashScope ramped up too quickly",
    "token_throttle": "DashScope's per-minute token limit was reached",
    "server_error": "DashScope had an internal error",
    "upstream_timeout": "DashScope timed out",
    "overloaded": "The model is overloaded on DashScope",
    "gateway_error": "DashScope's gateway had a problem",
    "gateway_timeout": "DashScope's gateway timed out",
    "unexpected_status": "DashScope answered HTTP {status}",
    "connect_failed": "Could not connect to DashScope",
    "connection_lost": "The connection to DashScope broke",
    "timeout_connect": "Connecting to DashScope timed out",
    "timeout_first_byte": "DashScope did not start answering in time",
    "timeout_pool": "Too many requests in flight",
}

# Account pages and sign-in refusals (accounts/).
ACCOUNT_TEXTS: dict[str, str] = {
    "signup_closed": "New accounts are not being created here. Ask an administrator.",
    "invite_invalid": (
        "This invite link cannot be used: it was used already, it expired, or invites are "
        "turned off. Ask the person who sent it for a new one."
    ),
    "sso_no_account": (
        "Your sign-in worked, but you have no account here and new accounts are created by "
        "administrators only. Ask an administrator to add you."
    ),
    "sso_invite_required": (
        "Your sign-in worked, but accounts here are by invitation only. Open the invite link "
        "you were sent and choose single sign-on there."
    ),
    "approval_pending": (
        "Your account exists and waits for an administrator's approval. "
        "You can sign in once it is approved."
    ),
    "account_inactive": "This account is deactivated. Ask an administrator.",
    "sso_unreachable": (
        "The sign-on provider did not answer as expected, so you are not signed in. "
        "Try again in a moment; if it keeps happening, tell an administrator."
    ),
    "sessions_ended": "Signed out of {count} other session(s).",
    "password_changed": "Your password is changed. Your other sessions were signed out.",
}

_FALLBACK = "Something went wrong ({code})."
# Provider admin: the test-connection result and a key's health, from stored facts.
PROVIDER_TEXTS: dict[str, str] = {
    "connection_ok": "Connection works: {model} answered in {milliseconds} ms, {tokens} tokens.",
    "connection_ok_no_usage": "Connection works: {model} answered in {milliseconds} ms.",
    "connection_failed": "Connection failed{http}: {failure}",
    "connection_no_answer": "Connection failed: the stream ended without an answer.",
    "connection_no_key": "No enabled key to test.",
    "key_healthy": "Healthy",
    "key_unhealthy": "Unhealthy since {since}: {failure}",
    "key_unhealthy_short": "Unhealthy since {since} ({code})",
    "key_resting": "Resting until {until} (throttled by the upstream)",
    "key_disabled": "Disabled",
}

_FAILURE_FALLBACK = "The answer failed because of an unexpected error.{quote}"
_RETRY_FALLBACK = "DashScope request failed"
MAX_QUOTED_CHARS = 200


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _fill(template: str, params: Mapping[str, Any]) -> str:
    try:
        return template.format_map(_Blank(params))
    except (ValueError, TypeError):
        return template


def protocol_text(code: str, params: Mapping[str, Any] | None = None) -> str:
    template = PROTOCOL_TEXTS.get(code)
    return _fill(template, params or {}) if template else _FALLBACK.format(code=code)


def request_text(code: str, params: Mapping[str, Any] | None = None) -> str:
    template = REQUEST_TEXTS.get(code)
    return _fill(template, params or {}) if template else _FALLBACK.format(code=code)


def account_text(code: str, params: Mapping[str, Any] | None = None) -> str:
    template = ACCOUNT_TEXTS.get(code)
    return _fill(template, params or {}) if template else _FALLBACK.format(code=code)


def _quote(upstream_message: object) -> str:
    text = str(upstream_message or "").strip()
    if not text:
        return ""
    if len(text) > MAX_QUOTED_CHARS:
        text = text[: MAX_QUOTED_CHARS - 1].rstrip() + "…"
    return f" DashScope said: “{text.rstrip('. ')}”."


def _seconds(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) else "?"


def failure_text(kind: str, code: str, params: Mapping[str, Any] | None = None) -> str:
    """Words for a failed answer: what happened and what to do, ending with the code, e.g.
    "DashScope rejected the API key. Check … (invalid_api_key)".

    params: the stored facts (upstream_message, status, timeout_seconds, …). An unknown kind
    falls back to a generic sentence quoting the upstream's message. Rows stored before kinds
    existed carry their old words as legacy_text.
    """
    params = params or {}
    template = FAILURE_TEXTS.get(kind)
    if template is None and params.get("legacy_text"):
        return str(params["legacy_text"])
    values = {
        **params,
        "quote": _quote(params.get("upstream_message")),
        "seconds": _seconds(params.get("timeout_seconds")),
        "status": params.get("status", "?"),
    }
    return f"{_fill(template or _FAILURE_FALLBACK, values)} ({code})"


def provider_text(code: str, params: Mapping[str, Any] | None = None) -> str:
    return _fill(PROVIDER_TEXTS[code], params or {})


def retrying_text(
    kind: str, params: Mapping[str, Any], *, delay_seconds: float, attempt: int, max_attempts: int
) -> str:
    """E.g. "Rate limited by DashScope — retrying in 4 s (attempt 2 of 4)"."""
    reason = _fill(RETRY_REASONS.get(kind, _RETRY_FALLBACK), {"status": "?", **params})
    when = f"retrying in {max(1, round(delay_seconds))} s" if delay_seconds >= 0.5 else "retrying"
    return f"{reason} — {when} (attempt {attempt} of {max_attempts})"
