"""GET /requests: the chat requests the fake received, its control routes left out."""

import httpx

from chat.fakeupstream.testing import RunningFake

AUTH = {"Authorization": "Bearer sk-recorder"}


def test_it_lists_chat_requests_and_not_its_own_control_routes(
    fake_upstream_process: RunningFake,
) -> None:
    before = fake_upstream_process.received()["total"]
    fake_upstream_process.stats()
    body = {"model": "MiniMax-M2.1", "messages": [{"role": "user", "content": "hi"}]}
    httpx.post(f"{fake_upstream_process.url}/chat/completions", json=body, headers=AUTH)

    received = fake_upstream_process.received()
    assert received["total"] == before + 1
    assert received["requests"][-1] == {
        "method": "POST",
        "path": "/compatible-mode/v1/chat/completions",
        "model": "MiniMax-M2.1",
    }
