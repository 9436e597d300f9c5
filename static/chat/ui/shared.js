// A shared conversation: the server puts each message's Markdown source in as text (so the
// page reads without JavaScript); here it goes through the same renderer and sanitiser as the
// chat page.

import { renderMarkdown } from "../markdown.js";

for (const block of document.querySelectorAll("[data-markdown]")) {
  const source = block.textContent;
  block.removeAttribute("data-markdown");
  renderMarkdown(block, source);
}
