// A reconnecting WebSocket client for /ws/chat/ (docs/websocket-protocol.md).
//
// - Reconnects with exponential backoff and jitter, capped at about 10 s; coming back online or
//   returning to the tab tries again at once.
// - After every (re)connect it re-subscribes to the current conversation, so the server sends a
//   fresh snapshot and nothing streamed meanwhile is lost.
// - Close code 4401 means "not logged in". A socket that was open gets one immediate second
//   try (a password change in this tab replaces the session cookie, and the old session's
//   socket is closed); a second 4401 stops retrying.
//
// Events (EventTarget): "state" (detail: state name), "frame" (detail: parsed frame),
// "subscribe" (detail: conversation id, whenever a subscribe frame is sent).

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
const UNAUTHORIZED = 4401;
const RECHECK_WINDOW_MS = 5000;

export class ChatSocket extends EventTarget {
  constructor(path) {
    super();
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    this.url = `${scheme}//${window.location.host}${path}`;
    this.ws = null;
    this.state = "idle"; // idle | connecting | open | reconnecting | offline | unauthorized
    this.attempt = 0;
    this.timer = null;
    this.conversationId = null;
    this.retryAt = 0;
    this.lastUnauthorizedAt = 0;
  }

  start() {
    window.addEventListener("online", () => this.nudge());
    window.addEventListener("offline", () => {
      if (this.state !== "open") this.setState("offline");
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.nudge();
    });
    this.connect();
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Send a frame; false when the socket is not open (the caller keeps the user's input). */
  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Follow a conversation: subscribe now if connected, and after every reconnect. */
  subscribe(conversationId) {
    this.conversationId = conversationId;
    this.sendSubscribe();
  }

  /** Remember the conversation without sending (the server already subscribed us, e.g. after
   * a `send` that created the conversation). */
  follow(conversationId) {
    this.conversationId = conversationId;
  }

  sendSubscribe() {
    if (this.conversationId == null) return;
    if (this.send({ type: "subscribe", conversation_id: this.conversationId })) {
      this.emit("subscribe", this.conversationId);
    }
  }

  /** Try now instead of waiting for the backoff timer. */
  nudge() {
    if (this.state === "unauthorized") return;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return; // connecting or open
    this.attempt = Math.min(this.attempt, 1);
    this.connect();
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    this.setState(this.attempt === 0 && this.state === "idle" ? "connecting" : "reconnecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.setState("open");
      this.sendSubscribe();
    });
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && typeof frame.type === "string") this.emit("frame", frame);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (event.code === UNAUTHORIZED) {
        const now = Date.now();
        const again = now - this.lastUnauthorizedAt < RECHECK_WINDOW_MS;
        this.lastUnauthorizedAt = now;
        if (again) this.setState("unauthorized");
        else this.connect();
        return;
      }
      this.scheduleReconnect();
    });
    // "error" is always followed by "close", which does the work.
  }

  scheduleReconnect() {
    const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState(navigator.onLine === false ? "offline" : "reconnecting");
    this.timer = setTimeout(() => this.connect(), delay);
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.emit("state", state);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
