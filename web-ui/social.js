// What a listener keeps: liked tracks, saved albums, followed artists, playlists. Loaded by
// the pages that show these (never on first load). The caller's likes, saves and follows are
// read once per page load into sets, so every like button knows its state without a request
// per track; each change updates the set and the server together.

import { api, blob } from "./api.js";
import { el, notify, report, plural } from "./ui.js";

/** Every item of a paged list ({items, total}; `limit` at most 500). */
async function all(path) {
  const out = [];
  for (let offset = 0; ; offset += 500) {
    const page = await api(`${path}?offset=${offset}&limit=500`);
    out.push(...page.items);
    if (out.length >= page.total || !page.items.length) return out;
  }
}

const state = { liked: null, saved: null, artists: null };
// Another account may sign in without a reload: what was loaded belongs to the last one.
addEventListener("mw:signedout", () => { state.liked = state.saved = state.artists = null; });

/** Liked track ids (a Set), loaded once. */
export async function likedSet() {
  state.liked ??= all("api/v1/me/likes/tracks").then((items) => new Set(items.map((x) => x.track_id)))
    .catch((e) => { state.liked = null; throw e; });
  return state.liked;
}

/** Saved album ids (a Set), loaded once. */
export async function savedSet() {
  state.saved ??= all("api/v1/me/saves/albums").then((items) => new Set(items.map((x) => x.album_id)))
    .catch((e) => { state.saved = null; throw e; });
  return state.saved;
}

/** Followed artist ids (a Set), loaded once. */
export async function followedArtists(me) {
  state.artists ??= api(`api/v1/users/${me.id}/following?limit=500`).then((f) => new Set(f.artists.map((a) => a.id)))
    .catch((e) => { state.artists = null; throw e; });
  return state.artists;
}

/** A toggle button (aria-pressed) that calls `change(on)` and keeps its label in step. */
export function toggle({ pressed, label, text, change, cls = "secondary" }) {
  const b = el("button", { type: "button", class: `${cls} toggle` });
  const draw = (on) => {
    b.setAttribute("aria-pressed", String(on));
    b.textContent = text(on);
    if (label) b.setAttribute("aria-label", label(on));
  };
  draw(pressed);
  b.addEventListener("click", async () => {
    const on = b.getAttribute("aria-pressed") !== "true";
    b.disabled = true;
    try { draw(await change(on) ?? on); } catch (err) { report(err); } finally { b.disabled = false; }
  });
  return b;
}

const HEART = "M12 21.35 10.55 20C5.4 15.36 2 12.28 2 8.5 2 5.42 4.42 3 7.5 3c1.74 0 3.41.81 4.5 2.09A6 6 0 0 1 16.5 3C19.58 3 22 5.42 22 8.5c0 3.78-3.4 6.86-8.55 11.54z";
const PLUS = "M4 6H2v14a2 2 0 0 0 2 2h14v-2H4zm16-4H8a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2m-1 9h-4v4h-2v-4H9V9h4V5h2v4h4z";
function svgIcon(d) {
  return el("svg", { viewBox: "0 0 24 24", "aria-hidden": "true", class: "icon" }, el("path", { d }));
}

/** A heart that likes or unlikes track `t`. */
export function likeButton(t, liked) {
  const b = el("button", { type: "button", class: "icon-button like", "aria-label": `Like ${t.title}`, title: "Like" }, svgIcon(HEART));
  const draw = () => b.setAttribute("aria-pressed", String(liked.has(t.id)));
  draw();
  b.addEventListener("click", async () => {
    const on = !liked.has(t.id);
    try {
      await api(`api/v1/tracks/${t.id}/like`, { method: on ? "PUT" : "DELETE" });
      if (on) liked.add(t.id); else liked.delete(t.id);
      draw();
      notify(on ? `“${t.title}” added to Liked songs.` : `“${t.title}” removed from Liked songs.`, "ok");
    } catch (err) { report(err); }
  });
  return b;
}

/** The extra buttons of a track row: like, add to a playlist. */
export async function trackExtras() {
  const liked = await likedSet();
  return (t) => [
    likeButton(t, liked),
    el("button", { type: "button", class: "icon-button add-pl", "aria-label": `Add ${t.title} to a playlist`, title: "Add to playlist",
      onclick: () => addToPlaylist([t]) }, svgIcon(PLUS)),
  ];
}

/** Playlists the caller may add tracks to (own and collaborating, not artist pages). */
export async function editablePlaylists() {
  const list = await api("api/v1/playlists");
  return list.items.filter((p) => p.access !== "viewer");
}

/**
 * Asks which playlist to add `tracks` to (or makes a new one) in a modal dialog, then adds
 * them. Resolves to the playlist id, or null if cancelled.
 */
export async function addToPlaylist(tracks) {
  let lists;
  try { lists = await editablePlaylists(); } catch (err) { report(err); return null; }
  const what = tracks.length === 1 ? `“${tracks[0].title}”` : plural(tracks.length, "track");
  const select = el("select", { name: "playlist", id: "atp-select", "aria-label": "Playlist" },
    ...lists.map((p) => el("option", { value: p.id }, p.name)),
    el("option", { value: "" }, "New playlist…"));
  const name = el("input", { name: "name", autocomplete: "off", maxlength: 200 });
  const nameLabel = el("label", {}, "Name of the new playlist", name);
  const error = el("p", { class: "error-text", role: "alert" });
  const sync = () => { nameLabel.hidden = select.value !== ""; name.required = select.value === ""; };
  select.addEventListener("change", sync);
  sync();
  const form = el("form", { method: "dialog", class: "stack" },
    el("label", {}, "Playlist", select), nameLabel, error,
    el("div", { class: "toolbar" },
      el("button", { type: "submit", value: "add" }, "Add"),
      el("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Cancel")));
  const dialog = el("dialog", { "aria-labelledby": "atp-title", class: "add-to-playlist" },
    el("h2", { id: "atp-title" }, `Add ${what} to a playlist`), form);
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => { dialog.remove(); resolve(null); });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.textContent = "";
      try {
        let id = select.value, title = select.selectedOptions[0]?.textContent;
        if (!id) {
          const p = await api("api/v1/playlists", { method: "POST", body: { name: name.value.trim() } });
          id = p.id; title = p.name;
        }
        await api(`api/v1/playlists/${id}/entries`, { method: "POST", body: { track_ids: tracks.map((t) => t.id) } });
        notify(`${what} added to “${title}”.`, "ok");
        resolve(id);
        dialog.close();
      } catch (err) { error.textContent = err.message; }
    });
    dialog.showModal();
    select.focus();
  });
}

/** Five stars as radio buttons (arrow keys move, Space or a click rates). */
export function stars({ label, value, rate }) {
  const group = el("div", { role: "radiogroup", "aria-label": label, class: "stars" });
  const name = `stars-${Math.random().toString(36).slice(2)}`;
  const inputs = [1, 2, 3, 4, 5].map((n) => el("input", { type: "radio", name, value: n, "aria-label": plural(n, "star"), checked: n === value }));
  const draw = (v) => inputs.forEach((i, k) => i.parentElement?.classList.toggle("lit", k < v));
  group.append(...inputs.map((i) => el("label", { class: "star" }, i, el("span", { "aria-hidden": "true" }, "★"))));
  draw(value || 0);
  group.addEventListener("change", async (e) => {
    const v = Number(e.target.value);
    draw(v);
    try { await rate(v); } catch (err) { report(err); }
  });
  return group;
}

/** A list of playlists as cards with their cover and counts. */
export function playlistCards(items) {
  return el("ul", { class: "grid", role: "list" }, ...items.map((p) => {
    const img = el("img", { class: "cover", alt: "", width: 200, height: 200, decoding: "async" });
    // The cover is fetched with the session, like album covers.
    blob(p.cover_url).then((b) => { img.src = URL.createObjectURL(b); }, () => {});
    return el("li", { class: "card-item" },
      el("a", { href: `playlists/${p.id}`, class: "card-link" }, img, el("span", { class: "card-title" }, p.name)),
      el("span", { class: "muted sub" }, `${plural(p.entry_count, "track")}${p.public ? "" : " · private"}${p.collaborative ? " · collaborative" : ""}`));
  }));
}

/** A heart for the track playing now, in the player bar. */
export function playerLike(player, root) {
  const slot = el("span", { class: "now-like" });
  root.querySelector(".now")?.append(slot);
  let shown;
  const draw = async () => {
    const t = player.current;
    if (t === shown) return;
    shown = t;
    // Read each time: the set is another one after someone else signs in.
    const liked = t ? await likedSet().catch(() => null) : null;
    if (player.current === t) slot.replaceChildren(...(liked ? [likeButton(t, liked)] : []));
  };
  player.addEventListener("track", draw);
  addEventListener("mw:signedout", () => { shown = undefined; slot.replaceChildren(); });
  draw();
}

