// Playlists: the caller's own, the ones they collaborate on and the ones they follow; and a
// form to make a new one.

import { api } from "../api.js";
import { el, failed } from "../ui.js";
import { playlistCards } from "../social.js";

export async function render(ctx) {
  let list;
  try { list = await api("api/v1/playlists", { signal: ctx.signal }); } catch (err) {
    if (err.name === "AbortError") throw err;
    return ctx.page("Playlists", failed(err));
  }
  const mine = list.items.filter((p) => p.access === "owner");
  const shared = list.items.filter((p) => p.access === "collaborator");
  const followed = list.items.filter((p) => p.access === "viewer");
  const section = (id, title, items, empty) => el("section", { "aria-labelledby": id },
    el("h2", { id }, title), items.length ? playlistCards(items) : el("p", { class: "muted" }, empty));

  const name = el("input", { name: "name", required: true, maxlength: 200, autocomplete: "off" });
  const description = el("textarea", { name: "description", rows: 2, maxlength: 2000 });
  const pub = el("input", { type: "checkbox", name: "public" });
  const collab = el("input", { type: "checkbox", name: "collaborative" });
  // Artists may make a playlist shown on one of their artist pages (always public).
  const profiles = ctx.me.role === "listener" ? [] : await api("api/v1/studio/profiles", { signal: ctx.signal }).catch(() => []);
  const artist = el("select", { name: "artist_id" }, el("option", { value: "" }, "No: a playlist of my own"),
    ...profiles.map((p) => el("option", { value: p.id }, p.name)));
  const error = el("p", { class: "error-text", role: "alert" });
  const form = el("form", { class: "card stack", "aria-labelledby": "new-pl-h" },
    el("h2", { id: "new-pl-h" }, "New playlist"),
    el("label", {}, "Name", name),
    el("label", {}, "Description (optional)", description),
    el("label", { class: "check" }, pub, "Public: anyone signed in can find and follow it"),
    el("label", { class: "check" }, collab, "Collaborative: people you invite can change its tracks"),
    profiles.length ? el("label", {}, "Show it on an artist page (only that artist's tracks)", artist) : null,
    error,
    el("div", {}, el("button", { type: "submit" }, "Create playlist")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      const body = { name: name.value.trim(), description: description.value.trim(), public: pub.checked, collaborative: collab.checked };
      if (artist.value) Object.assign(body, { artist_id: artist.value, public: true, collaborative: false });
      const p = await api("api/v1/playlists", { method: "POST", body });
      ctx.go(`/playlists/${p.id}`);
    } catch (err) { error.textContent = err.message; }
  });

  ctx.page("Playlists",
    section("mine-h", "Your playlists", mine, "You have no playlists yet. Make one below, or add tracks to a new one from any album."),
    shared.length ? section("shared-h", "Shared with you", shared, "") : null,
    section("followed-h", "Followed", followed, "Playlists you follow appear here."),
    form);
}
