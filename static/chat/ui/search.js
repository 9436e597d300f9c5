// The sidebar's search box: results as you type (titles, answers and reasoning, with the
// matched words highlighted), each linking to its conversation scrolled to the message. Enter
// opens the full results page, which is also what the form does without JavaScript.

const TYPE_PAUSE_MS = 250;

export class SidebarSearch {
  constructor({ form, input, results, hideWhileSearching }) {
    this.form = form;
    this.input = input;
    this.results = results;
    this.hideWhileSearching = hideWhileSearching;
    this.timer = null;
    this.asked = 0;
    input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.run(), TYPE_PAUSE_MS);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && input.value) {
        input.value = "";
        this.show(null);
      }
    });
  }

  async run() {
    const query = this.input.value.trim();
    if (!query) {
      this.show(null);
      return;
    }
    const asked = ++this.asked;
    try {
      const response = await fetch(`${this.form.action}?q=${encodeURIComponent(query)}`, {
        headers: { Accept: "application/json" },
      });
      const data = await response.json();
      if (asked === this.asked && response.ok) this.show(data);
    } catch {
      if (asked === this.asked) this.showNote("Search is not reachable right now.");
    }
  }

  show(data) {
    const searching = data !== null;
    this.results.hidden = !searching;
    for (const element of this.hideWhileSearching) element.hidden = searching;
    if (!searching) {
      this.results.replaceChildren();
      return;
    }
    const hits = [...data.titles.map(titleHit), ...data.messages.map(messageHit)];
    if (!hits.length) {
      this.showNote(`Nothing matches “${data.query}”.`);
      return;
    }
    const list = document.createElement("ul");
    list.className = "search-hits";
    list.append(...hits);
    const all = document.createElement("a");
    all.className = "search-all";
    all.href = `${this.form.action}?q=${encodeURIComponent(data.query)}`;
    all.textContent = "All results →";
    this.results.replaceChildren(list, all);
  }

  showNote(text) {
    const note = document.createElement("p");
    note.className = "search-note";
    note.textContent = text;
    this.results.hidden = false;
    this.results.replaceChildren(note);
  }
}

/** Server-escaped text with <mark> around matches; DOMPurify keeps only the marks anyway. */
function highlighted(html) {
  const span = document.createElement("span");
  span.innerHTML = window.DOMPurify.sanitize(html, { ALLOWED_TAGS: ["mark"], ALLOWED_ATTR: [] });
  return span;
}

function hitItem(url, title, where, snippetHtml) {
  const item = document.createElement("li");
  const link = document.createElement("a");
  link.className = "search-hit";
  link.href = url;
  const head = document.createElement("span");
  head.className = "search-hit-head";
  title.classList.add("search-hit-title");
  head.append(title);
  if (where) {
    const label = document.createElement("span");
    label.className = "search-hit-where";
    label.textContent = where;
    head.append(label);
  }
  link.append(head);
  if (snippetHtml) {
    const snippet = highlighted(snippetHtml);
    snippet.className = "search-hit-snippet";
    link.append(snippet);
  }
  item.append(link);
  return item;
}

function titleHit(hit) {
  return hitItem(hit.url, highlighted(hit.title_html), "title", "");
}

function messageHit(hit) {
  const title = document.createElement("span");
  title.textContent = hit.conversation_title;
  const where = hit.in_reasoning ? "reasoning" : hit.role === "user" ? "you" : "answer";
  return hitItem(hit.url, title, where, hit.snippet_html);
}
