// The search field in the header: suggestions as you type (an ARIA combobox), Enter for the
// full results page.

import { api } from "./api.js";
import { el } from "./ui.js";

const KIND = { artist: "Artist", album: "Album", track: "Track" };

export function searchBox(form, go) {
  const input = form.querySelector("input");
  const list = form.querySelector("[role=listbox]");
  let items = [], active = -1, timer = 0, pending = null;

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };
  const highlight = (i) => {
    active = i;
    [...list.children].forEach((li, j) => li.setAttribute("aria-selected", String(j === i)));
    if (i >= 0) input.setAttribute("aria-activedescendant", list.children[i].id);
    else input.removeAttribute("aria-activedescendant");
  };
  const choose = (s) => {
    close();
    if (s.kind === "artist") go(`/artists/${s.id}`);
    else if (s.kind === "album") go(`/albums/${s.id}`);
    else { input.value = s.name; go(`/search?q=${encodeURIComponent(s.name)}`); }
  };
  const suggest = async () => {
    const q = input.value.trim();
    pending?.abort();
    if (!q) return close();
    pending = new AbortController();
    try {
      items = await api(`api/v1/search/suggest?q=${encodeURIComponent(q)}&limit=8`, { signal: pending.signal });
    } catch { return; }
    list.replaceChildren(...items.map((s, i) => el("li", {
      id: `suggestion-${i}`, role: "option", "aria-selected": "false",
      onmousedown: (e) => { e.preventDefault(); choose(s); },
    }, el("span", {}, s.name), el("span", { class: "muted kind" }, KIND[s.kind] || s.kind))));
    list.hidden = !items.length;
    input.setAttribute("aria-expanded", String(items.length > 0));
    highlight(-1);
  };

  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(suggest, 120); });
  input.addEventListener("blur", () => setTimeout(close, 100));
  input.addEventListener("keydown", (e) => {
    if (list.hidden) return;
    if (e.key === "ArrowDown") { e.preventDefault(); highlight((active + 1) % items.length); }
    else if (e.key === "ArrowUp") { e.preventDefault(); highlight(active <= 0 ? items.length - 1 : active - 1); }
    else if (e.key === "Escape") { e.preventDefault(); close(); }
    else if (e.key === "Enter" && active >= 0) { e.preventDefault(); choose(items[active]); }
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    clearTimeout(timer);
    pending?.abort();
    close();
    const q = input.value.trim();
    if (q) go(`/search?q=${encodeURIComponent(q)}`);
  });
}
