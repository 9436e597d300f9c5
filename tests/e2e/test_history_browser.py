"""History in the browser: search reaching the reasoning and opening its message; rename, pin,
archive and restore, delete (seen at once in a second tab); a share link opened by another
user and refused after revoking. Screenshots of the history and of search results go to
docs/screenshots/conversations/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, log_in
from tests.liveserver import PASSWORD, REPO, manage

pytestmark = pytest.mark.e2e

DOC_SHOTS = REPO / "docs" / "screenshots" / "conversations"

# Run by `manage.py shell`; USERNAME and PASSWORD are filled in by _seed.
SEED = """
from datetime import timedelta
from django.contrib.auth.models import User
from django.utils import timezone
from chat.models import Conversation, Message
user = User.objects.create_user(USERNAME, password=PASSWORD)
now = timezone.now()
older = Conversation.objects.create(owner=user, title="A long story")
Message.objects.bulk_create(
    Message(conversation=older, role=("user", "assistant")[i % 2], content=f"Message {i}",
            reasoning="the word pangolin hides here" if i == 5 else "")
    for i in range(120)
)
titles = ["Kyoto in autumn", "Fixing the flaky CI job", "Sourdough timings", "Rust lifetimes",
          "Quarterly report outline", "Garden irrigation plan", "Chess opening ideas"]
for days, title in zip([0, 0, 1, 3, 12, 45, 80], titles):
    chat = Conversation.objects.create(owner=user, title=title)
    Message.objects.create(conversation=chat, role="user", content=f"Tell me about {title}")
    Message.objects.create(conversation=chat, role="assistant", content=f"Notes on {title}.",
                           reasoning=f"Thinking about {title} carefully.")
    Conversation.objects.filter(pk=chat.pk).update(updated_at=now - timedelta(days=days))
Conversation.objects.filter(pk=older.pk).update(updated_at=now - timedelta(days=200))
print(older.pk, older.messages.order_by("id")[5].pk)
"""


def _seed(live_app, username: str) -> tuple[int, int]:
    code = SEED.replace("USERNAME", repr(username)).replace("PASSWORD", repr(PASSWORD))
    conversation_id, message_id = manage(live_app.env, "shell", "--no-imports", "-c", code).split()
    return int(conversation_id), int(message_id)


def _item(page, title: str):
    return page.locator(".conversation-item", has=page.locator(f"a:text-is('{title}')"))


def _menu(page, title: str, action: str) -> None:
    item = _item(page, title)
    item.hover()
    item.locator(".conversation-menu-button").click()
    page.locator(f"#conversation-menu [data-action={action}]").click()


def test_a_word_only_in_the_reasoning_is_found_and_opens_its_message(page, live_app):
    conversation_id, message_id = _seed(live_app, "searcher")
    log_in(page, live_app, "searcher")

    page.fill("#sidebar-search-input", "pangolin")
    hit = page.locator(".search-hit").first
    expect(hit).to_contain_text("A long story")
    expect(hit.locator(".search-hit-where")).to_have_text("reasoning")
    expect(hit.locator("mark")).to_have_text("pangolin")
    hit.click()

    page.wait_for_url(f"**/c/{conversation_id}/?m={message_id}*")
    target = page.locator(f'[data-message-id="{message_id}"]')
    # The message is on the third page back: the older pages loaded until it was there.
    expect(target).to_have_class(re.compile(r"\bis-search-target\b"), timeout=20_000)
    expect(target).to_be_in_viewport()
    assert page.errors == []


def test_the_search_page_shows_highlighted_results(page, live_app):
    _seed(live_app, "pagesearcher")
    log_in(page, live_app, "pagesearcher")
    page.goto(f"{live_app.url}/search/?q=kyoto")
    expect(page.locator(".result").first).to_contain_text("Kyoto in autumn")
    expect(page.locator(".result mark").first).to_have_text("Kyoto")


def test_rename_pin_archive_restore_and_delete_show_in_another_tab(page, live_app, browser):
    _seed(live_app, "organiser")
    log_in(page, live_app, "organiser")
    other = page.context.new_page()
    other.goto(f"{live_app.url}/")
    expect(_item(other, "Rust lifetimes")).to_be_visible()

    _menu(page, "Rust lifetimes", "rename")
    page.locator(".conversation-rename").fill("Borrow checker notes")
    page.keyboard.press("Enter")
    expect(_item(page, "Borrow checker notes")).to_be_visible()
    expect(_item(other, "Borrow checker notes")).to_be_visible()

    _menu(page, "Borrow checker notes", "pin")
    first_group = page.locator(".conversation-group").first
    expect(first_group).to_have_text("Pinned")
    expect(other.locator(".conversation-item").first).to_contain_text("Borrow checker notes")

    _menu(page, "Borrow checker notes", "archive")
    expect(_item(page, "Borrow checker notes")).to_have_count(0)
    expect(_item(other, "Borrow checker notes")).to_have_count(0)
    page.click("#archive-link")
    row = page.locator(".archive-item", has_text="Borrow checker notes")
    row.get_by_role("button", name="Restore").click()
    expect(page.locator("#archive-empty")).to_be_visible()
    page.goto(f"{live_app.url}/")
    expect(_item(page, "Borrow checker notes")).to_be_visible()
    expect(_item(other, "Borrow checker notes")).to_be_visible()

    _menu(page, "Sourdough timings", "delete")
    dialog = page.locator("#delete-dialog")
    expect(dialog).to_contain_text("Sourdough timings")
    dialog.get_by_role("button", name="Cancel").click()
    expect(_item(page, "Sourdough timings")).to_be_visible()
    _menu(page, "Sourdough timings", "delete")
    page.click("#delete-dialog-confirm")
    expect(_item(page, "Sourdough timings")).to_have_count(0)
    expect(_item(other, "Sourdough timings")).to_have_count(0)
    assert page.errors == []


def test_the_sidebar_groups_by_date_and_loads_older_pages_on_scroll(page, live_app):
    manage(
        live_app.env,
        "shell",
        "--no-imports",
        "-c",
        "from django.contrib.auth.models import User; from chat.models import Conversation; "
        f"u = User.objects.create_user('hoarder', password={PASSWORD!r}); "
        "Conversation.objects.bulk_create(Conversation(owner=u, title=f'Chat {i}') "
        "for i in range(130))",
    )
    log_in(page, live_app, "hoarder")
    items = page.locator(".conversation-item")
    expect(items).to_have_count(30)
    expect(page.locator(".conversation-group").first).to_have_text("Today")
    for expected in (80, 130):
        items.last.scroll_into_view_if_needed()
        expect(items).to_have_count(expected)
    expect(page.locator("#conversation-more")).to_be_hidden()


def test_a_share_link_opens_for_another_user_and_not_after_revoking(page, live_app, browser):
    _seed(live_app, "sharer")
    manage(
        live_app.env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user('reader', password={PASSWORD!r})",
    )
    log_in(page, live_app, "sharer")
    _menu(page, "Kyoto in autumn", "share")
    page.check("#include-reasoning")
    page.click("#share-create")
    link = page.locator("#share-link").input_value()
    page.screenshot(path=str(ARTIFACTS / "share-manage.png"), full_page=True)

    reader_context = browser.new_context()
    reader = reader_context.new_page()
    log_in(reader, live_app, "reader")
    reader.goto(link)
    expect(reader.locator(".page-title")).to_have_text("Kyoto in autumn")
    expect(reader.locator(".shared-message.is-assistant .markdown-body").last).to_have_text(
        "Notes on Kyoto in autumn."
    )
    expect(reader.locator(".shared-reasoning")).to_contain_text("Thinking about Kyoto")
    reader.locator(".shared-reasoning summary").click()
    reader.screenshot(path=str(ARTIFACTS / "shared-page.png"), full_page=True)

    page.get_by_role("button", name="Revoke").click()
    expect(page.locator(".archive-item")).to_contain_text("revoked")
    response = reader.goto(link)
    assert response.status == 404
    expect(reader.locator(".error-text")).to_contain_text("revoked")
    reader_context.close()


@pytest.mark.parametrize(
    ("name", "viewport", "theme"),
    [
        ("desktop-light", {"width": 1280, "height": 800}, "light"),
        ("phone-dark", {"width": 390, "height": 844}, "dark"),
    ],
)
def test_screenshots_of_history_and_search(browser, live_app, name, viewport, theme):
    username = f"shots-{name}"
    _seed(live_app, username)
    manage(
        live_app.env,
        "shell",
        "-c",
        "from chat.models import Conversation; Conversation.objects.filter("
        f"owner__username={username!r}, title='Sourdough timings').update(pinned=True)",
    )
    context = browser.new_context(viewport=viewport)
    context.add_init_script(f"window.localStorage.setItem('minimax-web:theme', '{theme}')")
    page = context.new_page()
    log_in(page, live_app, username)
    if viewport["width"] < 700:
        page.click("#menu-button")
    _item(page, "Kyoto in autumn").hover()
    _save(page, f"history-{name}.png")
    page.fill("#sidebar-search-input", "thinking")
    expect(page.locator(".search-hit").first).to_be_visible()
    _save(page, f"sidebar-search-{name}.png")
    page.goto(f"{live_app.url}/search/?q=kyoto")
    expect(page.locator(".result").first).to_be_visible()
    _save(page, f"search-page-{name}.png")
    context.close()


def _save(page, filename: str) -> None:
    DOC_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(DOC_SHOTS / filename)))
