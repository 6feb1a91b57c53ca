// The artist studio: upload audio (resumable, with progress per file) into a new or an
// existing album, and the albums, drafts included, each opening in the album editor.

import { api } from "../api.js";
import { el, link, plural, failed } from "../ui.js";
import { uploader } from "../upload.js";

export async function render(ctx) {
  const s = ctx.signal;
  // Admins may look after every artist's albums (moderation).
  const all = ctx.me.role === "admin" && ctx.query.get("all") === "1";
  const [profiles, albums, tracks] = await Promise.all([
    api("api/v1/studio/profiles", { signal: s }).catch((e) => e),
    api(`api/v1/studio/albums${all ? "?all=true" : ""}`, { signal: s }),
    api("api/v1/studio/tracks", { signal: s }),
  ]);
  const drafts = tracks.filter((t) => !t.published).length;
  const perAlbum = new Map();
  for (const t of tracks) perAlbum.set(t.album_id, (perAlbum.get(t.album_id) || 0) + 1);

  // -- where uploads go ------------------------------------------------------------------------
  const profileList = profiles instanceof Error ? [] : profiles;
  const profile = el("select", { id: "up-profile" }, ...profileList.map((p) => el("option", { value: p.id }, p.name)));
  const album = el("select", { id: "up-album" }, el("option", { value: "" }, "A new album"),
    ...albums.map((a) => el("option", { value: a.id }, a.title)));
  const title = el("input", { id: "up-title", autocomplete: "off", maxlength: 200, placeholder: "Defaults to the file's album tag" });
  const kind = el("select", { id: "up-kind" }, ...["album", "ep", "single"].map((k) => el("option", { value: k }, k === "ep" ? "EP" : k[0].toUpperCase() + k.slice(1))));
  const publish = el("input", { type: "checkbox", id: "up-publish" });
  const newFields = el("div", { class: "stack" },
    el("label", { for: "up-title" }, "Album title", title),
    el("label", { for: "up-kind" }, "Kind", kind));
  album.addEventListener("change", () => { newFields.hidden = album.value !== ""; });
  // Files of one batch go to one album: the first one makes it, the rest follow it.
  let madeAlbum = null;
  const target = async () => {
    const meta = { publish: publish.checked ? "true" : "false" };
    const into = album.value || madeAlbum;
    if (into) meta.album_id = into;
    else {
      if (title.value.trim()) meta.album_title = title.value.trim();
      meta.album_kind = kind.value;
      if (profile.value) meta.profile_id = profile.value;
    }
    return meta;
  };
  const up = uploader({
    label: "Upload",
    target,
    onstart: () => { madeAlbum = null; },
    done: (r) => {
      if (!album.value && r.albumId) madeAlbum = r.albumId;
      latest.replaceChildren(link(`/studio/albums/${r.albumId}`, "Open the album to edit and publish it"));
    },
  });
  const latest = el("p", { "aria-live": "polite" });

  const rows = albums.map((a) => el("tr", {},
    el("td", {}, link(`/studio/albums/${a.id}`, a.title)),
    el("td", { class: "col-state" }, a.kind),
    el("td", {}, el("span", { class: a.published ? "badge live" : "badge" }, a.published ? "Published" : "Draft")),
    el("td", { class: "num" }, String(perAlbum.get(a.id) || 0))));

  const titles = new Map(albums.map((a) => [a.id, a.title]));
  const draftList = tracks.filter((t) => !t.published || !t.visible);
  const draftsSection = el("section", { "aria-labelledby": "drafts-h" }, el("h2", { id: "drafts-h" }, "Drafts"),
    draftList.length ? el("ul", { class: "rows", role: "list" }, ...draftList.map((t) => el("li", { class: "row-actions" },
      el("span", {}, el("strong", {}, t.title), el("span", { class: "muted" }, " on "),
        link(`/studio/albums/${t.album_id}`, titles.get(t.album_id) || "its album")),
      el("span", { class: "badge" }, t.published ? "Album not published" : "Draft"))))
      : el("p", { class: "muted" }, "No drafts: everything you uploaded is in the catalog."));

  ctx.page("Studio",
    el("p", { class: "muted" }, `${plural(albums.length, "album")}, ${plural(tracks.length, "track")}, ${plural(drafts, "draft track")}. `,
      link("/stats", "Statistics")),
    el("section", { class: "card", "aria-labelledby": "up-h" }, el("h2", { id: "up-h" }, "Upload"),
      el("div", { class: "stack" },
        profileList.length > 1 ? el("label", { for: "up-profile" }, "Artist", profile) : null,
        el("label", { for: "up-album" }, "Into", album), newFields,
        el("label", { class: "check" }, publish, "Publish at once (otherwise the tracks wait as drafts)")),
      up, latest),
    el("section", { "aria-labelledby": "albums-h" }, el("h2", { id: "albums-h" }, all ? "Every artist's albums" : "Your albums"),
      ctx.me.role === "admin" ? el("p", {}, all ? link("/studio", "Only yours") : link("/studio?all=1", "Every artist's albums")) : null,
      albums.length ? el("div", { class: "scroll-x" }, el("table", {},
        el("caption", { class: "sr-only" }, "Your albums"),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Title"), el("th", { scope: "col", class: "col-state" }, "Kind"),
          el("th", { scope: "col" }, "State"), el("th", { scope: "col", class: "num" }, "Tracks"))),
        el("tbody", {}, rows))) : el("p", { class: "muted" }, "Nothing uploaded yet.")),
    tracks.length ? draftsSection : null,
    profiles instanceof Error ? failed(profiles) : null);
}
