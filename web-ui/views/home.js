// Home: what was playing, what arrived lately, and the way into the library.

import { api } from "../api.js";
import { el, albumGrid, link, plural, failed } from "../ui.js";

export async function render(ctx) {
  const recent = albumGrid();
  const [albums, tracks, artists] = await Promise.all([
    api("api/v1/albums?sort=date_added&order=desc&limit=12", { signal: ctx.signal }),
    api("api/v1/tracks?limit=1", { signal: ctx.signal }).catch((e) => e),
    api("api/v1/artists?limit=1", { signal: ctx.signal }).catch((e) => e),
  ]);
  recent.add(albums.items);
  const cur = ctx.player.current;
  const toggle = el("button", { type: "button", onclick: () => ctx.player.toggle() });
  const label = () => { toggle.textContent = ctx.player.playing ? "Pause" : "Play"; };
  label();
  ctx.player.addEventListener("state", label);
  ctx.signal.addEventListener("abort", () => ctx.player.removeEventListener("state", label));
  const counts = tracks instanceof Error ? failed(tracks) : el("p", { class: "muted" },
    `${plural(artists.total ?? 0, "artist")}, ${plural(albums.total, "album")}, ${plural(tracks.total, "track")} in the library.`);
  ctx.page(`Hello, ${ctx.me.display_name}`,
    counts,
    cur ? el("section", { class: "card", "aria-labelledby": "cont-h" }, el("h2", { id: "cont-h" }, "Continue listening"),
      el("p", {}, el("strong", {}, cur.title), " — ", cur.artists?.join(", ") || ""),
      el("div", { class: "toolbar" }, toggle,
        link("/queue", `Queue: ${plural(ctx.player.queue.length, "track")}`))) : null,
    el("section", { "aria-labelledby": "new-h" }, el("h2", { id: "new-h" }, "Recently added"),
      albums.items.length ? recent.grid : el("p", { class: "muted" }, "No music yet. An admin can add media folders and scan them."),
      albums.total > albums.items.length ? el("p", {}, link("/albums?sort=date_added&order=desc", "All recently added albums")) : null));
}
