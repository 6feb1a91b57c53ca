// An artist: top tracks and albums.

import { api } from "../api.js";
import { el, trackTable, albumGrid, plural, iconButton, notify } from "../ui.js";

export async function render(ctx) {
  const a = await api(`api/v1/artists/${ctx.params.id}`, { signal: ctx.signal });
  const top = trackTable(ctx.player, () => a.top_tracks, { caption: "Top tracks" });
  top.add(a.top_tracks);
  const albums = albumGrid();
  albums.add(a.albums);
  ctx.page(a.name,
    el("p", { class: "muted" }, `${plural(a.album_count, "album")} · ${plural(a.track_count, "track")}`),
    a.top_tracks.length ? el("div", { class: "toolbar" },
      el("button", { type: "button", onclick: () => ctx.player.playList(a.top_tracks) }, "Play top tracks"),
      iconButton("queue", "Add top tracks to the queue", () => { ctx.player.enqueue(a.top_tracks); notify("Added to the queue.", "ok"); })) : null,
    el("section", { "aria-labelledby": "top-h" }, el("h2", { id: "top-h" }, "Top tracks"),
      a.top_tracks.length ? top.table : el("p", { class: "muted" }, "No tracks.")),
    el("section", { "aria-labelledby": "albums-h" }, el("h2", { id: "albums-h" }, "Albums"),
      a.albums.length ? albums.grid : el("p", { class: "muted" }, "No albums as album artist.")));
}
