// Markdown pipeline for model output: markdown-it (raw HTML off) → DOMPurify → post-processing
// (links open in a new tab, remote images blocked, code blocks get a language label and a Copy
// button, tables scroll). The vendored libraries are classic <script defer> tags in chat.html
// that run before this module.
//
// MarkdownView renders incrementally: the source is parsed whole (cheap), but only top-level
// blocks whose rendered HTML changed are sanitized and put into the DOM. While an answer
// streams that is usually just the last block, so a 20k-character answer stays smooth.

const { markdownit, DOMPurify, hljs } = window;

const HIGHLIGHT_CACHE_SIZE = 200;
const highlightCache = new Map();

function highlight(code, lang) {
  const name = (lang || "").trim().split(/\s+/)[0].toLowerCase();
  // Without a known language, skip auto-detection: it runs every grammar and would be redone on
  // each streaming render of a growing block. markdown-it escapes the text when we return "".
  if (!name || !hljs || !hljs.getLanguage(name)) return "";
  const key = `${name}\u0000${code}`;
  const cached = highlightCache.get(key);
  if (cached !== undefined) {
    highlightCache.delete(key);
    highlightCache.set(key, cached);
    return cached;
  }
  let html = "";
  try {
    html = hljs.highlight(code, { language: name, ignoreIllegals: true }).value;
  } catch {
    html = "";
  }
  highlightCache.set(key, html);
  if (highlightCache.size > HIGHLIGHT_CACHE_SIZE) {
    highlightCache.delete(highlightCache.keys().next().value);
  }
  return html;
}

const md = markdownit({ html: false, linkify: true, breaks: false, typographer: false, highlight });

// Table cell alignment comes out of markdown-it as style="text-align:…", which the CSP
// (style-src 'self') would block. Turn it into a class instead.
md.core.ruler.push("alignment_classes", (state) => {
  for (const token of state.tokens) {
    const index = token.attrIndex("style");
    if (index < 0) continue;
    const match = /text-align:\s*(left|right|center)/.exec(token.attrs[index][1]);
    token.attrs.splice(index, 1);
    if (match) token.attrJoin("class", `align-${match[1]}`);
  }
});

const SANITIZE_OPTIONS = {
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "option"],
  FORBID_ATTR: ["style"],
  ALLOW_DATA_ATTR: false,
};

const COPY_ICON =
  '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><rect x="8" y="8" width="12" height="12" rx="2" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M16 8V6a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h2" fill="none" stroke="currentColor" stroke-width="1.8"/></svg>';

/** Build a small "Copy" button (icon + text). */
export function copyButton(className, label = "Copy") {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `copy-button ${className}`;
  button.innerHTML = COPY_ICON;
  const text = document.createElement("span");
  text.className = "copy-label";
  text.textContent = label;
  button.append(text);
  return button;
}

function isDataImage(src) {
  return /^data:image\/(png|gif|jpe?g|webp);/i.test(src);
}

function postProcess(root) {
  for (const link of root.querySelectorAll("a[href]")) {
    link.setAttribute("target", "_blank");
    link.setAttribute("rel", "noopener noreferrer");
  }
  // Remote images could leak the conversation to a third party (or hit same-origin URLs):
  // never load them, show where they point instead.
  for (const img of root.querySelectorAll("img")) {
    const src = img.getAttribute("src") || "";
    if (isDataImage(src)) continue;
    const link = document.createElement("a");
    link.className = "blocked-image";
    link.textContent = `remote image blocked: ${src}`;
    if (/^https?:\/\//i.test(src)) {
      link.href = src;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
    }
    const alt = img.getAttribute("alt");
    if (alt) link.title = alt;
    img.replaceWith(link);
  }
  for (const table of root.querySelectorAll("table")) {
    const wrap = document.createElement("div");
    wrap.className = "table-wrap";
    table.replaceWith(wrap);
    wrap.append(table);
  }
  for (const code of root.querySelectorAll("pre > code")) {
    const pre = code.parentElement;
    const match = /(?:^|\s)language-([\w+#.-]+)/.exec(code.className);
    const lang = match ? match[1] : "";
    code.classList.add("hljs");
    const block = document.createElement("div");
    block.className = "code-block";
    const header = document.createElement("div");
    header.className = "code-header";
    const label = document.createElement("span");
    label.className = "code-lang";
    label.textContent = lang || "text";
    header.append(label, copyButton("copy-code"));
    pre.replaceWith(block);
    block.append(header, pre);
  }
}

/** Sanitized, post-processed DOM for an HTML string produced by markdown-it. */
function toFragment(html) {
  const clean = DOMPurify.sanitize(html, SANITIZE_OPTIONS);
  // A <template> parses into an inert document: nothing loads before postProcess has removed
  // remote images.
  const template = document.createElement("template");
  template.innerHTML = clean;
  postProcess(template.content);
  return document.importNode(template.content, true);
}

/** Split markdown-it's token stream into top-level blocks: [start, end) index pairs. */
function topLevelBlocks(tokens) {
  const blocks = [];
  let start = 0;
  let depth = 0;
  for (let i = 0; i < tokens.length; i += 1) {
    depth += tokens[i].nesting;
    if (depth === 0) {
      blocks.push([start, i + 1]);
      start = i + 1;
    }
  }
  if (start < tokens.length) blocks.push([start, tokens.length]);
  return blocks;
}

/** Render markdown once into `container` (for places that never stream). */
export function renderMarkdown(container, source) {
  container.replaceChildren(toFragment(md.render(source || "")));
}

export class MarkdownView {
  constructor(container) {
    this.container = container;
    this.blocks = []; // [{html, el}] in document order
    this.source = null;
  }

  render(source) {
    const text = source || "";
    if (text === this.source) return;
    this.source = text;
    const env = {};
    const tokens = md.parse(text, env);
    const ranges = topLevelBlocks(tokens);
    const next = [];
    for (let i = 0; i < ranges.length; i += 1) {
      const [start, end] = ranges[i];
      const html = md.renderer.render(tokens.slice(start, end), md.options, env);
      const existing = this.blocks[i];
      if (existing && existing.html === html) {
        next.push(existing);
        continue;
      }
      const el = document.createElement("div");
      el.className = "md-block";
      el.append(toFragment(html));
      if (existing) existing.el.replaceWith(el);
      else this.container.append(el);
      next.push({ html, el });
    }
    for (let i = ranges.length; i < this.blocks.length; i += 1) this.blocks[i].el.remove();
    this.blocks = next;
  }

  clear() {
    this.container.replaceChildren();
    this.blocks = [];
    this.source = null;
  }
}

/** Copy text to the clipboard; falls back to execCommand where the async API is unavailable
 * (plain http on a LAN address is not a secure context). */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through to the legacy path
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "clipboard-helper";
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

/** Run a copy and show "Copied" / "Copy failed" on the button for a moment. */
export async function copyWithFeedback(button, text) {
  const label = button.querySelector(".copy-label");
  if (label && !button.dataset.label) button.dataset.label = label.textContent;
  const original = button.dataset.label || "";
  const ok = await copyText(text);
  button.classList.toggle("is-copied", ok);
  if (label) label.textContent = ok ? "Copied" : "Copy failed";
  clearTimeout(button._copyTimer);
  button._copyTimer = setTimeout(() => {
    button.classList.remove("is-copied");
    if (label) label.textContent = original;
  }, 1600);
}
