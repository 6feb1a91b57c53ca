// Your library: liked songs (newest first, played from any of them), saved albums and the
// artists you follow.

import { api } from "../api.js";
import { el, pager, trackTable, albumGrid, artistList, link } from "../ui.js";
import { trackExtras } from "../social.js";

export async function render(ctx) {
  const extras = await trackExtras();
  let liked;
  const t = trackTable(ctx.player, () => liked.loaded(), { caption: "Liked songs", extra: extras });
  liked = pager({
    signal: ctx.signal, noun: "liked song", pageSize: 50, empty: "No liked songs yet. Press the heart beside a track to keep it here.",
    load: async (offset, limit, signal) => {
      const page = await api(`api/v1/me/likes/tracks?offset=${offset}&limit=${limit}`, { signal });
      // Tracks that have left the catalog cannot play; they are not listed.
      return { items: page.items.filter((x) => x.track).map((x) => x.track), total: page.total };
    },
    add: t.add,
  });
  const albums = albumGrid();
  const artists = artistList();
  const [saved, following] = await Promise.all([
    api("api/v1/me/saves/albums?limit=60", { signal: ctx.signal }),
    api(`api/v1/users/${ctx.me.id}/following?limit=100`, { signal: ctx.signal }),
    liked.ready,
  ]);
  albums.add(saved.items.filter((x) => x.album).map((x) => x.album));
  artists.add(following.artists);
  ctx.page("Liked songs",
    el("div", { class: "toolbar" },
      el("button", { type: "button", onclick: () => ctx.player.playList(liked.loaded()) }, "Play liked songs"),
      link("/playlists", "Your playlists")),
    t.table, ...liked.nodes,
    el("section", { "aria-labelledby": "saved-h" }, el("h2", { id: "saved-h" }, "Saved albums"),
      saved.items.length ? albums.grid : el("p", { class: "muted" }, "Albums you save appear here.")),
    el("section", { "aria-labelledby": "fa-h" }, el("h2", { id: "fa-h" }, "Artists you follow"),
      following.artists.length ? artists.list : el("p", { class: "muted" }, "Follow an artist from their page to see their new releases at home.")));
}
