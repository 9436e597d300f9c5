// The message list: builds message DOM from message objects and applies streamed frames.
//
// Sequence rules (docs/websocket-protocol.md): per message, a delta/end whose seq is ≤ the last
// applied one is ignored; seq = last + 1 is applied; anything further ahead is a gap, reported
// to the caller (which re-subscribes for a fresh snapshot) while what is shown stays.
// An `end` carries the whole final message, so it replaces our copy whatever came before.

import { MarkdownView, copyButton, copyWithFeedback } from "./markdown.js";
import { linkCitations, sourcesList } from "./sources.js";
import { ThinkingSection } from "./thinking.js";

const RENDER_INTERVAL_MS = 100;
// A render that costs more (a huge code block or list re-rendered as it grows) stretches the
// interval so rendering never takes more than about a fifth of the main thread.
const RENDER_BUDGET_FACTOR = 5;
const MAX_RENDER_INTERVAL_MS = 1000;

const BADGES = { stopped: "Stopped", failed: "Failed", interrupted: "Interrupted" };

const ERROR_ICON =
  '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M12 7.5v5.5M12 16.5v.01" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>';
const RETRY_ICON =
  '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M4 12a8 8 0 1 0 2.3-5.6M4 4v4h4" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/></svg>';

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function iconButton(className, icon, label) {
  const button = el("button", className);
  button.type = "button";
  button.innerHTML = icon;
  button.append(el("span", "button-label", label));
  return button;
}

/** Our own copy of a message object, with defaults filled in. */
function normalise(message, seq) {
  return {
    id: message.id,
    role: message.role,
    content: message.content || "",
    reasoning: message.reasoning || "",
    sources: Array.isArray(message.sources) ? message.sources : [],
    status: message.status || "complete",
    finish_reason: message.finish_reason || "",
    model: message.model || "",
    demo: Boolean(message.demo),
    error: message.error || null,
    usage: message.usage || null,
    timings: { ...(message.timings || {}) },
    created_at: message.created_at || null,
    seq: seq ?? message.seq ?? 0,
    retrying: message.retrying || null,
  };
}

function formatTokens(n) {
  return `${Number(n).toLocaleString()} token${n === 1 ? "" : "s"}`;
}

function footerDetails(m) {
  const parts = [];
  if (m.timings.total_ms != null) parts.push(`${(m.timings.total_ms / 1000).toFixed(1)} s`);
  if (m.usage && m.usage.completion_tokens != null) {
    let tokens = formatTokens(m.usage.completion_tokens);
    if (m.usage.reasoning_tokens) {
      tokens += ` (${Number(m.usage.reasoning_tokens).toLocaleString()} reasoning)`;
    }
    parts.push(tokens);
  }
  return parts.join(" · ");
}

export class MessageList {
  /**
   * @param {HTMLElement} root  container of the messages
   * @param {{onRetry(id:number):void, onChange():void}} hooks
   */
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks;
    this.entries = new Map();
    this.dirty = new Set();
    this.renderTimer = null;
    this.lastRender = 0;
    this.renderInterval = RENDER_INTERVAL_MS;
    root.addEventListener("click", (event) => this.onClick(event));
  }

  // --- queries --------------------------------------------------------------------------

  get generating() {
    for (const entry of this.entries.values()) {
      if (entry.msg.role === "assistant" && entry.msg.status === "streaming") return true;
    }
    return false;
  }

  get size() {
    return this.entries.size;
  }

  state(id) {
    const entry = this.entries.get(Number(id));
    if (!entry) return null;
    const { content, reasoning, status, seq } = entry.msg;
    return { content, reasoning, status, seq };
  }

  lastAssistantId() {
    let last = null;
    for (const entry of this.entries.values()) {
      if (entry.msg.role === "assistant" && (last === null || entry.msg.id > last)) {
        last = entry.msg.id;
      }
    }
    return last;
  }

  lastId() {
    let last = null;
    for (const id of this.entries.keys()) if (last === null || id > last) last = id;
    return last;
  }

  // --- applying server frames -------------------------------------------------------------

  /** A snapshot: make the list match `messages`, keeping DOM (and the reader's thinking
   * toggles) for messages we already show. A streaming message we hold further than the
   * snapshot (a database checkpoint can lag) keeps our text: nothing shown is discarded. */
  load(messages) {
    const ids = new Set(messages.map((m) => m.id));
    // A snapshot holds only the newest page: older messages loaded with `history` stay.
    const oldest = messages.length ? messages[0].id : Infinity;
    for (const [id, entry] of this.entries) {
      if (!ids.has(id) && id >= oldest) this.removeEntry(entry);
    }
    const kept = [...this.entries.keys()].filter((id) => id < oldest).length;
    messages.forEach((message, index) => {
      let entry = this.entries.get(message.id);
      if (!entry) {
        entry = this.createEntry(message);
      } else {
        const ours = entry.msg;
        const behind =
          ours.status === "streaming" &&
          message.status === "streaming" &&
          (message.seq ?? 0) < ours.seq;
        if (!behind) this.replace(entry, message, message.seq);
      }
      const current = this.root.children[kept + index];
      if (current !== entry.el) this.root.insertBefore(entry.el, current || null);
    });
    this.refreshActions();
    this.hooks.onChange();
  }

  /** history: older messages go before everything shown; ids we have are ignored. */
  prepend(messages) {
    const first = this.root.firstElementChild;
    for (const message of messages) {
      if (this.entries.has(message.id)) continue;
      this.root.insertBefore(this.createEntry(message).el, first);
    }
    this.refreshActions();
  }

  firstId() {
    let first = null;
    for (const id of this.entries.keys()) if (first === null || id < first) first = id;
    return first;
  }

  /** messages.added: new messages; ids we already have are ignored. */
  add(messages) {
    for (const message of messages) {
      if (this.entries.has(message.id)) continue;
      const entry = this.createEntry(message);
      this.root.append(entry.el);
    }
    this.refreshActions();
    this.hooks.onChange();
  }

  /** message.reset: a retried message starts over under the same id. */
  reset(message) {
    const entry = this.entries.get(message.id);
    if (!entry) {
      this.add([message]);
      return;
    }
    // A snapshot that already showed this attempt is newer than a late reset.
    if ((message.seq ?? 0) <= entry.msg.seq) return;
    if (entry.thinking) {
      entry.thinking.destroy();
      entry.thinking = null;
    }
    entry.view.clear();
    this.replace(entry, message, message.seq ?? 0);
    this.refreshActions();
    this.hooks.onChange();
  }

  /** @returns {"applied"|"ignored"|"gap"} */
  applyDelta(frame) {
    const entry = this.entries.get(frame.message_id);
    if (!entry) return "gap";
    const m = entry.msg;
    if (frame.seq <= m.seq) return "ignored";
    // Past an ended message's last frame means a new attempt whose message.reset was missed.
    if (frame.seq !== m.seq + 1 || m.status !== "streaming") return "gap";
    m.seq = frame.seq;
    m.retrying = null;
    this.syncRetrying(entry);
    if (frame.reasoning_ms != null) m.timings.reasoning_ms = frame.reasoning_ms;
    if (frame.reasoning) {
      m.reasoning += frame.reasoning;
      if (entry.thinking) entry.thinking.append(frame.reasoning);
    }
    if (frame.content) {
      m.content += frame.content;
      this.scheduleRender(entry);
    }
    this.syncThinking(entry, false);
    this.syncPending(entry);
    this.hooks.onChange();
    return "applied";
  }

  /** retrying: an attempt failed before the first token and another starts soon. Not
   * sequence-numbered; the next delta or the end clears it. */
  applyRetrying(frame) {
    const entry = this.entries.get(frame.message_id);
    if (!entry || entry.msg.status !== "streaming") return;
    const { attempt, max_attempts, delay_ms, error } = frame;
    entry.msg.retrying = { attempt, max_attempts, delay_ms, error };
    this.syncRetrying(entry);
    this.hooks.onChange();
  }

  /** @returns {"applied"|"ignored"|"gap"} */
  applyEnd(frame) {
    const entry = this.entries.get(frame.message_id);
    if (!entry) return "gap";
    if (frame.seq <= entry.msg.seq) return "ignored";
    this.replace(entry, frame.message, frame.seq);
    this.refreshActions();
    this.hooks.onChange();
    return "applied";
  }

  clear() {
    for (const entry of [...this.entries.values()]) this.removeEntry(entry);
  }

  // --- building and updating DOM ------------------------------------------------------------

  createEntry(message) {
    const entry = { msg: normalise(message), thinking: null, startedAt: 0 };
    entry.startedAt = performance.now() - (entry.msg.timings.elapsed_ms || 0);
    const node = el("article", `message message-${entry.msg.role === "user" ? "user" : "assistant"}`);
    node.dataset.messageId = String(entry.msg.id);
    node.dataset.role = entry.msg.role;
    entry.el = node;
    if (entry.msg.role === "user") {
      entry.bubble = el("div", "user-bubble");
      node.append(entry.bubble);
    } else {
      this.buildAssistant(entry);
    }
    this.entries.set(entry.msg.id, entry);
    this.update(entry);
    return entry;
  }

  buildAssistant(entry) {
    const header = el("header", "message-header");
    entry.avatar = el("span", "message-avatar");
    entry.avatar.setAttribute("aria-hidden", "true");
    entry.modelLabel = el("span", "message-model");
    entry.badge = el("span", "status-badge");
    entry.badge.hidden = true;
    header.append(entry.avatar, entry.modelLabel, entry.badge);
    entry.header = header;

    entry.answer = el("div", "answer markdown-body");
    entry.view = new MarkdownView(entry.answer);
    entry.pending = el("div", "pending-indicator");
    entry.pending.innerHTML = "<span></span><span></span><span></span>";
    entry.pending.append(el("span", "visually-hidden", "Waiting for the model"));
    entry.retryNotice = el("p", "message-note message-note-warning message-retrying");
    entry.retryNotice.setAttribute("role", "status");
    entry.retryNotice.hidden = true;
    entry.emptyNote = el("p", "message-empty-note");
    entry.emptyNote.hidden = true;
    entry.lengthNote = el("p", "message-note message-note-warning");
    entry.lengthNote.textContent = "Cut off at the model's output limit";
    entry.lengthNote.hidden = true;

    entry.errorBox = el("div", "message-error");
    entry.errorBox.hidden = true;

    const footer = el("footer", "message-footer");
    entry.meta = el("span", "message-meta");
    entry.copy = copyButton("copy-message");
    entry.copy.setAttribute("aria-label", "Copy answer as Markdown");
    entry.regenerate = iconButton("regenerate-button ghost-button", RETRY_ICON, "Regenerate");
    entry.regenerate.hidden = true;
    footer.append(entry.meta, entry.copy, entry.regenerate);
    entry.footer = footer;

    entry.el.append(
      header,
      entry.answer,
      entry.pending,
      entry.retryNotice,
      entry.emptyNote,
      entry.lengthNote,
      entry.errorBox,
      footer,
    );
  }

  /** Replace our copy of a message with a full object from the server. */
  replace(entry, message, seq) {
    const startedAt = performance.now() - ((message.timings || {}).elapsed_ms || 0);
    entry.msg = normalise(message, seq);
    entry.startedAt = startedAt;
    this.dirty.delete(entry);
    this.update(entry);
  }

  update(entry) {
    const m = entry.msg;
    entry.el.dataset.status = m.status;
    if (m.role === "user") {
      entry.bubble.textContent = m.content;
      return;
    }
    entry.el.dataset.demo = String(m.demo);
    entry.modelLabel.textContent = m.demo ? "Offline demo" : m.model || "Assistant";
    const badge = BADGES[m.status];
    entry.badge.hidden = !badge;
    entry.badge.textContent = badge || "";
    entry.badge.dataset.status = m.status;

    this.syncThinking(entry, true);
    entry.view.render(m.content);
    this.syncSources(entry);
    this.syncPending(entry);
    this.syncRetrying(entry);

    const finished = m.status !== "streaming";
    entry.emptyNote.hidden = !(m.status === "stopped" && !m.content);
    entry.emptyNote.textContent = m.reasoning
      ? "Stopped before the answer began."
      : "Stopped before the model wrote anything.";
    entry.lengthNote.hidden = !(m.finish_reason === "length" && finished);
    this.syncError(entry);

    entry.meta.textContent = finished ? footerDetails(m) : "";
    entry.copy.hidden = !m.content;
    entry.footer.hidden = !finished;
  }

  /** Create/update/remove the thinking section. `full` also resyncs the whole text. */
  syncThinking(entry, full) {
    const m = entry.msg;
    if (!m.reasoning) {
      if (entry.thinking) {
        entry.thinking.destroy();
        entry.thinking = null;
      }
      return;
    }
    if (!entry.thinking) {
      entry.thinking = new ThinkingSection();
      entry.header.after(entry.thinking.el);
      entry.thinking.setText(m.reasoning);
    } else if (full) {
      entry.thinking.setText(m.reasoning);
    }
    const answerStarted = m.content.length > 0 || m.timings.reasoning_ms != null;
    if (m.status === "streaming" && !answerStarted) {
      entry.thinking.showLive(entry.startedAt);
      return;
    }
    let ms = m.timings.reasoning_ms;
    if (ms == null) {
      ms = m.status === "streaming" ? performance.now() - entry.startedAt : m.timings.total_ms;
    }
    entry.thinking.showDone(ms ?? null);
  }

  /** The sources list under the answer, and the answer's citation marks linked to it. */
  syncSources(entry) {
    const m = entry.msg;
    const list = sourcesList(m.id, m.sources, { icons: this.hooks.sourceIcons === true });
    if (entry.sources) entry.sources.remove();
    entry.sources = list;
    if (list) entry.footer.before(list);
    linkCitations(entry.answer, m.id, m.sources);
  }

  syncPending(entry) {
    const m = entry.msg;
    entry.pending.hidden = !(m.status === "streaming" && !m.content && !m.reasoning);
  }

  syncRetrying(entry) {
    const m = entry.msg;
    const retrying = m.status === "streaming" ? m.retrying : null;
    entry.retryNotice.hidden = !retrying;
    entry.retryNotice.textContent = retrying ? (retrying.error && retrying.error.message) || "" : "";
  }

  syncError(entry) {
    const m = entry.msg;
    const box = entry.errorBox;
    if (m.status !== "failed" && m.status !== "interrupted") {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    box.hidden = false;
    box.classList.toggle("is-interrupted", m.status === "interrupted");
    box.innerHTML = ERROR_ICON;
    const text = el("div", "message-error-text");
    if (m.status === "interrupted") {
      text.append(
        el("p", "message-error-title", "Interrupted — the server stopped before the answer finished"),
      );
      if (m.error && m.error.message) text.append(el("p", "message-error-message", m.error.message));
    } else {
      text.append(el("p", "message-error-title", "The answer failed"));
      text.append(
        el("p", "message-error-message", (m.error && m.error.message) || "Something went wrong."),
      );
    }
    const details = [];
    if (m.error && m.error.code) details.push(`code ${m.error.code}`);
    if (m.error && m.error.status) details.push(`HTTP ${m.error.status}`);
    if (m.error && m.error.request_id) details.push(`request ${m.error.request_id}`);
    if (details.length) text.append(el("p", "message-error-code", details.join(" · ")));
    entry.retry = iconButton("retry-button", RETRY_ICON, "Retry");
    entry.retry.hidden = true;
    text.append(entry.retry);
    box.append(text);
  }

  /** Retry/Regenerate only on the last message of the conversation, not while a generation
   * runs, and Retry only where it can help: a failure the server marked not retryable (a bad
   * key, an overdue bill, a blocked or too long input) says what to do instead. */
  refreshActions() {
    const lastId = this.lastId();
    const busy = this.generating;
    for (const entry of this.entries.values()) {
      if (entry.msg.role !== "assistant") continue;
      const canRetry = entry.msg.id === lastId && !busy;
      const helps = !entry.msg.error || entry.msg.error.retryable;
      if (entry.retry && entry.errorBox.contains(entry.retry)) {
        entry.retry.hidden = !(canRetry && helps);
      }
      const retryable = entry.msg.status === "complete" || entry.msg.status === "stopped";
      entry.regenerate.hidden = !(canRetry && retryable);
    }
  }

  removeEntry(entry) {
    if (entry.thinking) entry.thinking.destroy();
    this.dirty.delete(entry);
    entry.el.remove();
    this.entries.delete(entry.msg.id);
  }

  // --- throttled answer rendering -------------------------------------------------------------

  scheduleRender(entry) {
    this.dirty.add(entry);
    if (this.renderTimer !== null) return;
    const wait = Math.max(0, this.renderInterval - (performance.now() - this.lastRender));
    this.renderTimer = setTimeout(() => this.flush(), wait);
  }

  flush() {
    this.renderTimer = null;
    const start = performance.now();
    for (const entry of this.dirty) {
      if (this.entries.get(entry.msg.id) === entry) entry.view.render(entry.msg.content);
    }
    this.dirty.clear();
    this.lastRender = performance.now();
    const cost = this.lastRender - start;
    this.renderInterval = Math.min(
      MAX_RENDER_INTERVAL_MS,
      Math.max(RENDER_INTERVAL_MS, cost * RENDER_BUDGET_FACTOR),
    );
    this.hooks.onChange();
  }

  // --- buttons inside messages ----------------------------------------------------------

  onClick(event) {
    const button = event.target.closest("button");
    if (!button || !this.root.contains(button)) return;
    const article = button.closest(".message");
    const entry = article && this.entries.get(Number(article.dataset.messageId));
    if (button.classList.contains("copy-code")) {
      const code = button.closest(".code-block").querySelector("pre code");
      copyWithFeedback(button, code ? code.textContent : "");
    } else if (button.classList.contains("copy-message") && entry) {
      copyWithFeedback(button, entry.msg.content);
    } else if (
      (button.classList.contains("retry-button") ||
        button.classList.contains("regenerate-button")) &&
      entry
    ) {
      // One click, one retry: a second frame would only earn a "busy" error.
      button.disabled = true;
      setTimeout(() => {
        button.disabled = false;
      }, 3000);
      this.hooks.onRetry(entry.msg.id);
    }
  }
}

