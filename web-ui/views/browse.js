// Browsing the catalog: artists, albums, genres and tracks, paged as they scroll. Sort and
// filters live in the URL, so a reload or a shared link shows the same list.

import { api } from "../api.js";
import { el, pager, trackTable, albumGrid, artistList, plural, failed, link } from "../ui.js";
import { trackExtras } from "../social.js";

export async function render(ctx) {
  const kind = ctx.path.slice(1);
  if (kind === "genres") return genres(ctx);
  const q = ctx.query;
  const params = new URLSearchParams();
  for (const k of ["sort", "order", "genre", "year_from", "year_to", "artist", "format"]) {
    if (q.get(k)) params.set(k, q.get(k));
  }
  const load = (offset, limit, signal) => {
    params.set("offset", offset);
    params.set("limit", limit);
    return api(`api/v1/${kind}?${params}`, { signal });
  };
  const title = { artists: "Artists", albums: "Albums", tracks: "Tracks" }[kind];
  const heading = q.get("genre") ? `${title}: ${q.get("genre")}` : title;
  let list, add, tracks;
  if (kind === "artists") ({ list, add } = artistList());
  else if (kind === "albums") { const g = albumGrid(); list = g.grid; add = g.add; }
  else {
    const extra = await trackExtras().catch(() => null);
    const t = trackTable(ctx.player, () => tracks.loaded(), { extra });
    list = t.table; add = t.add;
  }
  // Track rows carry five controls each: a shorter first page still fills the screen, and
  // is drawn in half the time.
  const p = pager({ load, add, signal: ctx.signal, pageSize: { albums: 60, tracks: 50 }[kind] ?? 100, noun: kind.slice(0, -1) });
  tracks = p;
  const controls = kind === "artists" ? null : sorter(ctx, kind);
  ctx.page(heading, controls, list, ...p.nodes);
  await p.ready;
}

function sorter(ctx, kind) {
  const q = ctx.query;
  const choice = `${q.get("sort") || "name"}:${q.get("order") || "asc"}`;
  const options = [
    ["name:asc", "Name"], ["year:desc", "Newest"], ["year:asc", "Oldest"], ["date_added:desc", "Recently added"],
  ];
  const select = el("select", { "aria-label": "Sort by", id: "sort" },
    ...options.map(([v, label]) => el("option", { value: v, selected: v === choice }, label)));
  select.addEventListener("change", () => {
    const [sort, order] = select.value.split(":");
    const next = new URLSearchParams(q);
    next.set("sort", sort);
    next.set("order", order);
    ctx.go(`/${kind}?${next}`, { replace: true });
  });
  return el("div", { class: "toolbar" }, el("label", { class: "inline" }, "Sort ", select),
    q.get("genre") ? link(`/${kind}`, "All genres") : null);
}

async function genres(ctx) {
  ctx.page("Genres", el("p", { class: "muted" }, "Loading…"));
  let list;
  try { list = await api("api/v1/genres", { signal: ctx.signal }); } catch (err) {
    if (err.name === "AbortError") throw err;
    return ctx.page("Genres", failed(err));
  }
  list.sort((a, b) => b.track_count - a.track_count || a.name.localeCompare(b.name));
  const g = encodeURIComponent;
  ctx.page("Genres",
    list.length ? el("ul", { class: "chips", role: "list" }, ...list.map((x) => el("li", {},
      link(`/albums?genre=${g(x.name)}`, x.name),
      el("span", { class: "muted" }, ` ${plural(x.album_count, "album")}, `),
      link(`/tracks?genre=${g(x.name)}`, plural(x.track_count, "track")))))
      : el("p", { class: "muted" }, "No genres yet."));
}
