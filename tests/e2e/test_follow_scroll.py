"""A reader who has not scrolled up keeps following the answer to its very end: when the
answer ends (complete, or failed with an error box and a Retry button that appear at once) the
view is at the bottom, the "↓ New text" pill stays hidden, and the last button is uncovered.

The fault this guards against (issue 5): a scroll event is dispatched a frame after the scroll.
When the `end` frame grew the message in between, the page read the distance from the bottom
at dispatch time, took its own follow scroll for the reader scrolling up, and stopped."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in
from tests.liveserver import PASSWORD, manage

pytestmark = pytest.mark.e2e

LAST_ASSISTANT = ".message[data-role=assistant] >> nth=-1"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
TRUNCATED = "Cut this answer off [[fake truncate=40 reasoning=8]]"
# Short answers, most of them cut off by the fake upstream: the `end` frame then replaces the
# message with a taller one (error box, Retry, footer) in one go.
PROMPTS = [
    "A long one first, to fill the page [[fake kind=long tps=400 reasoning=8]]",
    *[TRUNCATED] * 5,
    "A short complete one [[fake kind=short reasoning=8]]",
    *[TRUNCATED] * 5,
]

# True once the scroller is at the bottom, the pill is hidden and the last message's action
# button (Retry or Regenerate) is the element under its own centre and bottom edge.
FOLLOWING = """(selector) => {
  const scroller = document.getElementById("message-scroller");
  const pill = document.getElementById("new-text-pill");
  const messages = document.querySelectorAll(".message[data-role=assistant]");
  const button = messages[messages.length - 1].querySelector(selector);
  if (scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight > 3) return false;
  if (!pill.hidden || !button || button.hidden) return false;
  const box = button.getBoundingClientRect();
  const x = box.left + box.width / 2;
  return [box.top + box.height / 2, box.bottom - 2].every((y) =>
    button.contains(document.elementFromPoint(x, y))
  );
}"""

SCROLL_STATE = """() => {
  const s = document.getElementById("message-scroller");
  return {distance: s.scrollHeight - s.scrollTop - s.clientHeight,
          pill: !document.getElementById("new-text-pill").hidden};
}"""

# Stage the race on every answer instead of waiting for it (about one `end` in six hits it):
# hold an answer's deltas until its `end` arrives, apply them, then hold the `end` until the
# page's follow scroll has moved the view for that text, and apply it right after that scroll,
# before the browser dispatches the scroll event. Test code only, injected by Playwright.
HOLD_END_UNTIL_A_FOLLOW_SCROLL = """(() => {
  const deltas = [];
  const ends = [];
  window.stagedEnds = 0;
  const release = (queue) => { while (queue.length) queue.shift()(); };
  const addEventListener = WebSocket.prototype.addEventListener;
  WebSocket.prototype.addEventListener = function (type, listener, options) {
    if (type !== "message") return addEventListener.call(this, type, listener, options);
    const holding = (event) => {
      const kind = JSON.parse(event.data).type;
      const apply = () => listener.call(this, event);
      if (kind === "delta") {
        deltas.push(apply);
      } else if (kind === "end") {
        ends.push(apply);
        release(deltas);
        setTimeout(() => release(ends), 1000);  // no follow scroll came: apply it anyway
      } else {
        apply();
      }
    };
    return addEventListener.call(this, type, holding, options);
  };
  const requestAnimationFrame = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (callback) => requestAnimationFrame((time) => {
    const scroller = document.getElementById("message-scroller");
    const before = scroller ? scroller.scrollTop : 0;
    callback(time);
    if (ends.length && scroller && scroller.scrollTop !== before) {
      window.stagedEnds += ends.length;
      release(ends);
    }
  });
})();"""


def log_in_as_new_user(page, live_app, user: str) -> None:
    # A user of its own: the shared one would soon reach the messages-per-minute limit.
    manage(
        live_app.env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user({user!r}, password={PASSWORD!r})",
    )
    log_in(page, live_app, user)


def send(page, prompt: str) -> None:
    page.fill("#composer-input", prompt)
    expect(page.locator("#send-button")).to_be_enabled()  # connected, and not still busy
    page.press("#composer-input", "Enter")


def send_and_check_following(page, prompt: str) -> None:
    send(page, prompt)
    message = page.locator(LAST_ASSISTANT)
    expect(message).to_have_attribute("data-status", "streaming")
    expect(message).not_to_have_attribute("data-status", "streaming", timeout=30_000)
    failed = message.get_attribute("data-status") == "failed"
    selector = ".retry-button" if failed else ".regenerate-button"
    try:
        page.wait_for_function(FOLLOWING, arg=selector, timeout=3_000)
    except Exception as exc:
        state = page.evaluate(SCROLL_STATE)
        raise AssertionError(f"stopped following after {prompt!r}: {state}") from exc


@pytest.mark.parametrize("width", VIEWPORTS)
def test_the_view_follows_every_answer_to_its_end(page, live_app, width):
    page.set_viewport_size(VIEWPORTS[width])
    log_in_as_new_user(page, live_app, f"follower-{width}")
    for prompt in PROMPTS:
        send_and_check_following(page, prompt)
    assert page.errors == []


def test_an_end_that_lands_between_a_follow_scroll_and_its_event_keeps_the_view_following(
    page, live_app
):
    page.set_viewport_size(VIEWPORTS["phone"])
    page.add_init_script(HOLD_END_UNTIL_A_FOLLOW_SCROLL)
    log_in_as_new_user(page, live_app, "follower-staged")
    send_and_check_following(page, PROMPTS[0])
    for _ in range(3):
        send_and_check_following(page, TRUNCATED)
    assert page.evaluate("window.stagedEnds") >= 3  # the race really was staged
    assert page.errors == []


def test_a_reader_who_scrolls_up_stays_put_until_the_pill_brings_them_back(page, live_app):
    log_in_as_new_user(page, live_app, "follower-reader")
    send(page, "A long one [[fake kind=long tps=40 reasoning=8]]")
    scroller = page.locator("#message-scroller")
    page.wait_for_function(
        "() => { const s = document.getElementById('message-scroller');"
        " return s.scrollHeight > s.clientHeight + 400; }"
    )
    scroller.hover()
    page.mouse.wheel(0, -300)
    pill = page.locator("#new-text-pill")
    expect(pill).to_be_visible()
    top = scroller.evaluate("(s) => s.scrollTop")
    page.wait_for_timeout(600)  # more text arrives meanwhile
    assert scroller.evaluate("(s) => s.scrollTop") == top
    expect(page.locator(LAST_ASSISTANT)).to_have_attribute("data-status", "streaming")

    pill.click()
    expect(pill).to_be_hidden()
    page.wait_for_timeout(600)  # following again while the text grows
    page.click("#stop-button")
    expect(page.locator(LAST_ASSISTANT)).to_have_attribute("data-status", "stopped")
    page.wait_for_function(FOLLOWING, arg=".regenerate-button", timeout=3_000)
    assert page.errors == []
