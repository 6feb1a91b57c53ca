// Small DOM helpers and the pieces every page shares: icons, notices, pictures, lists that
// page as they scroll, track tables, album cards.

import { blob } from "./api.js";

/** el("a", {href, onclick}, children...): attributes, listeners (on*) and children. */
export function el(tag, attrs = {}, ...children) {
  const node = tag === "svg" || tag === "path"
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "class") node.setAttribute("class", v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

const PATHS = {
  play: "M8 5v14l11-7z",
  pause: "M6 5h4v14H6zm8 0h4v14h-4z",
  next: "M6 6l8.5 6L6 18zm10 0h2v12h-2z",
  prev: "M18 6v12l-8.5-6zM6 6h2v12H6z",
  shuffle: "M10.6 9.2 5.4 4 4 5.4l5.2 5.2zM14.5 4l2 2L4 18.6 5.4 20 18 7.5l2 2V4zm.3 9.4-1.4 1.4 3.1 3.1-2 2H20v-5.5l-2 2z",
  repeat: "M7 7h10v3l4-4-4-4v3H5v6h2zm10 10H7v-3l-4 4 4 4v-3h12v-6h-2z",
  repeatOne: "M7 7h10v3l4-4-4-4v3H5v6h2zm10 10H7v-3l-4 4 4 4v-3h12v-6h-2zm-4-2V9h-1l-2 1v1h1.5v4z",
  volume: "M3 9v6h4l5 5V4L7 9zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z",
  mute: "M16.5 12A4.5 4.5 0 0 0 14 8v2.2l2.4 2.4q.1-.3.1-.6M19 12q0 1.4-.6 2.7l1.5 1.5A8.8 8.8 0 0 0 14 3.2v2.1a7 7 0 0 1 5 6.7M4.3 3 3 4.3 7.7 9H3v6h4l5 5v-6.7l4.3 4.3q-1 .8-2.3 1v2.1a9 9 0 0 0 3.7-1.8l2 2 1.3-1.3zM12 4 9.9 6.1 12 8.2z",
  queue: "M3 6h12v2H3zm0 4h12v2H3zm0 4h8v2H3zm14 0v-4h2v4h4v2h-4v4h-2v-4h-4v-2z",
  playNext: "M3 10h11v2H3zm0-4h11v2H3zm0 8h7v2H3zm13-1v8l6-4z",
  up: "M7.4 15.4 12 10.8l4.6 4.6L18 14l-6-6-6 6z",
  down: "M7.4 8.6 12 13.2l4.6-4.6L18 10l-6 6-6-6z",
  remove: "M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z",
};

/** An inline SVG icon, hidden from screen readers (the button around it has the label). */
export function icon(name) {
  return el("svg", { viewBox: "0 0 24 24", "aria-hidden": "true", class: "icon" }, el("path", { d: PATHS[name] }));
}

/** A button that shows only an icon, with a label for screen readers and a tooltip. */
export function iconButton(name, label, onclick, attrs = {}) {
  return el("button", { type: "button", class: "icon-button", "aria-label": label, title: label, onclick, ...attrs }, icon(name));
}

/** 3:07, or 1:02:03. */
export function duration(secs) {
  if (!Number.isFinite(secs) || secs < 0) secs = 0;
  const s = Math.floor(secs % 60), m = Math.floor(secs / 60) % 60, h = Math.floor(secs / 3600);
  const ss = String(s).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

export function plural(n, word) { return `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`; }

const noticeBox = () => document.getElementById("notice");
let noticeTimer = 0;
/** Shows a message; errors stay until dismissed or replaced, confirmations fade. */
export function notify(message, kind = "error") {
  const box = noticeBox();
  clearTimeout(noticeTimer);
  box.firstElementChild.textContent = message;
  box.className = kind;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.hidden = !message;
  if (kind !== "error" && message) noticeTimer = setTimeout(() => { box.hidden = true; }, 4000);
}

/** Reports a failed request, unless it was abandoned on purpose (page left). */
export function report(err) {
  if (err?.name === "AbortError") return;
  notify(err?.message || String(err));
}

/** An inline error in place of content that failed to load. */
export function failed(err) {
  return el("p", { class: "error-text", role: "alert" }, err?.message || String(err));
}

// Pictures need the session's Authorization header, which <img src> cannot send, so they
// are fetched and shown from a blob URL. The browser's HTTP cache keeps the bytes; this map
// keeps the blob URLs, so a picture seen once shows at once on every later page.
const pictures = new Map();
let picturesLoading = 0;
const pictureQueue = [];
function pumpPictures() {
  while (picturesLoading < 6 && pictureQueue.length) {
    const job = pictureQueue.shift();
    picturesLoading++;
    job().finally(() => { picturesLoading--; pumpPictures(); });
  }
}
function pictureUrl(path) {
  if (!pictures.has(path)) {
    pictures.set(path, new Promise((resolve) => {
      pictureQueue.push(() => blob(path).then((b) => resolve(URL.createObjectURL(b)), () => { pictures.delete(path); resolve(null); }));
      pumpPictures();
    }));
  }
  return pictures.get(path);
}
const seen = new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (!e.isIntersecting) continue;
    seen.unobserve(e.target);
    pictureUrl(e.target.dataset.src).then((url) => { if (url) e.target.src = url; });
  }
}, { rootMargin: "300px" });

/** The cover of an album or track (id), loaded when it scrolls into view. */
export function cover(id, size = 200, alt = "") {
  const img = el("img", { class: "cover", alt, width: size, height: size, decoding: "async" });
  img.dataset.src = `api/v1/art/${id}?size=${size}`;
  seen.observe(img);
  return img;
}

/** The URL of a picture for places that need one (the Media Session), or null. */
export const coverUrl = (id, size) => pictureUrl(`api/v1/art/${id}?size=${size}`);

/**
 * A list that fetches the next page as its end scrolls into view. `load(offset, limit, signal)`
 * returns {items, total}; `add(items, all)` appends their nodes to `body`. Resolves once the
 * first page is shown; `loaded()` is every item so far (to play a list from one track on).
 */
export function pager({ load, add, signal, pageSize = 100, noun = "item", empty = "Nothing here yet." }) {
  const all = [];
  let total = Infinity, busy = false;
  const status = el("p", { class: "muted pager-status", "aria-live": "polite" });
  const sentinel = el("div", { class: "sentinel", "aria-hidden": "true" });
  const more = async () => {
    if (busy || all.length >= total || signal.aborted) return;
    busy = true;
    status.textContent = "Loading…";
    try {
      const page = await load(all.length, pageSize, signal);
      total = page.total;
      all.push(...page.items);
      add(page.items, all);
      status.textContent = total === 0 ? empty : all.length < total ? "" : `${plural(total, noun)}.`;
    } catch (err) {
      if (err.name !== "AbortError") status.replaceChildren(failed(err), el("button", { type: "button", class: "secondary", onclick: more }, "Try again"));
      return;
    } finally { busy = false; }
    // The page may still not fill the screen: keep going while the end is in view.
    requestAnimationFrame(() => {
      if (signal.aborted) return;
      const r = sentinel.getBoundingClientRect();
      if (r.top < innerHeight + 600) more();
    });
  };
  const watch = new IntersectionObserver((e) => { if (e.some((x) => x.isIntersecting)) more(); }, { rootMargin: "600px" });
  signal.addEventListener("abort", () => watch.disconnect());
  const ready = more().then(() => watch.observe(sentinel));
  return { nodes: [status, sentinel], ready, loaded: () => all };
}

/** A link to an app path ("/albums/x"), written relative to the base. */
export function link(path, ...children) {
  return el("a", { href: path.replace(/^\//, "") || "./" }, ...children);
}

export function artistLinks(t) {
  const names = t.artists?.length ? t.artists : ["Unknown artist"];
  return names.flatMap((name, i) => {
    const id = t.artist_ids?.[i];
    const node = id ? link(`/artists/${id}`, name) : name;
    return i ? [", ", node] : [node];
  });
}

/** The track playing now, marked in every track table (set by the app from the player). */
export const nowPlaying = {
  id: null,
  mark(root = document) {
    for (const row of root.querySelectorAll("tr[data-track]")) row.classList.toggle("playing", row.dataset.track === this.id);
  },
};

/**
 * A table of tracks. Activating a title plays the list from that track; each row also offers
 * play next and add to queue. `tracks()` is the list to play (it may grow as pages load).
 */
export function trackTable(player, tracks, { album = true, numbers = false, caption, extra, note } = {}) {
  const body = el("tbody");
  const table = el("table", { class: extra ? "tracks wide" : "tracks" },
    caption ? el("caption", { class: "sr-only" }, caption) : null,
    el("thead", {}, el("tr", {},
      el("th", { scope: "col", class: "num" }, "#"),
      el("th", { scope: "col" }, "Title"),
      album ? el("th", { scope: "col", class: "col-album" }, "Album") : null,
      el("th", { scope: "col", class: "num" }, "Time"),
      el("th", { scope: "col", class: "actions" }, el("span", { class: "sr-only" }, "Actions")))),
    body);
  const add = (items) => {
    const start = body.children.length;
    body.append(...items.map((t, i) => {
      const n = start + i;
      const play = () => player.playList(tracks(), n);
      return el("tr", { "data-track": t.id, class: t.id === nowPlaying.id ? "playing" : false },
        el("td", { class: "num muted" }, numbers && t.track_number ? String(t.track_number) : String(n + 1)),
        el("td", { class: "title-cell" },
          el("button", { type: "button", class: "track-title linklike", onclick: play, "aria-label": `Play ${t.title}` }, t.title),
          el("span", { class: "muted sub" }, artistLinks(t)),
          note ? el("span", { class: "muted sub" }, note(t, n)) : null),
        album ? el("td", { class: "col-album" }, link(`/albums/${t.album_id}`, t.album || "Unknown album")) : null,
        el("td", { class: "num muted" }, duration(t.duration_secs)),
        el("td", { class: "actions" },
          extra ? extra(t) : null,
          iconButton("playNext", `Play ${t.title} next`, () => { player.playNext([t]); notify(`“${t.title}” plays next.`, "ok"); }, { class: "icon-button act-next" }),
          iconButton("queue", `Add ${t.title} to the queue`, () => { player.enqueue([t]); notify(`“${t.title}” added to the queue.`, "ok"); })));
    }));
  };
  return { table, add, body };
}

/** A grid of album cards. */
export function albumGrid() {
  const grid = el("ul", { class: "grid", role: "list" });
  const add = (items) => grid.append(...items.map((a) => el("li", { class: "card-item" },
    el("a", { href: `albums/${a.id}`, class: "card-link" }, cover(a.id, 200), el("span", { class: "card-title" }, a.title)),
    el("span", { class: "muted sub" }, a.artist_id ? link(`/artists/${a.artist_id}`, a.artist) : a.artist, a.year ? ` · ${a.year}` : ""))));
  return { grid, add };
}

/** A list of artists. */
export function artistList() {
  const list = el("ul", { class: "rows", role: "list" });
  const add = (items) => list.append(...items.map((a) => el("li", {},
    link(`/artists/${a.id}`, a.name),
    el("span", { class: "muted" }, ` ${plural(a.album_count, "album")} · ${plural(a.track_count, "track")}`))));
  return { list, add };
}
