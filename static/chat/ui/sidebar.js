// The sidebar's list of conversations: date groups with pinned ones on top, loaded a page at
// a time as the reader scrolls, and each conversation's menu (rename inline, pin, share,
// archive, delete after a confirmation). Changes made in any tab arrive as socket frames and
// go through `upsert` / `remove` / `clear`, like the changes made here.

import { compareConversations, groupLabel } from "./sidebar_groups.js";

export class Sidebar {
  constructor({ list, empty, more, nav, menu, dialog, toast, onRemoved }) {
    this.list = list;
    this.empty = empty;
    this.more = more;
    this.nav = nav;
    this.menu = menu;
    this.dialog = dialog;
    this.toast = toast;
    this.onRemoved = onRemoved;
    this.pageUrl = list.dataset.pageUrl;
    this.actionTemplate = list.dataset.actionUrlTemplate; // …/c/0/rename/
    this.shareTemplate = list.dataset.shareUrlTemplate;
    this.next = list.dataset.next || null;
    this.activeId = null;
    this.loading = false;
    this.items = new Map(); // id → conversation object (docs/websocket-protocol.md)
    this.nodes = new Map(); // id → <li>, rebuilt when the conversation changes
    for (const item of list.querySelectorAll("li[data-conversation-id]")) {
      const link = item.querySelector("a");
      this.items.set(Number(item.dataset.conversationId), {
        id: Number(item.dataset.conversationId),
        title: link.textContent,
        model: item.dataset.model,
        updated_at: item.dataset.updatedAt,
        pinned: item.dataset.pinned === "true",
        archived: false,
      });
    }
    this.menuFor = null;
    this.bindMenu();
    this.bindPaging();
    this.render();
  }

  // --- the list -------------------------------------------------------------------------------

  setActive(id) {
    this.activeId = id;
    for (const [itemId, node] of this.nodes) {
      const link = node.querySelector(".conversation-link");
      link.classList.toggle("is-active", itemId === id);
      if (itemId === id) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  /** A new or changed conversation. Archived ones leave the list; one that sorts below the
   * loaded pages waits for its page. */
  upsert(conversation) {
    const known = this.items.get(conversation.id);
    if (conversation.archived) {
      if (known) this.remove(conversation.id);
      return;
    }
    if (!known && this.next && this.sortsBelowLoaded(conversation)) return;
    this.items.set(conversation.id, { ...known, ...conversation });
    this.nodes.delete(conversation.id);
    this.render();
  }

  remove(id) {
    this.items.delete(id);
    this.nodes.delete(id);
    this.render();
  }

  clear() {
    this.items.clear();
    this.nodes.clear();
    this.next = null;
    this.render();
  }

  sortsBelowLoaded(conversation) {
    const sorted = [...this.items.values()].sort(compareConversations);
    const last = sorted[sorted.length - 1];
    return last !== undefined && compareConversations(conversation, last) > 0;
  }

  render() {
    const now = new Date();
    const rows = [];
    let group = null;
    for (const conversation of [...this.items.values()].sort(compareConversations)) {
      const label = groupLabel(conversation, now);
      if (label !== group) {
        group = label;
        const heading = document.createElement("li");
        heading.className = "conversation-group";
        heading.setAttribute("role", "presentation");
        heading.textContent = label;
        rows.push(heading);
      }
      rows.push(this.node(conversation));
    }
    this.list.replaceChildren(...rows);
    this.empty.hidden = this.items.size > 0 || Boolean(this.next);
    this.more.hidden = !this.next;
    this.setActive(this.activeId);
  }

  node(conversation) {
    let item = this.nodes.get(conversation.id);
    if (item) return item;
    item = document.createElement("li");
    item.className = "conversation-item";
    item.dataset.conversationId = String(conversation.id);
    item.dataset.pinned = String(conversation.pinned);
    const link = document.createElement("a");
    link.className = "conversation-link";
    link.href = this.url(conversation.id, "");
    link.dataset.conversationId = String(conversation.id);
    const title = conversation.title || "New chat";
    link.textContent = title;
    link.title = title;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "conversation-menu-button";
    button.setAttribute("aria-label", `Options for “${title}”`);
    button.setAttribute("aria-haspopup", "menu");
    button.textContent = "⋯";
    item.append(link, button);
    this.nodes.set(conversation.id, item);
    return item;
  }

  url(id, action) {
    const base = this.actionTemplate.replace(/\/0\/rename\/$/, `/${id}/`);
    return action ? `${base}${action}/` : base;
  }

  // --- paging ---------------------------------------------------------------------------------

  bindPaging() {
    this.more.textContent = "Loading…";
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) this.loadMore();
      },
      { root: this.nav, rootMargin: "200px" },
    );
    observer.observe(this.more);
  }

  async loadMore() {
    if (!this.next || this.loading) return;
    this.loading = true;
    try {
      const response = await fetch(`${this.pageUrl}?after=${encodeURIComponent(this.next)}`, {
        headers: { Accept: "application/json" },
      });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error?.message || response.statusText);
      for (const conversation of data.conversations) {
        if (!this.items.has(conversation.id)) this.items.set(conversation.id, conversation);
      }
      this.next = data.next;
      this.render();
    } catch (error) {
      this.toast(`Could not load older chats: ${error.message}`);
    } finally {
      this.loading = false;
    }
    // A tall window may show the end of the list again at once.
    if (this.next && this.nav.scrollHeight <= this.nav.clientHeight + 200) this.loadMore();
  }

  // --- actions --------------------------------------------------------------------------------

  async post(id, action, fields = {}) {
    const csrf = document.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
    try {
      const response = await fetch(this.url(id, action), {
        method: "POST",
        headers: { Accept: "application/json", "X-CSRFToken": csrf },
        body: new URLSearchParams(fields),
      });
      const data = await response.json().catch(() => ({}));
      if (!response.ok) {
        this.toast(data.error?.message || `That did not work (HTTP ${response.status}).`);
        return null;
      }
      return data;
    } catch {
      this.toast("Not connected. Nothing was changed.");
      return null;
    }
  }

  async setPinned(id, pinned) {
    const data = await this.post(id, "pin", { pinned: String(pinned) });
    if (data) this.upsert(data.conversation);
  }

  async setArchived(id, archived) {
    const data = await this.post(id, "archive", { archived: String(archived) });
    if (data) this.upsert(data.conversation);
  }

  async delete(id) {
    const data = await this.post(id, "delete");
    if (data) {
      this.remove(id);
      this.onRemoved(id);
    }
  }

  startRename(id) {
    const item = this.nodes.get(id);
    const conversation = this.items.get(id);
    if (!item || !conversation) return;
    const input = document.createElement("input");
    input.className = "conversation-rename";
    input.value = conversation.title;
    input.maxLength = 200;
    input.setAttribute("aria-label", "New title");
    let done = false;
    const finish = async (save) => {
      if (done) return;
      done = true;
      const title = input.value.trim();
      if (save && title && title !== conversation.title) {
        const data = await this.post(id, "rename", { title });
        if (data) {
          this.upsert(data.conversation);
          return;
        }
      }
      this.nodes.delete(id);
      this.render();
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        finish(true);
      } else if (event.key === "Escape") {
        event.preventDefault();
        finish(false);
      }
    });
    input.addEventListener("blur", () => finish(true));
    item.replaceChildren(input);
    input.focus();
    input.select();
  }

  confirmDelete(id) {
    const conversation = this.items.get(id);
    const text = this.dialog.querySelector("#delete-dialog-text");
    text.textContent = `“${conversation?.title || "This conversation"}” and all its messages will be deleted. This cannot be undone.`;
    this.dialog.returnValue = "";
    this.dialog.addEventListener(
      "close",
      () => {
        if (this.dialog.returnValue === "delete") this.delete(id);
      },
      { once: true },
    );
    this.dialog.showModal();
  }

  // --- the menu -------------------------------------------------------------------------------

  bindMenu() {
    this.list.addEventListener("click", (event) => {
      const button = event.target.closest(".conversation-menu-button");
      if (!button) return;
      const id = Number(button.closest("li").dataset.conversationId);
      if (this.menuFor === id && !this.menu.hidden) this.closeMenu();
      else this.openMenu(id, button);
    });
    this.menu.addEventListener("click", (event) => {
      const entry = event.target.closest("[data-action]");
      if (!entry || this.menuFor === null) return;
      const id = this.menuFor;
      const conversation = this.items.get(id);
      this.closeMenu();
      if (entry.dataset.action === "share") return; // a plain link to the share page
      event.preventDefault();
      if (!conversation) return;
      if (entry.dataset.action === "rename") this.startRename(id);
      else if (entry.dataset.action === "pin") this.setPinned(id, !conversation.pinned);
      else if (entry.dataset.action === "archive") this.setArchived(id, true);
      else if (entry.dataset.action === "delete") this.confirmDelete(id);
    });
    document.addEventListener("click", (event) => {
      if (!this.menu.hidden && !event.target.closest(".conversation-menu, .conversation-menu-button")) {
        this.closeMenu();
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.menu.hidden) this.closeMenu(true);
    });
    this.nav.addEventListener("scroll", () => this.closeMenu(), { passive: true });
  }

  openMenu(id, button) {
    const conversation = this.items.get(id);
    this.menuFor = id;
    this.menu.querySelector('[data-action="pin"]').textContent = conversation.pinned ? "Unpin" : "Pin";
    this.menu.querySelector('[data-action="share"]').href = this.shareTemplate.replace(
      /\/0\/share\/$/,
      `/${id}/share/`,
    );
    const box = button.getBoundingClientRect();
    this.menu.hidden = false;
    const top = Math.min(box.bottom + 4, window.innerHeight - this.menu.offsetHeight - 8);
    this.menu.style.top = `${Math.max(8, top)}px`;
    this.menu.style.left = `${Math.max(8, box.right - this.menu.offsetWidth)}px`;
    button.setAttribute("aria-expanded", "true");
    this.menu.querySelector("[data-action]").focus();
  }

  closeMenu(returnFocus = false) {
    if (this.menu.hidden) return;
    this.menu.hidden = true;
    const item = this.nodes.get(this.menuFor);
    const button = item?.querySelector(".conversation-menu-button");
    if (button) {
      button.setAttribute("aria-expanded", "false");
      if (returnFocus) button.focus();
    }
    this.menuFor = null;
  }
}
