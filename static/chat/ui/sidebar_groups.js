// DOM-free: which date group a conversation belongs to in the sidebar, in the reader's time
// zone (so the grouping happens in the browser, not on the server).

const DAY_MS = 24 * 60 * 60 * 1000;

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

/** "Pinned", "Today", "Yesterday", "Previous 7 days", "Previous 30 days", then "March" (this
 * year) or "March 2025". */
export function groupLabel(conversation, now = new Date()) {
  if (conversation.pinned) return "Pinned";
  const when = new Date(conversation.updated_at);
  if (Number.isNaN(when.getTime())) return "Older";
  const days = Math.floor((startOfDay(now) - startOfDay(when)) / DAY_MS);
  if (days <= 0) return "Today";
  if (days === 1) return "Yesterday";
  if (days < 7) return "Previous 7 days";
  if (days < 30) return "Previous 30 days";
  const month = when.toLocaleString(undefined, { month: "long" });
  return when.getFullYear() === now.getFullYear() ? month : `${month} ${when.getFullYear()}`;
}

/** The sidebar order: pinned first, then newest first, then the higher id. */
export function compareConversations(a, b) {
  if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
  const byDate = (b.updated_at || "").localeCompare(a.updated_at || "");
  return byDate || b.id - a.id;
}
