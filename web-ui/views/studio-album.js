// An album in the studio: its fields, cover and track order; publish or unpublish tracks,
// delete them, upload more; publish the whole album.

import { api, blob } from "../api.js";
import { el, iconButton, duration, link, notify, report, plural } from "../ui.js";
import { uploader } from "../upload.js";

const KINDS = [["album", "Album"], ["ep", "EP"], ["single", "Single"], ["compilation", "Compilation"]];

export async function render(ctx) {
  const id = ctx.params.id;
  let a = await api(`api/v1/studio/albums/${id}`, { signal: ctx.signal });
  const refresh = async () => { a = await api(`api/v1/studio/albums/${id}`); drawAll(); };

  // -- fields ----------------------------------------------------------------------------------
  const f = {
    title: el("input", { name: "title", required: true, maxlength: 200 }),
    kind: el("select", { name: "kind" }, ...KINDS.map(([v, l]) => el("option", { value: v }, l))),
    release_date: el("input", { name: "release_date", placeholder: "YYYY-MM-DD", pattern: "\\d{4}(-\\d{2}(-\\d{2})?)?" }),
    genres: el("input", { name: "genres", placeholder: "Comma-separated" }),
    label: el("input", { name: "label" }),
    description: el("textarea", { name: "description", rows: 3 }),
  };
  const error = el("p", { class: "error-text", role: "alert" });
  const form = el("form", { class: "stack", "aria-label": "Album details" },
    el("label", {}, "Title", f.title), el("label", {}, "Kind", f.kind),
    el("label", {}, "Release date", f.release_date), el("label", {}, "Genres", f.genres),
    el("label", {}, "Label", f.label), el("label", {}, "Description", f.description),
    error, el("div", {}, el("button", { type: "submit" }, "Save details")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      a = await api(`api/v1/studio/albums/${id}`, { method: "PATCH", body: {
        title: f.title.value.trim(), kind: f.kind.value, release_date: f.release_date.value.trim(),
        genres: f.genres.value.split(",").map((g) => g.trim()).filter(Boolean),
        label: f.label.value.trim(), description: f.description.value.trim(),
      } });
      drawAll();
      notify("Album saved.", "ok");
    } catch (err) { error.textContent = err.message; }
  });

  // -- cover -----------------------------------------------------------------------------------
  const img = el("img", { class: "cover studio-cover", alt: "The album's cover", width: 200, height: 200 });
  const coverInput = el("input", { type: "file", accept: "image/png,image/jpeg,image/webp", id: "cover-file" });
  const coverState = el("p", { class: "muted", "aria-live": "polite" });
  const showCover = () => {
    if (!a.has_cover) { img.removeAttribute("src"); coverState.textContent = "No cover yet."; return; }
    coverState.textContent = "";
    blob(`api/v1/studio/albums/${id}/cover?v=${encodeURIComponent(a.updated_at)}`).then((b) => { img.src = URL.createObjectURL(b); }, () => {});
  };
  coverInput.addEventListener("change", async () => {
    const file = coverInput.files[0];
    if (!file) return;
    coverState.textContent = "Uploading the cover…";
    try {
      a = await api(`api/v1/studio/albums/${id}/cover`, { method: "PUT", raw: file });
      coverInput.value = "";
      drawAll();
      notify("Cover saved.", "ok");
    } catch (err) { coverState.textContent = ""; report(err); }
  });

  // -- tracks ----------------------------------------------------------------------------------
  const list = el("ol", { class: "queue studio-tracks", "aria-label": "Tracks in order" });
  const status = el("p", { class: "sr-only", "aria-live": "polite" });
  let focusAfter = null;
  let dragged = -1;
  const reorder = async (from, to) => {
    if (to < 0 || to >= a.tracks.length || from === to) return;
    const ids = a.tracks.map((t) => t.id);
    const [moved] = ids.splice(from, 1);
    ids.splice(to, 0, moved);
    try {
      a = await api(`api/v1/studio/albums/${id}/tracks`, { method: "PUT", body: { track_ids: ids } });
      status.textContent = `Moved to position ${to + 1}.`;
      drawAll();
    } catch (err) { focusAfter = null; report(err); }
  };
  const trackAction = async (t, action) => {
    try {
      if (action === "delete") {
        if (!confirm(`Delete “${t.title}”? Its file is removed from the server.`)) return;
        await api(`api/v1/studio/tracks/${t.id}`, { method: "DELETE" });
        notify(`“${t.title}” deleted.`, "ok");
        if (a.tracks.length === 1) return ctx.go("/studio");
      } else {
        await api(`api/v1/studio/tracks/${t.id}/${action}`, { method: "POST" });
      }
      await refresh();
    } catch (err) { report(err); }
  };
  const drawTracks = () => {
    list.replaceChildren(...a.tracks.map((t, i) => {
      const li = el("li", { draggable: "true", "data-track": t.id },
        el("span", { class: "grip", "aria-hidden": "true" }, "⋮⋮"),
        el("div", { class: "q-main" },
          el("span", { class: "track-title" }, `${i + 1}. ${t.title}`),
          el("span", { class: "muted sub" },
            el("span", { class: t.visible ? "badge live" : "badge" }, t.visible ? "In the catalog" : t.published ? "Published, album draft" : "Draft"),
            ` ${duration(t.duration_secs)} · ${t.format}`)),
        el("span", { class: "actions" },
          iconButton("up", `Move ${t.title} up`, () => { focusAfter = [i - 1, "up"]; reorder(i, i - 1); }, { disabled: i === 0 }),
          iconButton("down", `Move ${t.title} down`, () => { focusAfter = [i + 1, "down"]; reorder(i, i + 1); }, { disabled: i === a.tracks.length - 1 }),
          el("button", { type: "button", class: "secondary", onclick: () => trackAction(t, t.published ? "unpublish" : "publish"),
            "aria-label": `${t.published ? "Unpublish" : "Publish"} ${t.title}` }, t.published ? "Unpublish" : "Publish"),
          iconButton("remove", `Delete ${t.title}`, () => trackAction(t, "delete"), { class: "icon-button danger" })));
      li.addEventListener("dragstart", (e) => { dragged = i; e.dataTransfer.effectAllowed = "move"; e.dataTransfer.setData("text/plain", t.id); li.classList.add("dragging"); });
      li.addEventListener("dragend", () => li.classList.remove("dragging"));
      li.addEventListener("dragover", (e) => { e.preventDefault(); li.classList.add("over"); });
      li.addEventListener("dragleave", () => li.classList.remove("over"));
      li.addEventListener("drop", (e) => { e.preventDefault(); li.classList.remove("over"); if (dragged >= 0) reorder(dragged, i); dragged = -1; });
      return li;
    }));
    if (focusAfter) {
      const [i, kind] = focusAfter;
      focusAfter = null;
      const sel = kind === "up" ? "button[aria-label$=' up']" : "button[aria-label$=' down']";
      (list.children[i]?.querySelector(`${sel}:not([disabled])`) || list.children[i]?.querySelector("button"))?.focus();
    }
  };

  // -- publishing -------------------------------------------------------------------------------
  const state = el("p", { "aria-live": "polite" });
  const publishAll = el("button", { type: "button", onclick: async () => {
    try {
      for (const t of a.tracks.filter((x) => !x.published)) await api(`api/v1/studio/tracks/${t.id}/publish`, { method: "POST" });
      if (!a.published) await api(`api/v1/studio/albums/${id}`, { method: "PATCH", body: { published: true } });
      await refresh();
      notify(`${a.title} is published.`, "ok");
    } catch (err) { report(err); }
  } }, "Publish album");
  const unpublish = el("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      a = await api(`api/v1/studio/albums/${id}`, { method: "PATCH", body: { published: false } });
      drawAll();
      notify(`${a.title} is a draft again.`, "ok");
    } catch (err) { report(err); }
  } }, "Unpublish album");
  const delAlbum = el("button", { type: "button", class: "secondary danger", onclick: async () => {
    if (!confirm(`Delete “${a.title}” and its tracks?`)) return;
    try {
      await api(`api/v1/studio/albums/${id}?tracks=delete`, { method: "DELETE" });
      notify(`${a.title} deleted.`, "ok");
      ctx.go("/studio");
    } catch (err) { report(err); }
  } }, "Delete album");

  const drawAll = () => {
    f.title.value = a.title; f.kind.value = a.kind; f.release_date.value = a.release_date || "";
    f.genres.value = a.genres.join(", "); f.label.value = a.label; f.description.value = a.description;
    const live = a.published && a.tracks.some((t) => t.visible);
    const drafts = a.tracks.filter((t) => !t.published).length;
    state.replaceChildren(
      el("span", { class: a.published ? "badge live" : "badge" }, a.published ? "Published" : "Draft"), " ",
      `${plural(a.tracks.length, "track")}${drafts ? `, ${plural(drafts, "draft")}` : ""}. `,
      live ? link(`/albums/${a.id}`, "See it in the catalog") : "Not in the catalog yet.");
    publishAll.hidden = a.published && !drafts;
    unpublish.hidden = !a.published;
    document.querySelector("main h1").textContent = a.title;
    showCover();
    drawTracks();
  };

  const more = uploader({ label: "Upload into this album", target: async () => ({ album_id: id }), done: refresh });

  ctx.page(a.title,
    el("p", {}, link("/studio", "← Studio")),
    state, el("div", { class: "toolbar" }, publishAll, unpublish, delAlbum),
    el("div", { class: "two" },
      el("section", { class: "card", "aria-labelledby": "fields-h" }, el("h2", { id: "fields-h" }, "Details"), form),
      el("section", { class: "card", "aria-labelledby": "cover-h" }, el("h2", { id: "cover-h" }, "Cover"),
        el("div", { class: "stack" }, img, coverState, el("label", { for: "cover-file" }, "Choose a new cover (PNG, JPEG or WebP)", coverInput)))),
    el("section", { "aria-labelledby": "tracks-h" }, el("h2", { id: "tracks-h" }, "Tracks"),
      el("p", { class: "muted hint" }, "Drag a track, or use its arrow buttons, to change the order."), list, status),
    el("section", { class: "card", "aria-labelledby": "more-h" }, el("h2", { id: "more-h" }, "Add tracks"), more));
  drawAll();
}
