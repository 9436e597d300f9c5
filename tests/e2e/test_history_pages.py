"""A long conversation opens on its newest page; older messages load on request, in order,
without moving the reader."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import log_in
from tests.liveserver import PASSWORD, manage

MESSAGES = 120
SEED = f"""
from django.contrib.auth.models import User
from chat.models import Conversation, Message
user = User.objects.create_user("historian", password={PASSWORD!r})
conversation = Conversation.objects.create(owner=user, title="A long story")
Message.objects.bulk_create(
    Message(conversation=conversation, role=("user", "assistant")[i % 2], content=f"Message {{i}}")
    for i in range({MESSAGES})
)
print(conversation.pk)
"""


def test_older_messages_load_page_by_page_above_the_newest(page, live_app):
    conversation_id = int(manage(live_app.env, "shell", "--no-imports", "-c", SEED).strip())
    log_in(page, live_app, "historian")
    page.goto(f"{live_app.url}/c/{conversation_id}/")
    messages = page.locator("#message-list > *")
    expect(messages).to_have_count(50)
    expect(messages.first).to_contain_text("Message 70")
    button = page.locator("#load-earlier-button")
    expect(button).to_be_visible()

    button.click()
    expect(messages).to_have_count(100)
    expect(messages.first).to_contain_text("Message 20")
    # The message that was at the top is where the reader left it, not pushed away.
    expect(page.get_by_text("Message 70", exact=True)).to_be_in_viewport()

    button.click()
    expect(messages).to_have_count(MESSAGES)
    expect(messages.first).to_contain_text("Message 0")
    expect(page.locator("#load-earlier")).to_be_hidden()
    assert page.errors == []
