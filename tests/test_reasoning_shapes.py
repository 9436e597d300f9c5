"""However a server sends the reasoning, it streams into the thinking section (the message's
`reasoning`) and the answer into `content`: end to end, from a custom OpenAI-compatible
provider serving a stream of each documented shape (docs/upstream-protocol.md §6)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest
from channels.db import database_sync_to_async

from chat import upstream_config
from chat.models import Message, Provider
from tests.providers import add_key
from tests.wsclient import Transcript, connect, receive_type, run_until_end, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

STREAMS = Path(__file__).parent / "upstream" / "streams"
SHAPES = {
    "reasoning_content (DeepSeek, vLLM)": "deepseek_reasoning_content.txt",
    "reasoning (OpenRouter, newer vLLM)": "openrouter_reasoning.txt",
    "reasoning_details (MiniMax API with reasoning_split)": "minimax_reasoning_details.txt",
    "inline <think> (MiniMax API, llama.cpp, Ollama)": "llamacpp_think_tags.txt",
}


@pytest.fixture
def server_streaming(monkeypatch, settings):
    """A custom provider whose server answers every request with the bytes of one file."""
    settings.DASHSCOPE_API_KEY = ""

    def serve(file_name: str) -> None:
        body = (STREAMS / file_name).read_bytes()
        transport = httpx.MockTransport(
            lambda request: httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=body
            )
        )
        make_target = upstream_config.key_target
        monkeypatch.setattr(
            upstream_config,
            "key_target",
            lambda provider, key: dataclasses.replace(
                make_target(provider, key), transport=transport
            ),
        )
        provider = Provider.objects.create(
            name="Self-hosted",
            endpoint=Provider.Endpoint.CUSTOM,
            custom_base_url="http://llm.internal:8000/v1",
            offered_models="MiniMax-M2",
        )
        add_key(provider, "local", "sk-local-0000")

    return database_sync_to_async(serve)


@pytest.mark.parametrize("file_name", SHAPES.values(), ids=SHAPES.keys())
async def test_each_reasoning_shape_streams_into_the_thinking_section(
    alice, server_streaming, file_name
):
    await server_streaming(file_name)
    communicator, _ = await connect(alice)
    await send(
        communicator,
        {"type": "send", "conversation_id": None, "content": "hi", "model": "MiniMax-M2"},
    )
    transcript = Transcript()
    transcript.apply(await receive_type(communicator, "snapshot"))
    transcript.apply(await receive_type(communicator, "messages.added"))

    end = await run_until_end(communicator, transcript)

    final = end["message"]
    assert (final["status"], final["reasoning"], final["content"]) == (
        "complete",
        "The user says hi.",
        "Hello!",
    )
    seen = transcript.messages[end["message_id"]]
    assert (seen["reasoning"], seen["content"]) == ("The user says hi.", "Hello!")
    stored = await database_sync_to_async(Message.objects.get)(pk=end["message_id"])
    assert (stored.reasoning, stored.content, stored.model) == (
        "The user says hi.",
        "Hello!",
        "MiniMax-M2",
    )
    await communicator.disconnect()
