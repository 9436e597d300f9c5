// The web search toggle of the composer: one per conversation, sent with each message (the
// server remembers it). On a provider whose protocol returns no sources, a note says so.

export class SearchToggle {
  constructor(button, note, { sourcesAvailable }) {
    this.button = button;
    this.note = note;
    this.sourcesAvailable = sourcesAvailable;
    button.addEventListener("click", () => this.set(!this.on));
    this.set(button.getAttribute("aria-pressed") === "true");
  }

  get on() {
    return this.button.getAttribute("aria-pressed") === "true";
  }

  set(on) {
    this.button.setAttribute("aria-pressed", String(on));
    this.button.title = on
      ? "Web search is on for this conversation"
      : "Let the model search the web for this conversation";
    this.note.hidden = !(on && !this.sourcesAvailable);
  }
}
