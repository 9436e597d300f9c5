// Web search sources under an answer, and the answer's citation marks ([1], [ref_1]) turned
// into links to them. Links open in a new tab without a referrer or an opener; a site's icon is
// a request to a third party, so it is loaded only when the server allows it.

const CITATION = /\[(?:ref_)?(\d{1,3})\]/g;
const SKIP = "a, code, pre";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function hostOf(url) {
  try {
    return new URL(url).hostname.replace(/^www\./, "");
  } catch {
    return "";
  }
}

export function sourceAnchor(messageId, index) {
  return `source-${messageId}-${index}`;
}

/** The list of sources, or null when there are none. */
export function sourcesList(messageId, sources, { icons }) {
  const usable = sources.filter((source) => safeUrl(source.url));
  if (!usable.length) return null;
  const section = el("section", "sources");
  section.setAttribute("aria-label", "Sources");
  section.append(el("h3", "sources-title", `Sources · ${usable.length}`));
  const list = el("ol", "sources-list");
  for (const source of usable) {
    const item = el("li", "source");
    item.id = sourceAnchor(messageId, source.index);
    const link = el("a", "source-link");
    link.href = safeUrl(source.url);
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.referrerPolicy = "no-referrer";
    link.append(el("span", "source-index", String(source.index)));
    const icon = icons && source.icon ? safeUrl(source.icon) : null;
    if (icon) {
      const img = el("img", "source-icon");
      img.src = icon;
      img.alt = "";
      img.referrerPolicy = "no-referrer";
      img.loading = "lazy";
      link.append(img);
    }
    const text = el("span", "source-text");
    text.append(el("span", "source-title", source.title || source.url));
    text.append(el("span", "source-site", source.site_name || hostOf(source.url)));
    link.append(text);
    item.append(link);
    list.append(item);
  }
  section.append(list);
  return section;
}

/** Replace citation marks in `root`'s text with links to the sources they name. */
export function linkCitations(root, messageId, sources) {
  const byIndex = new Map(sources.map((source) => [source.index, source]));
  if (!byIndex.size) return;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.closest(SKIP) && CITATION.test(node.data)) nodes.push(node);
    CITATION.lastIndex = 0;
  }
  for (const node of nodes) node.replaceWith(citedFragment(node.data, messageId, byIndex));
}

function citedFragment(text, messageId, byIndex) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(CITATION)) {
    const source = byIndex.get(Number(match[1]));
    if (!source) continue;
    fragment.append(text.slice(last, match.index));
    const mark = el("a", "citation", match[1]);
    mark.href = `#${sourceAnchor(messageId, source.index)}`;
    mark.title = source.title || source.url;
    fragment.append(mark);
    last = match.index + match[0].length;
  }
  fragment.append(text.slice(last));
  return fragment;
}
