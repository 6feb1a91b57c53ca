// An artist: follow them; top tracks, albums and the artist's own playlists.

import { api } from "../api.js";
import { el, trackTable, albumGrid, plural, iconButton, notify } from "../ui.js";
import { trackExtras, followedArtists, toggle, playlistCards } from "../social.js";

export async function render(ctx) {
  const [a, extras, followed] = await Promise.all([
    api(`api/v1/artists/${ctx.params.id}`, { signal: ctx.signal }),
    trackExtras().catch(() => null),
    followedArtists(ctx.me).catch(() => null),
  ]);
  const top = trackTable(ctx.player, () => a.top_tracks, { caption: "Top tracks", extra: extras });
  top.add(a.top_tracks);
  const albums = albumGrid();
  albums.add(a.albums);
  const counts = el("p", { class: "muted" });
  const drawCounts = () => {
    counts.textContent = `${plural(a.album_count, "album")} · ${plural(a.track_count, "track")} · ${plural(a.follower_count ?? 0, "follower")}`;
  };
  drawCounts();
  const follow = followed ? toggle({
    pressed: followed.has(a.id),
    text: (on) => on ? "Following" : "Follow",
    label: (on) => on ? `Unfollow ${a.name}` : `Follow ${a.name}`,
    change: async (on) => {
      const r = await api(`api/v1/artists/${a.id}/follow`, { method: on ? "PUT" : "DELETE" });
      if (on) followed.add(a.id); else followed.delete(a.id);
      a.follower_count = r.follower_count;
      drawCounts();
      return on;
    },
  }) : null;
  const playlists = a.playlists || [];
  ctx.page(a.name,
    counts,
    el("div", { class: "toolbar" },
      a.top_tracks.length ? el("button", { type: "button", onclick: () => ctx.player.playList(a.top_tracks) }, "Play top tracks") : null,
      a.top_tracks.length ? iconButton("queue", "Add top tracks to the queue", () => { ctx.player.enqueue(a.top_tracks); notify("Added to the queue.", "ok"); }) : null,
      follow),
    el("section", { "aria-labelledby": "top-h" }, el("h2", { id: "top-h" }, "Top tracks"),
      a.top_tracks.length ? top.table : el("p", { class: "muted" }, "No tracks.")),
    el("section", { "aria-labelledby": "albums-h" }, el("h2", { id: "albums-h" }, "Albums"),
      a.albums.length ? albums.grid : el("p", { class: "muted" }, "No albums as album artist.")),
    playlists.length ? el("section", { "aria-labelledby": "apl-h" }, el("h2", { id: "apl-h" }, "Playlists by the artist"),
      playlistCards(playlists)) : null);
}
