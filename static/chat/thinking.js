// The "thinking" section of an assistant message: a <details> holding the model's reasoning as
// plain text.
//
// - While the model reasons, it is open, its label counts "Thinking… 12 s" and its body (a box of
//   bounded height) follows the newest text unless the reader scrolled up inside it.
// - When the answer starts it collapses by itself and says "Thought for 38 s", unless the reader
//   opened or closed it by hand: a manual toggle is never overridden by incoming text.
// - Rebuilt from a finished message (a reopened conversation) it starts collapsed.

const TICK_MS = 250;
const FOLLOW_SLACK_PX = 12;

/** "12 s", "2 min 5 s". */
export function formatSeconds(ms) {
  const total = Math.max(0, Math.round(ms / 1000));
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

export function thoughtLabel(ms) {
  if (ms == null) return "Thoughts";
  if (ms < 1000) return "Thought for a moment";
  return `Thought for ${formatSeconds(ms)}`;
}

const ICON =
  '<svg class="icon thinking-icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M9 18h6M10 21h4M12 3a6 6 0 0 0-3.6 10.8c.6.5 1 1.2 1 2V16h5.2v-.2c0-.8.4-1.5 1-2A6 6 0 0 0 12 3z" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linejoin="round"/></svg>';
const CHEVRON =
  '<svg class="icon thinking-chevron" viewBox="0 0 24 24" aria-hidden="true"><path d="M9 6l6 6-6 6" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/></svg>';

export class ThinkingSection {
  constructor() {
    this.el = document.createElement("details");
    this.el.className = "thinking";
    const summary = document.createElement("summary");
    summary.innerHTML = ICON;
    this.label = document.createElement("span");
    this.label.className = "thinking-label";
    summary.append(this.label);
    summary.insertAdjacentHTML("beforeend", CHEVRON);
    this.body = document.createElement("div");
    this.body.className = "thinking-body";
    this.body.tabIndex = 0; // scrollable region: reachable by keyboard
    this.body.setAttribute("aria-label", "Model reasoning");
    this.text = document.createTextNode("");
    this.body.append(this.text);
    this.el.append(summary, this.body);

    this.phase = "new"; // new → live → done
    this.userToggled = false;
    this.follow = true;
    this.startedAt = 0;
    this.timer = null;

    // A click on the summary (mouse, or Enter/Space which fire click) is the reader's choice.
    // Programmatic `open` changes fire "toggle" but never "click".
    summary.addEventListener("click", () => {
      this.userToggled = true;
    });
    this.body.addEventListener(
      "scroll",
      () => {
        const gap = this.body.scrollHeight - this.body.scrollTop - this.body.clientHeight;
        this.follow = gap <= FOLLOW_SLACK_PX;
      },
      { passive: true },
    );
    this.el.addEventListener("toggle", () => {
      if (this.el.open) this.stick();
    });
  }

  /** Replace the whole reasoning text (snapshot, end, reset). */
  setText(text) {
    if (this.text.data !== text) {
      this.text.data = text;
      this.stick();
    }
  }

  /** Append streamed reasoning. */
  append(text) {
    this.text.appendData(text);
    this.stick();
  }

  /** Follow the newest reasoning while it streams. A finished section opens at the top. */
  stick() {
    if (this.phase === "live" && this.follow && this.el.open) {
      this.body.scrollTop = this.body.scrollHeight;
    }
  }

  /** The model is still reasoning; `startedAt` is a performance.now() timestamp. */
  showLive(startedAt) {
    this.startedAt = startedAt;
    if (this.phase === "live") return;
    this.phase = "live";
    this.el.dataset.phase = "live";
    if (!this.userToggled) this.el.open = true;
    this.stick();
    this.tick();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  tick() {
    this.label.textContent = `Thinking… ${formatSeconds(performance.now() - this.startedAt)}`;
  }

  /** Reasoning is over (the answer started, or the message ended). */
  showDone(ms) {
    const wasLive = this.phase === "live";
    this.stopTimer();
    this.phase = "done";
    this.el.dataset.phase = "done";
    this.label.textContent = thoughtLabel(ms);
    if (wasLive && !this.userToggled) this.el.open = false;
  }

  stopTimer() {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  destroy() {
    this.stopTimer();
    this.el.remove();
  }
}
