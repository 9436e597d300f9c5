// Wiring for the chat page: socket frames → message list, composer, sidebar, toasts, drawer.
// Server data arrives through data-* attributes on <body> (no inline scripts under the CSP).

import { MessageList } from "./messages.js";
import { SearchToggle } from "./search.js";
import { ChatSocket } from "./socket.js";
import { SidebarSearch } from "./ui/search.js";
import { Sidebar } from "./ui/sidebar.js";

const RESYNC_WAIT_MS = 3000;
const RESYNC_MIN_INTERVAL_MS = 1000;
// A streaming answer that hears nothing for this long asks for a fresh snapshot: if the server
// process that ran it died, the snapshot shows it as interrupted instead of streaming forever.
const SILENT_STREAM_MS = 20000;
const STICK_SLACK_PX = 32;
const TOAST_MS = 8000;

const body = document.body;
const $ = (selector) => document.querySelector(selector);

const config = {
  wsPath: body.dataset.wsPath || "/ws/chat/",
  demo: body.dataset.demo === "true",
  maxChars: Number(body.dataset.maxMessageChars) || 100000,
  urlTemplate: body.dataset.conversationUrlTemplate || "/c/0/",
  loginUrl: body.dataset.loginUrl || "/login/",
  searchSources: body.dataset.searchSources === "true",
  sourceIcons: body.dataset.sourceIcons === "true",
  homeUrl: body.dataset.homeUrl || "/",
};

const dom = {
  app: $("#app"),
  main: $("#main"),
  sidebar: $("#sidebar"),
  backdrop: $("#drawer-backdrop"),
  menuButton: $("#menu-button"),
  drawerClose: $("#drawer-close"),
  conversationList: $("#conversation-list"),
  conversationEmpty: $("#conversation-empty"),
  conversationMore: $("#conversation-more"),
  conversationNav: $("#conversation-nav"),
  conversationMenu: $("#conversation-menu"),
  deleteDialog: $("#delete-dialog"),
  searchForm: $("#sidebar-search"),
  searchInput: $("#sidebar-search-input"),
  searchResults: $("#search-results"),
  archiveLink: $("#archive-link"),
  title: $("#conversation-title"),
  model: $("#conversation-model"),
  status: $("#connection-status"),
  scroller: $("#message-scroller"),
  emptyState: $("#empty-state"),
  loading: $("#conversation-loading"),
  messages: $("#message-list"),
  pill: $("#new-text-pill"),
  loadEarlier: $("#load-earlier"),
  loadEarlierButton: $("#load-earlier-button"),
  composer: $("#composer"),
  input: $("#composer-input"),
  send: $("#send-button"),
  stop: $("#stop-button"),
  counter: $("#char-counter"),
  composerState: $("#composer-state"),
  modelPicker: $("#model-picker"),
  modelPickerWrap: $("#model-picker-wrap"),
  searchToggle: $("#search-toggle"),
  searchNote: $("#search-note"),
  toasts: $("#toasts"),
};

let conversationId = body.dataset.conversationId ? Number(body.dataset.conversationId) : null;
let pendingSend = null; // {clientId, content, at} until messages.added or an error answers it
let awaitingSnapshot = 0; // time the last subscribe was sent, 0 when none is outstanding
let lastFrameAt = performance.now();
let stickToBottom = true;
// A search result opens its conversation at one message (?m=<id>): older pages load until it
// is there, then the view goes to it instead of to the bottom.
let targetMessageId = Number(new URLSearchParams(window.location.search).get("m")) || null;

function conversationUrl(id) {
  const url = config.urlTemplate.replace(/\/0\/$/, `/${id}/`);
  return url === config.urlTemplate ? `/c/${id}/` : url;
}

// --- scrolling -----------------------------------------------------------------------------

let followQueued = false;
// Where following last put the view. A scroll event arrives a frame after the scroll, when the
// answer may already have grown below (an `end` adds the error box and Retry at once), so the
// distance from the bottom alone would take our own follow scroll for the reader leaving. The
// reader has scrolled up only when the view is above this point.
let followTop = 0;

function distanceFromBottom() {
  const s = dom.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight;
}

function startFollowing() {
  stickToBottom = true;
  followTop = dom.scroller.scrollTop;
  dom.pill.hidden = true;
}

function scrollToBottom(smooth = false) {
  const animate = smooth && !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  dom.scroller.scrollTo({ top: dom.scroller.scrollHeight, behavior: animate ? "smooth" : "auto" });
  startFollowing();
}

/** New content arrived: follow it if the reader is at the bottom, else offer the pill. */
function onContentChange() {
  if (followQueued) return;
  followQueued = true;
  requestAnimationFrame(() => {
    followQueued = false;
    if (stickToBottom) {
      dom.scroller.scrollTop = dom.scroller.scrollHeight;
      followTop = dom.scroller.scrollTop;
    } else if (distanceFromBottom() > STICK_SLACK_PX) {
      dom.pill.hidden = false;
    }
  });
}

dom.scroller.addEventListener(
  "scroll",
  () => {
    const top = dom.scroller.scrollTop;
    if (distanceFromBottom() <= STICK_SLACK_PX) {
      startFollowing();
    } else if (top < followTop - 1) {
      stickToBottom = false; // the reader scrolled up (also in the middle of a smooth scroll)
    } else if (stickToBottom) {
      followTop = top; // a smooth scroll on its way down, or new content below: keep following
    }
  },
  { passive: true },
);
dom.pill.addEventListener("click", () => scrollToBottom(true));

// --- messages --------------------------------------------------------------------------------

const socket = new ChatSocket(config.wsPath);

const search = new SearchToggle(dom.searchToggle, dom.searchNote, {
  sourcesAvailable: config.searchSources,
});

const list = new MessageList(dom.messages, {
  sourceIcons: config.sourceIcons,
  onChange: () => {
    onContentChange();
    refreshComposer();
  },
  onRetry: (messageId) => {
    if (!socket.send({ type: "retry", message_id: messageId })) {
      toast("Not connected. The retry will be possible once the connection is back.");
    }
  },
});

function showEmptyState(show) {
  dom.emptyState.hidden = !show;
}

/** Ask for a fresh snapshot (after a sequence gap), at most once per RESYNC_WAIT_MS. */
// A gap asks for a new snapshot, at most once a second: when the answer runs in another
// server process the snapshot comes from its last checkpoint, so the frames after it can show
// a gap again until the next checkpoint (docs/websocket-protocol.md, "Sequence numbers").
let lastSubscribeAt = 0;
let resyncTimer = null;
let resyncWanted = false;

function resync() {
  if (conversationId === null || resyncTimer) return;
  const now = performance.now();
  if (awaitingSnapshot && now - awaitingSnapshot < RESYNC_WAIT_MS) {
    resyncWanted = true; // asked again once the outstanding snapshot has arrived
    return;
  }
  const wait = Math.max(0, lastSubscribeAt + RESYNC_MIN_INTERVAL_MS - now);
  resyncTimer = setTimeout(() => {
    resyncTimer = null;
    if (conversationId !== null) socket.subscribe(conversationId);
  }, wait);
}

function forThisConversation(frame) {
  return conversationId !== null && frame.conversation_id === conversationId;
}

function checkSilentStream() {
  if (list.generating && performance.now() - lastFrameAt > SILENT_STREAM_MS) {
    lastFrameAt = performance.now();
    resync();
  }
}

setInterval(checkSilentStream, 5000);

function onFrame(frame) {
  lastFrameAt = performance.now();
  switch (frame.type) {
    case "snapshot": {
      if (!frame.conversation || frame.conversation.id !== conversationId) return;
      const first = dom.loading && !dom.loading.hidden;
      awaitingSnapshot = 0;
      const wanted = resyncWanted;
      resyncWanted = false;
      dom.loading.hidden = true;
      showConversation(frame.conversation);
      search.set(Boolean(frame.conversation.search));
      const newest = frame.messages || [];
      const olderShown = list.size > 0 && list.firstId() < (newest[0]?.id ?? Infinity);
      list.load(frame.messages || []);
      // Older pages the reader already loaded stay, and so does what we knew beyond them.
      if (!olderShown) showLoadEarlier(Boolean(frame.has_more));
      if (wanted && list.generating) resync();
      showEmptyState(list.size === 0);
      if (first && !revealTarget(Boolean(frame.has_more))) scrollToBottom();
      break;
    }
    case "conversation.created": {
      const conversation = frame.conversation;
      if (!conversation) return;
      sidebar.upsert(conversation);
      if (pendingSend && frame.client_id && frame.client_id === pendingSend.clientId) {
        adoptConversation(conversation);
      }
      break;
    }
    case "conversation.updated": {
      if (!frame.conversation) return;
      sidebar.upsert(frame.conversation);
      if (frame.conversation.id === conversationId) showConversation(frame.conversation);
      break;
    }
    case "conversation.deleted": {
      sidebar.remove(frame.id);
      leaveIfGone(frame.id);
      break;
    }
    case "conversations.cleared": {
      sidebar.clear();
      leaveIfGone(conversationId);
      break;
    }
    case "messages.added": {
      if (!forThisConversation(frame)) return;
      pendingSend = null;
      showEmptyState(false);
      list.add(frame.messages || []);
      scrollToBottom();
      break;
    }
    case "message.reset": {
      if (!forThisConversation(frame) || !frame.message) return;
      list.reset(frame.message);
      break;
    }
    case "delta": {
      if (!forThisConversation(frame)) return;
      if (list.applyDelta(frame) === "gap") resync();
      break;
    }
    case "end": {
      if (!forThisConversation(frame)) return;
      if (list.applyEnd(frame) === "gap") resync();
      break;
    }
    case "history": {
      if (!forThisConversation(frame)) return;
      const fromBottom = dom.scroller.scrollHeight - dom.scroller.scrollTop;
      list.prepend(frame.messages || []);
      dom.scroller.scrollTop = dom.scroller.scrollHeight - fromBottom; // keep the reader's place
      showLoadEarlier(Boolean(frame.has_more));
      revealTarget(Boolean(frame.has_more));
      break;
    }
    case "retrying": {
      if (!forThisConversation(frame)) return;
      list.applyRetrying(frame);
      break;
    }
    case "error":
      onErrorFrame(frame);
      break;
    default:
      break;
  }
  refreshComposer();
}

function onErrorFrame(frame) {
  if (frame.request_type === "send" && pendingSend) {
    // Give the text back so nothing typed is lost.
    if (!dom.input.value.trim()) {
      dom.input.value = pendingSend.content;
      autosize();
      updateCounter();
    }
    pendingSend = null;
  }
  if (frame.request_type === "subscribe" && frame.code === "not_found") {
    awaitingSnapshot = 0;
    dom.loading.hidden = true;
    toast("This conversation doesn't exist, or it isn't yours.", frame.code);
    return;
  }
  toast(frame.message || "Something went wrong.", frame.code);
}

// --- conversation & sidebar ------------------------------------------------------------------

function showLoadEarlier(hasMore) {
  dom.loadEarlier.hidden = !hasMore;
  dom.loadEarlierButton.disabled = false;
}

function loadEarlier() {
  const before = list.firstId();
  if (conversationId === null || before === null) return;
  if (socket.send({ type: "history", conversation_id: conversationId, before_id: before })) {
    dom.loadEarlierButton.disabled = true;
  }
}

dom.loadEarlierButton.addEventListener("click", loadEarlier);

/** Go to the message a search result named, loading older pages until it is there. Returns
 * whether the view is (or will be) placed by it rather than at the bottom. */
function revealTarget(hasMore) {
  if (targetMessageId === null) return false;
  const node = dom.messages.querySelector(`[data-message-id="${targetMessageId}"]`);
  if (node) {
    targetMessageId = null;
    stickToBottom = false;
    node.classList.add("is-search-target");
    node.scrollIntoView({ block: "start" });
    return true;
  }
  const older = hasMore && list.firstId() !== null && list.firstId() > targetMessageId;
  if (older) loadEarlier();
  else targetMessageId = null; // not in this conversation (or on another branch): stay put
  return older;
}

/** The conversation on screen was deleted (here or in another tab): say so, start afresh. */
function leaveIfGone(id) {
  if (id === null || id !== conversationId) return;
  toast("This conversation was deleted.");
  window.location.assign(config.homeUrl);
}

function showConversation(conversation) {
  const title = conversation.title || "New chat";
  dom.title.textContent = title;
  document.title = `${title} · minimax-web`;
  dom.model.textContent = config.demo ? "Offline demo" : conversation.model || "";
  dom.model.hidden = !dom.model.textContent;
}

/** The new chat on this page got its id: it becomes a normal conversation page. */
function adoptConversation(conversation) {
  conversationId = conversation.id;
  body.dataset.conversationId = String(conversation.id);
  socket.follow(conversation.id); // the server subscribed this socket already
  window.history.replaceState(null, "", conversationUrl(conversation.id));
  if (dom.modelPickerWrap) dom.modelPickerWrap.remove();
  showConversation(conversation);
  sidebar.setActive(conversation.id);
}

// --- composer ----------------------------------------------------------------------------------

function autosize() {
  dom.input.style.height = "auto";
  dom.input.style.height = `${dom.input.scrollHeight}px`;
}

function updateCounter() {
  const length = dom.input.value.length;
  const near = length >= config.maxChars * 0.8;
  dom.counter.hidden = !near;
  dom.counter.classList.toggle("is-over", length > config.maxChars);
  if (near) {
    dom.counter.textContent = `${length.toLocaleString()} / ${config.maxChars.toLocaleString()}`;
  }
}

function refreshComposer() {
  const connected = socket.state === "open";
  const generating = list.generating;
  const text = dom.input.value.trim();
  dom.send.hidden = generating;
  dom.stop.hidden = !generating;
  dom.stop.disabled = !connected;
  dom.send.disabled =
    !connected || pendingSend !== null || !text || text.length > config.maxChars;
  dom.composer.dataset.connected = String(connected);
  dom.composer.dataset.generating = String(generating);
}

function newClientId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

function submit() {
  const content = dom.input.value.trim();
  if (!content || pendingSend || list.generating) return;
  if (content.length > config.maxChars) {
    toast(`The message is too long (${content.length.toLocaleString()} characters; the limit is ${config.maxChars.toLocaleString()}).`);
    return;
  }
  const clientId = newClientId();
  const frame = { type: "send", conversation_id: conversationId, content, client_id: clientId };
  if (conversationId === null && dom.modelPicker) frame.model = dom.modelPicker.value;
  frame.search = search.on;
  if (!socket.send(frame)) {
    toast("Not connected yet. Your message is still in the box.");
    return;
  }
  pendingSend = { clientId, content, at: performance.now() };
  dom.input.value = "";
  autosize();
  updateCounter();
  startFollowing();
  refreshComposer();
  // Never leave the composer locked if the server does not answer.
  setTimeout(() => {
    if (pendingSend && pendingSend.clientId === clientId) {
      pendingSend = null;
      refreshComposer();
    }
  }, 15000);
}

dom.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  submit();
});

dom.input.addEventListener("keydown", (event) => {
  // IME composition (Japanese, Chinese…) uses Enter to confirm a candidate: never send then.
  if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
    return;
  }
  event.preventDefault();
  if (!dom.send.disabled && !dom.send.hidden) submit();
});

dom.input.addEventListener("input", () => {
  autosize();
  updateCounter();
  refreshComposer();
});

dom.stop.addEventListener("click", () => {
  if (conversationId !== null) socket.send({ type: "stop", conversation_id: conversationId });
});

for (const button of document.querySelectorAll(".example-prompt")) {
  button.addEventListener("click", () => {
    dom.input.value = button.dataset.prompt || button.textContent.trim();
    autosize();
    updateCounter();
    refreshComposer();
    if (!dom.send.disabled) submit();
    else dom.input.focus();
  });
}

// --- connection state ---------------------------------------------------------------------------

const STATE_TEXT = {
  idle: "Connecting…",
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline — waiting for the network…",
  unauthorized: "Signed out",
};

function onStateChange(state) {
  dom.status.dataset.state = state;
  const text = dom.status.querySelector(".connection-text");
  text.textContent = STATE_TEXT[state] || state;
  const existing = dom.status.querySelector("a");
  if (existing) existing.remove();
  if (state === "unauthorized") {
    const link = document.createElement("a");
    link.href = `${config.loginUrl}?next=${encodeURIComponent(window.location.pathname)}`;
    link.textContent = "Log in again";
    dom.status.append(link);
  }
  const connected = state === "open";
  dom.composerState.hidden = connected;
  dom.composerState.textContent = connected ? "" : STATE_TEXT[state] || "";
  refreshComposer();
}

socket.addEventListener("state", (event) => onStateChange(event.detail));
socket.addEventListener("frame", (event) => onFrame(event.detail));
socket.addEventListener("subscribe", () => {
  awaitingSnapshot = performance.now();
  lastSubscribeAt = awaitingSnapshot;
});

// --- toasts ---------------------------------------------------------------------------------------

function toast(message, code) {
  const item = document.createElement("div");
  item.className = "toast";
  if (code) item.dataset.code = code;
  const text = document.createElement("p");
  text.textContent = message;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", () => item.remove());
  item.append(text, close);
  dom.toasts.append(item);
  while (dom.toasts.children.length > 3) dom.toasts.firstElementChild.remove();
  setTimeout(() => item.remove(), TOAST_MS);
}

// --- sidebar ------------------------------------------------------------------------------------

const sidebar = new Sidebar({
  list: dom.conversationList,
  empty: dom.conversationEmpty,
  more: dom.conversationMore,
  nav: dom.conversationNav,
  menu: dom.conversationMenu,
  dialog: dom.deleteDialog,
  toast,
  onRemoved: leaveIfGone,
});
sidebar.setActive(conversationId);

new SidebarSearch({
  form: dom.searchForm,
  input: dom.searchInput,
  results: dom.searchResults,
  hideWhileSearching: [dom.conversationList, dom.conversationMore, dom.archiveLink],
});

// --- phone drawer -------------------------------------------------------------------------------

const phone = window.matchMedia("(max-width: 760px)");

function setDrawer(open) {
  const wasOpen = dom.app.classList.contains("drawer-open");
  dom.app.classList.toggle("drawer-open", open);
  dom.backdrop.hidden = !open;
  dom.menuButton.setAttribute("aria-expanded", String(open));
  dom.main.inert = open;
  if (open) {
    $("#new-chat").focus();
  } else if (wasOpen && phone.matches) {
    dom.menuButton.focus();
  }
}

dom.menuButton.addEventListener("click", () => setDrawer(true));
dom.drawerClose.addEventListener("click", () => setDrawer(false));
dom.backdrop.addEventListener("click", () => setDrawer(false));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && dom.app.classList.contains("drawer-open")) setDrawer(false);
});
phone.addEventListener("change", () => {
  if (!phone.matches) setDrawer(false);
});

// --- start ----------------------------------------------------------------------------------------

window.chatApp = {
  messageState: (id) => list.state(id),
  lastAssistantId: () => list.lastAssistantId(),
  get conversationId() {
    return conversationId;
  },
  get connectionState() {
    return socket.state;
  },
};

if (conversationId !== null) socket.conversationId = conversationId;
onStateChange("connecting");
autosize();
updateCounter();
socket.start();
if (!("ontouchstart" in window)) dom.input.focus();
