"""Key pools end to end: the consumer, generation and real HTTP client against the fake
upstream as a separate process, on both wire protocols. The fake refuses keys by prefix
(`sk-fake-bad` 401, `sk-fake-busy` 429 with Retry-After 30, `sk-fake-owes` Arrearage)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat.fakeupstream.testing import start_fake_upstream
from chat.models import Message, Provider
from chat.providers.selection import keys_to_try
from tests.providers import add_key, fake_provider
from tests.wsclient import Transcript, connect, receive_type, run_until_end, send
from usage.models import UsageRecord

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(scope="module")
def fake_upstream():
    with start_fake_upstream(["--tps", "0"]) as running:
        yield running


@pytest.fixture(params=["openai_compat", "dashscope_native"])
def provider(request, fake_upstream, settings) -> Provider:
    settings.DASHSCOPE_API_KEY = ""
    return fake_provider(fake_upstream, request.param)


async def answer(user, text: str = "Hello pool") -> dict:
    communicator, _ = await connect(user)
    await send(communicator, {"type": "send", "conversation_id": None, "content": text})
    transcript = Transcript()
    transcript.apply(await receive_type(communicator, "snapshot"))
    transcript.apply(await receive_type(communicator, "messages.added"))
    end = await run_until_end(communicator, transcript, timeout=20)
    await communicator.disconnect()
    return end["message"]


@database_sync_to_async
def reload(*rows):
    for row in rows:
        row.refresh_from_db()


async def test_a_pool_skips_a_401_key_and_the_answer_completes_on_the_next(alice, provider):
    bad = await database_sync_to_async(add_key)(provider, "bad", "sk-fake-bad-0001", 1)
    good = await database_sync_to_async(add_key)(provider, "good", "sk-good-0002", 2)

    final = await answer(alice)

    assert final["status"] == "complete" and final["content"]
    stored = await database_sync_to_async(Message.objects.get)(pk=final["id"])
    assert stored.provider_key_id == good.pk
    await reload(bad, good)
    assert bad.unhealthy_since is not None
    assert bad.unhealthy_code in ("invalid_api_key", "InvalidApiKey")
    assert bad.unhealthy_kind == "bad_key"
    assert (bad.request_count, good.request_count) == (0, 1)


async def test_an_overdue_key_is_unhealthy_and_stays_skipped(alice, provider):
    owes = await database_sync_to_async(add_key)(provider, "owes", "sk-fake-owes-0001", 1)
    good = await database_sync_to_async(add_key)(provider, "good", "sk-good-0002", 2)

    await answer(alice)
    await reload(owes)
    usable = await database_sync_to_async(keys_to_try)(provider)

    assert owes.unhealthy_kind == "overdue"
    assert usable == [good]


async def test_a_429_key_rests_for_the_time_the_upstream_asked(alice, provider):
    busy = await database_sync_to_async(add_key)(provider, "busy", "sk-fake-busy-0001", 1)
    good = await database_sync_to_async(add_key)(provider, "good", "sk-good-0002", 2)

    final = await answer(alice)
    await reload(busy)
    usable = await database_sync_to_async(keys_to_try)(provider)

    assert final["status"] == "complete"
    assert busy.unhealthy_since is None
    rest = (busy.resting_until - timezone.now()).total_seconds()
    assert 25 < rest <= 30
    assert usable == [good]


async def test_when_every_key_fails_the_answer_fails_with_the_last_keys_error(alice, provider):
    await database_sync_to_async(add_key)(provider, "bad", "sk-fake-bad-0001", 1)

    final = await answer(alice)

    assert final["status"] == "failed"
    assert final["error"]["status"] == 401


async def test_usage_records_each_attempt_with_the_key_it_used(alice, provider):
    bad = await database_sync_to_async(add_key)(provider, "bad", "sk-fake-bad-0001", 1)
    good = await database_sync_to_async(add_key)(provider, "good", "sk-good-0002", 2)

    final = await answer(alice)

    records = await database_sync_to_async(
        lambda: list(
            UsageRecord.objects.filter(message_id=final["id"])
            .order_by("attempt")
            .values_list("attempt", "outcome", "provider_key_id")
        )
    )()
    assert records == [(1, "failed", bad.pk), (2, "complete", good.pk)]
