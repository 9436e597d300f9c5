"""Usage accounting and quotas over the real HTTP path, against the fake upstream as a separate
process: the records add up to what the fake reported, and a send over quota never reaches it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from chat.fakeupstream.responder import estimate_prompt_tokens
from chat.fakeupstream.scenarios import Scenario, prompt_of, scenario_from
from chat.fakeupstream.testing import start_fake_upstream
from chat.fakeupstream.texts import answer_pieces, reasoning_pieces
from chat.models import Conversation
from tests.wsclient import Transcript, connect, receive_type, run_until_end, send
from usage.models import ModelPrice, Quota, UsageRecord

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(scope="module")
def fake_upstream():
    with start_fake_upstream(["--tps", "400"]) as running:
        yield running


@pytest.fixture
def real_http(settings, fake_upstream):
    settings.DASHSCOPE_API_KEY = "sk-test"
    settings.DASHSCOPE_BASE_URL = fake_upstream.url
    return fake_upstream


def _reported_by_the_fake(text: str) -> dict[str, int]:
    """The usage the fake computes for a first message `text` (responder._usage)."""
    messages = [{"role": "user", "content": text}]
    scenario = scenario_from({}, messages, Scenario(tokens_per_second=400))
    reasoning = len(reasoning_pieces(scenario, prompt_of(messages)))
    answer = len(answer_pieces(scenario, prompt_of(messages)))
    return {
        "prompt": estimate_prompt_tokens(messages),
        "completion": reasoning + answer,
        "reasoning": reasoning,
    }


async def _chat(user, text: str) -> dict:
    communicator, _ = await connect(user)
    try:
        await send(communicator, {"type": "send", "conversation_id": None, "content": text})
        transcript = Transcript()
        transcript.apply(await receive_type(communicator, "snapshot"))
        transcript.apply(await receive_type(communicator, "messages.added"))
        return (await run_until_end(communicator, transcript))["message"]
    finally:
        await communicator.disconnect()


@sync_to_async
def _records(message_id: int) -> list[UsageRecord]:
    return list(UsageRecord.objects.filter(message_id=message_id).order_by("attempt"))


async def test_usage_rows_add_up_to_the_tokens_the_fake_reported(alice, real_http):
    await sync_to_async(ModelPrice.objects.create)(
        model="MiniMax-M2.5",
        currency="CNY",
        input_per_million=Decimal("2.1"),
        cached_input_per_million=Decimal("0.21"),
        output_per_million=Decimal("8.4"),
    )
    text = "Count me [[fake reasoning=40]]"
    final = await _chat(alice, text)
    reported = _reported_by_the_fake(text)

    (record,) = await _records(final["id"])
    assert record.outcome == "complete" and record.estimated is False
    assert (record.prompt_tokens, record.completion_tokens, record.reasoning_tokens) == (
        reported["prompt"],
        reported["completion"],
        reported["reasoning"],
    )
    assert final["usage"]["completion_tokens"] == record.completion_tokens
    expected_cost = (
        reported["prompt"] * Decimal("2.1") + reported["completion"] * Decimal("8.4")
    ) / Decimal(1_000_000)
    assert record.cost == expected_cost.quantize(Decimal("0.000001"))
    assert record.currency == "CNY" and record.user_id == alice.pk


async def test_every_attempt_of_a_retried_answer_gets_a_record(alice, real_http):
    text = "hi [[fake tps=0 fail_first=2 error=limit_requests retry_after=0 key=usage-retry]]"
    final = await _chat(alice, text)
    assert final["status"] == "complete"

    records = await _records(final["id"])
    assert [(r.attempt, r.outcome, r.error_code) for r in records] == [
        (1, "failed", "limit_requests"),
        (2, "failed", "limit_requests"),
        (3, "complete", ""),
    ]
    reported = _reported_by_the_fake(text)
    assert sum(r.prompt_tokens + r.completion_tokens for r in records) == (
        reported["prompt"] + reported["completion"]
    )


async def test_a_send_over_quota_is_refused_and_the_fake_receives_nothing(alice, real_http):
    await sync_to_async(Quota.objects.create)(scope=Quota.Scope.DEFAULT, daily_tokens=50)
    await sync_to_async(UsageRecord.objects.create)(
        user=alice,
        model="MiniMax-M2.5",
        outcome="complete",
        prompt_tokens=50,
        started_at=timezone.now(),
    )
    before = real_http.received()["total"]

    communicator, _ = await connect(alice)
    await send(communicator, {"type": "send", "conversation_id": None, "content": "one more"})
    refusal = await receive_type(communicator, "error")
    await communicator.disconnect()

    assert refusal["code"] == "quota_daily_tokens"
    assert "used 50 of your 50 tokens for today" in refusal["message"]
    assert "resets at" in refusal["message"] and "00:00 UTC" in refusal["message"]
    assert real_http.received()["total"] == before
    assert not await sync_to_async(Conversation.objects.exists)()
