// Search results: artists, albums and tracks, best first.

import { api } from "../api.js";
import { el, trackTable, albumGrid, artistList } from "../ui.js";
import { trackExtras } from "../social.js";

export async function render(ctx) {
  const q = ctx.query.get("q") || "";
  const input = document.getElementById("search-input");
  if (input && document.activeElement !== input) input.value = q;
  if (!q) return ctx.page("Search", el("p", { class: "muted" }, "Type in the search field above."));
  const [r, extra] = await Promise.all([
    api(`api/v1/search?q=${encodeURIComponent(q)}&limit=24`, { signal: ctx.signal }),
    trackExtras().catch(() => null),
  ]);
  const artists = artistList(); artists.add(r.artists.items);
  const albums = albumGrid(); albums.add(r.albums.items);
  const tracks = trackTable(ctx.player, () => r.tracks.items, { extra }); tracks.add(r.tracks.items);
  const section = (id, title, total, node) => el("section", { "aria-labelledby": id },
    el("h2", { id }, title, el("span", { class: "muted count" }, ` ${total}`)), node);
  const none = !r.artists.total && !r.albums.total && !r.tracks.total;
  ctx.page(`Results for “${q}”`,
    none ? el("p", {}, "Nothing matches. Try fewer or shorter words.") : null,
    r.artists.total ? section("r-artists", "Artists", r.artists.total, artists.list) : null,
    r.albums.total ? section("r-albums", "Albums", r.albums.total, albums.grid) : null,
    r.tracks.total ? section("r-tracks", "Tracks", r.tracks.total, tracks.table) : null);
}
