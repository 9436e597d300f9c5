import json

import httpx
import pytest

from chat.upstream.errors import (
    KINDS,
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


# Every error of docs/upstream-protocol.md §3: (status, body), expected code, kind, retryable.
ROWS = [
    (native(401, "InvalidApiKey", "Invalid API-key provided."), "InvalidApiKey", "bad_key", False),
    (
        compat(401, "invalid_api_key", "Incorrect API key provided. ", "invalid_request_error"),
        "invalid_api_key",
        "bad_key",
        False,
    ),
    (
        compat(
            400, "Arrearage", "Access denied, please make sure your account is in good standing."
        ),
        "Arrearage",
        "overdue",
        False,
    ),
    (
        native(400, "DataInspectionFailed", "Input data may contain inappropriate content."),
        "DataInspectionFailed",
        "moderation_input",
        False,
    ),
    (
        compat(400, "data_inspection_failed", "Output data may contain inappropriate content."),
        "data_inspection_failed",
        "moderation_output",
        False,
    ),
    (
        native(
            400, "DataInspectionFailed", "Input or output data may contain inappropriate content."
        ),
        "DataInspectionFailed",
        "moderation",
        False,
    ),
    (
        compat(400, "invalid_parameter_error", "Range of input length should be [1, 196601]"),
        "invalid_parameter_error",
        "input_too_long",
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
        "input_too_long",
        False,
    ),
    (
        native(400, "InvalidParameter", "bad_parameter"),
        "InvalidParameter",
        "bad_parameter",
        False,
    ),
    (
        native(400, "InvalidParameter", "Model not exist."),
        "InvalidParameter",
        "model_not_found",
        False,
    ),
    (compat(403, "access_denied", "Access denied."), "access_denied", "access_denied", False),
    (native(403, "AccessDenied", "Access denied."), "AccessDenied", "access_denied", False),
    (
        native(403, "AccessDenied.Unpurchased", "Access to model denied."),
        "AccessDenied.Unpurchased",
        "model_not_activated",
        False,
    ),
    (
        native(403, "Model.AccessDenied", "Model access denied."),
        "Model.AccessDenied",
        "access_denied",
        False,
    ),
    (
        native(
            403, "AllocationQuota.FreeTierOnly", "The free tier of the model has been exhausted."
        ),
        "AllocationQuota.FreeTierOnly",
        "free_tier_only",
        False,
    ),
    (
        native(404, "ModelNotFound", "Model can not be found."),
        "ModelNotFound",
        "model_not_found",
        False,
    ),
    (
        compat(
            404,
            "model_not_found",
            "The model `MiniMax-M9` does not exist.",
            "invalid_request_error",
        ),
        "model_not_found",
        "model_not_found",
        False,
    ),
    (native(404, "Model.NotExist", "Model not exist."), "Model.NotExist", "model_not_found", False),
    (
        compat(404, "model_not_supported", "Unsupported model xxx for OpenAI compatibility mode."),
        "model_not_supported",
        "model_not_compatible",
        False,
    ),
    (native(429, "Throttling", "Requests throttling triggered."), "Throttling", "throttled", True),
    (
        native(
            429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later."
        ),
        "Throttling.RateQuota",
        "rate_limited",
        True,
    ),
    (
        native(429, "LimitRequests", "You exceeded your current requests list."),
        "LimitRequests",
        "rate_limited",
        True,
    ),
    (
        compat(429, "limit_requests", "You have exceeded your current request limit."),
        "limit_requests",
        "rate_limited",
        True,
    ),
    (
        native(429, "Throttling.BurstRate", "Request rate increased too quickly."),
        "Throttling.BurstRate",
        "burst_rate",
        True,
    ),
    (
        compat(429, "limit_burst_rate", "Request rate increased too quickly."),
        "limit_burst_rate",
        "burst_rate",
        True,
    ),
    (
        native(
            429,
            "Throttling.AllocationQuota",
            "Allocated quota exceeded, please increase your quota limit.",
        ),
        "Throttling.AllocationQuota",
        "token_throttle",
        True,
    ),
    (
        compat(
            429,
            "insufficient_quota",
            "You exceeded your current quota, please check your plan and billing details.",
        ),
        "insufficient_quota",
        "token_throttle",
        True,
    ),
    (
        native(429, "Throttling.AllocationQuota", "Free allocated quota exceeded."),
        "Throttling.AllocationQuota",
        "free_quota_used",
        False,
    ),
    (
        native(429, "CommodityNotPurchased", "Commodity has not purchased yet."),
        "CommodityNotPurchased",
        "not_purchased",
        False,
    ),
    (
        native(429, "PrepaidBillOverdue", "The prepaid bill is overdue."),
        "PrepaidBillOverdue",
        "prepaid_overdue",
        False,
    ),
    (
        native(429, "PostpaidBillOverdue", "The postpaid bill is overdue."),
        "PostpaidBillOverdue",
        "postpaid_overdue",
        False,
    ),
    (
        native(500, "InternalError", "An internal error has occured."),
        "InternalError",
        "server_error",
        True,
    ),
    (
        compat(500, "internal_error", "An internal error has occured."),
        "internal_error",
        "server_error",
        True,
    ),
    (
        native(500, "InternalError.Algo", "inference internal error."),
        "InternalError.Algo",
        "server_error",
        True,
    ),
    (
        native(500, "RequestTimeOut", "Request timed out, please try again later."),
        "RequestTimeOut",
        "upstream_timeout",
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
        "overloaded",
        True,
    ),
]


@pytest.mark.parametrize(("response", "code", "kind", "retryable"), ROWS)
def test_it_maps_every_documented_error_row(response, code, kind, retryable):
    status, body = response

    failure = failure_from_response(status, {}, body)

    assert failure.code == code
    assert failure.kind == kind
    assert failure.kind in KINDS
    assert failure.status == status
    assert failure.retryable is retryable
    assert failure.request_id in ("req-compat", "req-native")
    parsed = json.loads(body)
    assert failure.upstream_message == parsed.get("error", parsed)["message"].strip()


def test_it_maps_a_429_rate_limit_to_a_retryable_failure():
    status, body = compat(429, "limit_requests", "You have exceeded your current request limit.")

    failure = failure_from_response(status, {"x-request-id": "ignored"}, body)

    assert failure == Failure(
        code="limit_requests",
        kind="rate_limited",
        upstream_message="You have exceeded your current request limit.",
        status=429,
        request_id="req-compat",
        retryable=True,
    )


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "2500", "retry-after": "9"}, 2.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-3"}, None),
        ({}, None),
    ],
)
def test_it_reads_the_retry_after_header(headers, seconds):
    status, body = compat(429, "limit_requests", "You have exceeded your current request limit.")

    failure = failure_from_response(status, headers, body)

    assert failure.retry_after == seconds


def test_it_tells_an_input_that_is_too_long_apart_from_another_bad_parameter():
    too_long = failure_from_response(
        400, {}, compat(400, "invalid_parameter_error", "Range of input length should be [1, 1]")[1]
    )
    bad_top_p = failure_from_response(
        400, {}, compat(400, "invalid_parameter_error", "Range of top_p should be (0.0, 1.0]")[1]
    )

    assert (too_long.kind, too_long.retryable) == ("input_too_long", False)
    assert (bad_top_p.kind, bad_top_p.upstream_message) == (
        "bad_parameter",
        "Range of top_p should be (0.0, 1.0]",
    )


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
    assert failure.kind == "moderation_input"
    assert failure.upstream_message == "Input text data may contain inappropriate content."
    assert failure.retryable is False


def test_it_reads_an_sse_bodied_429_with_an_error_event():
    body = (
        b"id:1\nevent:error\n:HTTP_STATUS/429\n"
        b'data:{"request_id":"70acdc21","code":"Throttling.AllocationQuota",'
        b'"message":"Allocated quota exceeded, please increase your quota limit."}\n\n'
    )

    failure = failure_from_response(429, {}, body)

    assert (failure.code, failure.kind, failure.request_id, failure.retryable) == (
        "Throttling.AllocationQuota",
        "token_throttle",
        "70acdc21",
        True,
    )


def test_it_falls_back_to_the_http_status_for_a_plain_text_body():
    failure = failure_from_response(500, {"x-request-id": "r9"}, b"upstream error")

    assert failure == Failure(
        code="http_500",
        kind="server_error",
        upstream_message="",
        status=500,
        request_id="r9",
        retryable=True,
    )


def test_it_never_retries_an_unknown_400_and_keeps_the_upstream_message():
    failure = failure_from_response(400, {}, b'{"code":"Weird","message":"Something odd."}')

    assert (failure.code, failure.kind, failure.retryable) == ("Weird", "bad_request", False)
    assert failure.upstream_message == "Something odd."


def test_it_does_not_keep_a_plain_text_or_html_error_page_as_the_upstream_message():
    failure = failure_from_response(502, {}, b"<html><body>Bad Gateway</body></html>")

    assert (failure.code, failure.kind, failure.retryable) == ("http_502", "gateway_error", True)
    assert failure.upstream_message == ""


def test_it_handles_an_empty_body():
    failure = failure_from_response(418, {}, b"")

    assert (failure.code, failure.kind, failure.retryable) == (
        "http_418",
        "unexpected_status",
        False,
    )


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

    assert (failure.code, failure.kind) == ("data_inspection_failed", "moderation_output")
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

    assert (failure.code, failure.kind, failure.upstream_message) == (
        "stream_error",
        "stream_error",
        "oops",
    )


@pytest.mark.parametrize(
    ("exc", "kind", "seconds"),
    [
        (httpx.ConnectTimeout("slow"), "timeout_connect", 10.0),
        (httpx.WriteTimeout("slow"), "timeout_write", 30.0),
        (httpx.PoolTimeout("slow"), "timeout_pool", 5.0),
    ],
)
def test_it_says_which_httpx_timeout_expired(exc, kind, seconds):
    timeout = httpx.Timeout(connect=10.0, read=None, write=30.0, pool=5.0)

    failure = failure_from_exception(exc, timeout)

    assert (failure.code, failure.kind, failure.timeout_seconds) == (kind, kind, seconds)
    assert failure.retryable is True


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused"), "connect_failed"),
        (httpx.ReadError("reset"), "connection_lost"),
        (httpx.RemoteProtocolError("peer closed connection"), "connection_lost"),
    ],
)
def test_it_maps_connection_errors_to_a_retryable_network_error(exc, kind):
    failure = failure_from_exception(exc)

    assert (failure.code, failure.kind, failure.retryable, failure.status) == (
        "network_error",
        kind,
        True,
        None,
    )
    assert failure.upstream_message == str(exc)


def test_it_does_not_retry_an_invalid_base_url():
    failure = failure_from_exception(httpx.UnsupportedProtocol("ftp"))

    assert (failure.code, failure.kind, failure.retryable) == (
        "network_error",
        "invalid_base_url",
        False,
    )
