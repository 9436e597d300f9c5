import json

import httpx
import pytest

from chat.upstream.errors import (
    failure_from_exception,
    failure_from_response,
    failure_from_stream_payload,
)
from chat.upstream.events import Failure


def compat(status: int, code: str, message: str, type_: str | None = None) -> tuple:
    body = {
        "error": {"message": message, "type": type_ or code, "param": None, "code": code},
        "request_id": "req-compat",
    }
    return status, json.dumps(body).encode()


def native(status: int, code: str, message: str) -> tuple:
    body = {"code": code, "message": message, "request_id": "req-native"}
    return status, json.dumps(body).encode()


# Every row of PROTOCOL.md §3.2: (status, body), expected code, words the advice must contain,
# retryable.
ROWS = [
    (native(401, "InvalidApiKey", "Invalid API-key provided."), "InvalidApiKey", "API key", False),
    (
        compat(401, "invalid_api_key", "Incorrect API key provided. ", "invalid_request_error"),
        "invalid_api_key",
        "API key",
        False,
    ),
    (
        compat(
            400, "Arrearage", "Access denied, please make sure your account is in good standing."
        ),
        "Arrearage",
        "overdue payment",
        False,
    ),
    (
        native(400, "DataInspectionFailed", "Input data may contain inappropriate content."),
        "DataInspectionFailed",
        "blocked your message",
        False,
    ),
    (
        compat(400, "data_inspection_failed", "Output data may contain inappropriate content."),
        "data_inspection_failed",
        "stopped the model's reply",
        False,
    ),
    (
        native(
            400, "DataInspectionFailed", "Input or output data may contain inappropriate content."
        ),
        "DataInspectionFailed",
        "blocked this conversation",
        False,
    ),
    (
        compat(400, "invalid_parameter_error", "Range of input length should be [1, 196601]"),
        "invalid_parameter_error",
        "too long",
        False,
    ),
    (
        native(
            400,
            "InvalidParameter",
            "<400> InternalError.Algo.InvalidParameter: "
            "Range of input length should be [1, 196601]",
        ),
        "InvalidParameter",
        "Start a new chat",
        False,
    ),
    (
        native(400, "InvalidParameter", "Range of top_p should be (0.0, 1.0]"),
        "InvalidParameter",
        "Range of top_p should be (0.0, 1.0]",
        False,
    ),
    (native(400, "InvalidParameter", "Model not exist."), "InvalidParameter", "model name", False),
    (compat(403, "access_denied", "Access denied."), "access_denied", "not allowed", False),
    (native(403, "AccessDenied", "Access denied."), "AccessDenied", "not allowed", False),
    (
        native(403, "AccessDenied.Unpurchased", "Access to model denied."),
        "AccessDenied.Unpurchased",
        "not been activated",
        False,
    ),
    (
        native(403, "Model.AccessDenied", "Model access denied."),
        "Model.AccessDenied",
        "not allowed",
        False,
    ),
    (
        native(
            403, "AllocationQuota.FreeTierOnly", "The free tier of the model has been exhausted."
        ),
        "AllocationQuota.FreeTierOnly",
        "free tier only",
        False,
    ),
    (native(404, "ModelNotFound", "Model can not be found."), "ModelNotFound", "model name", False),
    (
        compat(
            404,
            "model_not_found",
            "The model `MiniMax-M9` does not exist.",
            "invalid_request_error",
        ),
        "model_not_found",
        "model name",
        False,
    ),
    (native(404, "Model.NotExist", "Model not exist."), "Model.NotExist", "model name", False),
    (
        compat(404, "model_not_supported", "Unsupported model xxx for OpenAI compatibility mode."),
        "model_not_supported",
        "OpenAI-compatible endpoint",
        False,
    ),
    (native(429, "Throttling", "Requests throttling triggered."), "Throttling", "throttling", True),
    (
        native(
            429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later."
        ),
        "Throttling.RateQuota",
        "too many per minute",
        True,
    ),
    (
        native(429, "LimitRequests", "You exceeded your current requests list."),
        "LimitRequests",
        "too many per minute",
        True,
    ),
    (
        compat(429, "limit_requests", "You have exceeded your current request limit."),
        "limit_requests",
        "too many per minute",
        True,
    ),
    (
        native(429, "Throttling.BurstRate", "Request rate increased too quickly."),
        "Throttling.BurstRate",
        "ramped up too quickly",
        True,
    ),
    (
        compat(429, "limit_burst_rate", "Request rate increased too quickly."),
        "limit_burst_rate",
        "ramped up",
        True,
    ),
    (
        native(
            429,
            "Throttling.AllocationQuota",
            "Allocated quota exceeded, please increase your quota limit.",
        ),
        "Throttling.AllocationQuota",
        "per-minute token limit",
        True,
    ),
    (
        compat(
            429,
            "insufficient_quota",
            "You exceeded your current quota, please check your plan and billing details.",
        ),
        "insufficient_quota",
        "per-minute token limit",
        True,
    ),
    (
        native(429, "Throttling.AllocationQuota", "Free allocated quota exceeded."),
        "Throttling.AllocationQuota",
        "free quota for this model is used up",
        False,
    ),
    (
        native(429, "CommodityNotPurchased", "Commodity has not purchased yet."),
        "CommodityNotPurchased",
        "not been activated",
        False,
    ),
    (
        native(429, "PrepaidBillOverdue", "The prepaid bill is overdue."),
        "PrepaidBillOverdue",
        "prepaid bill is overdue",
        False,
    ),
    (
        native(429, "PostpaidBillOverdue", "The postpaid bill is overdue."),
        "PostpaidBillOverdue",
        "postpaid bill is overdue",
        False,
    ),
    (
        native(500, "InternalError", "An internal error has occured."),
        "InternalError",
        "internal error",
        True,
    ),
    (
        compat(500, "internal_error", "An internal error has occured."),
        "internal_error",
        "internal error",
        True,
    ),
    (
        native(500, "InternalError.Algo", "inference internal error."),
        "InternalError.Algo",
        "internal error",
        True,
    ),
    (
        native(500, "RequestTimeOut", "Request timed out, please try again later."),
        "RequestTimeOut",
        "too long to produce",
        True,
    ),
    (
        native(503, "ModelServingError", "Too many requests."),
        "ModelServingError",
        "overloaded",
        True,
    ),
    (
        native(503, "ModelUnavailable", "Model is unavailable, please try again later."),
        "ModelUnavailable",
        "temporarily unavailable",
        True,
    ),
]


@pytest.mark.parametrize(("response", "code", "advice", "retryable"), ROWS)
def test_it_maps_every_documented_error_row(response, code, advice, retryable):
    status, body = response

    failure = failure_from_response(status, {}, body)

    assert failure.code == code
    assert failure.status == status
    assert failure.retryable is retryable
    assert advice in failure.message
    assert failure.message.endswith(f" ({code})")
    assert failure.request_id in ("req-compat", "req-native")
    parsed = json.loads(body)
    assert failure.upstream_message == parsed.get("error", parsed)["message"].strip()


def test_it_maps_a_429_rate_limit_to_a_retryable_failure():
    status, body = compat(429, "limit_requests", "You have exceeded your current request limit.")

    failure = failure_from_response(status, {"x-request-id": "ignored"}, body)

    assert failure == Failure(
        code="limit_requests",
        message="DashScope is rate-limiting requests (too many per minute). Wait a moment and "
        "retry. (limit_requests)",
        upstream_message="You have exceeded your current request limit.",
        status=429,
        request_id="req-compat",
        retryable=True,
    )


def test_it_tells_the_user_to_start_a_new_chat_when_the_input_is_too_long():
    status, body = compat(
        400, "invalid_parameter_error", "Range of input length should be [1, 196601]"
    )

    failure = failure_from_response(status, {}, body)

    assert failure.message == (
        "This conversation is too long for the model to read. Start a new chat to continue. "
        "(invalid_parameter_error)"
    )
    assert failure.retryable is False


def test_it_treats_arrearage_as_fatal_but_insufficient_quota_as_a_transient_throttle():
    arrearage = failure_from_response(400, {}, compat(400, "Arrearage", "Access denied.")[1])
    quota = failure_from_response(
        429, {}, compat(429, "insufficient_quota", "You exceeded your quota.")[1]
    )

    assert (arrearage.retryable, quota.retryable) == (False, True)


def test_it_reads_the_request_id_from_headers_when_the_body_has_none():
    body = b'{"error":{"message":"boom","type":"internal_error","code":"internal_error"}}'

    failure = failure_from_response(500, {"x-dashscope-request-id": "hdr-1"}, body)

    assert failure.request_id == "hdr-1"


def test_it_reads_an_sse_bodied_400_with_a_data_error_frame():
    body = (
        b'data: {"error":{"code":"data_inspection_failed","param":null,'
        b'"message":"Input text data may contain inappropriate content.",'
        b'"type":"data_inspection_failed"}}\n\n'
    )

    failure = failure_from_response(400, {}, body)

    assert failure.code == "data_inspection_failed"
    assert failure.upstream_message == "Input text data may contain inappropriate content."
    assert failure.message == (
        "DashScope's content filter blocked your message. Rephrase it and try again. "
        "(data_inspection_failed)"
    )
    assert failure.retryable is False


def test_it_reads_an_sse_bodied_429_with_an_error_event():
    body = (
        b"id:1\nevent:error\n:HTTP_STATUS/429\n"
        b'data:{"request_id":"70acdc21","code":"Throttling.AllocationQuota",'
        b'"message":"Allocated quota exceeded, please increase your quota limit."}\n\n'
    )

    failure = failure_from_response(429, {}, body)

    assert (failure.code, failure.request_id, failure.retryable) == (
        "Throttling.AllocationQuota",
        "70acdc21",
        True,
    )


def test_it_falls_back_to_the_http_status_for_a_plain_text_body():
    failure = failure_from_response(500, {"x-request-id": "r9"}, b"upstream error")

    assert failure == Failure(
        code="http_500",
        message="DashScope had an internal error. Try again in a moment. (http_500)",
        upstream_message="upstream error",
        status=500,
        request_id="r9",
        retryable=True,
    )


def test_it_never_retries_an_unknown_400_and_quotes_the_upstream_message():
    failure = failure_from_response(400, {}, b'{"code":"Weird","message":"Something odd."}')

    assert failure.message == (
        "DashScope rejected the request. DashScope said: “Something odd”. (Weird)"
    )
    assert failure.retryable is False


def test_it_does_not_quote_a_plain_text_or_html_error_page():
    failure = failure_from_response(502, {}, b"<html><body>Bad Gateway</body></html>")

    assert failure.message == (
        "DashScope's gateway had a problem. Try again in a moment. (http_502)"
    )
    assert failure.retryable is True


def test_it_handles_an_empty_body():
    failure = failure_from_response(418, {}, b"")

    assert failure.code == "http_418"
    assert failure.message == "DashScope answered with an unexpected error (HTTP 418). (http_418)"
    assert failure.retryable is False


def test_it_maps_a_mid_stream_error_object():
    payload = {
        "error": {
            "message": "Output data may contain inappropriate content.",
            "type": "data_inspection_failed",
            "param": None,
            "code": "data_inspection_failed",
        }
    }

    failure = failure_from_stream_payload(payload, None, 200, request_id="hdr")

    assert failure.code == "data_inspection_failed"
    assert failure.message.startswith("DashScope's content filter stopped the model's reply.")
    assert (failure.status, failure.request_id) == (200, "hdr")


def test_it_maps_a_native_error_event_mid_stream():
    payload = {"code": "DataInspectionFailed", "message": "Output data…", "request_id": "body"}

    failure = failure_from_stream_payload(payload, "error", 200, request_id="hdr")

    assert (failure.code, failure.request_id, failure.retryable) == (
        "DataInspectionFailed",
        "body",
        False,
    )


def test_it_names_an_error_event_without_a_code_stream_error():
    failure = failure_from_stream_payload({"message": "oops"}, "error", 200)

    assert failure.code == "stream_error"
    assert failure.message.endswith("DashScope said: “oops”. (stream_error)")


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (httpx.ReadTimeout("slow"), "read timeout: no data arrived within 120 s"),
        (httpx.ConnectTimeout("slow"), "connect timeout: could not open a connection within 10 s"),
        (httpx.WriteTimeout("slow"), "write timeout: could not send the request within 30 s"),
        (httpx.PoolTimeout("slow"), "pool timeout"),
    ],
)
def test_it_says_which_timeout_expired(exc, words):
    timeout = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=10.0)

    failure = failure_from_exception(exc, timeout)

    assert failure.code == "timeout"
    assert words in failure.message
    assert failure.message.endswith(". Try again. (timeout)")
    assert failure.retryable is True


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("refused"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
)
def test_it_maps_connection_errors_to_a_retryable_network_error(exc):
    failure = failure_from_exception(exc)

    assert (failure.code, failure.retryable, failure.status) == ("network_error", True, None)
    assert failure.upstream_message == str(exc)
    assert failure.message.endswith("(network_error)")


def test_it_does_not_retry_an_invalid_base_url():
    failure = failure_from_exception(httpx.UnsupportedProtocol("ftp"))

    assert (failure.code, failure.retryable) == ("network_error", False)
    assert "base URL" in failure.message
