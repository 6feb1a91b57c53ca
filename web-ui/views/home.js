// Home: what was playing, new releases from followed artists, what was played lately, the
// charts, and what arrived lately.

import { api } from "../api.js";
import { el, albumGrid, trackTable, link, plural, failed } from "../ui.js";

const PERIODS = [["day", "Today"], ["week", "This week"], ["all", "All time"]];

export async function render(ctx) {
  const s = ctx.signal;
  const soft = (p) => p.catch((e) => { if (e.name === "AbortError") throw e; return e; });
  const [albums, tracks, artists, feed, history] = await Promise.all([
    api("api/v1/albums?sort=date_added&order=desc&limit=12", { signal: s }),
    soft(api("api/v1/tracks?limit=1", { signal: s })),
    soft(api("api/v1/artists?limit=1", { signal: s })),
    soft(api("api/v1/me/feed", { signal: s })),
    soft(api("api/v1/me/history?limit=50", { signal: s })),
  ]);
  const recent = albumGrid();
  recent.add(albums.items);
  const cur = ctx.player.current;
  const toggle = el("button", { type: "button", onclick: () => ctx.player.toggle() });
  const label = () => { toggle.textContent = ctx.player.playing ? "Pause" : "Play"; };
  label();
  ctx.player.addEventListener("state", label);
  ctx.signal.addEventListener("abort", () => ctx.player.removeEventListener("state", label));
  const counts = tracks instanceof Error ? failed(tracks) : el("p", { class: "muted" },
    `${plural(artists.total ?? 0, "artist")}, ${plural(albums.total, "album")}, ${plural(tracks.total, "track")} in the library.`);

  // New releases: the feed is newest first; a dozen is enough for a home page.
  let releases;
  if (feed instanceof Error) releases = failed(feed);
  else if (!feed.items.length) releases = el("p", { class: "muted" }, "Follow artists to see their new albums here.");
  else { const g = albumGrid(); g.add(feed.items.slice(0, 12)); releases = g.grid; }

  // Recently played: each track once, latest play first.
  let played;
  if (history instanceof Error) played = failed(history);
  else {
    const seen = new Set();
    const list = history.items.filter((x) => x.track && !seen.has(x.track_id) && seen.add(x.track_id)).slice(0, 8).map((x) => x.track);
    if (!list.length) played = el("p", { class: "muted" }, "Nothing played yet.");
    else { const t = trackTable(ctx.player, () => list, { caption: "Recently played" }); t.add(list); played = t.table; }
  }

  const chartBox = el("div", { "aria-live": "polite" });
  const period = el("select", { id: "chart-period", "aria-label": "Chart period" }, ...PERIODS.map(([v, l]) => el("option", { value: v, selected: v === "week" }, l)));
  const drawChart = async () => {
    chartBox.setAttribute("aria-busy", "true");
    try {
      const [t, a] = await Promise.all([
        api(`api/v1/charts/tracks?period=${period.value}&limit=10`, { signal: s }),
        api(`api/v1/charts/albums?period=${period.value}&limit=6`, { signal: s }),
      ]);
      const top = t.items.map((e) => e.track);
      const table = trackTable(ctx.player, () => top, { caption: "Most played tracks", note: (_, n) => plural(t.items[n].plays, "play") });
      table.add(top);
      const grid = albumGrid();
      grid.add(a.items.map((e) => e.album));
      chartBox.replaceChildren(
        el("h3", {}, "Tracks"), top.length ? table.table : el("p", { class: "muted" }, "No plays in this period yet."),
        a.items.length ? el("h3", {}, "Albums") : null, a.items.length ? grid.grid : null);
    } catch (err) {
      if (err.name !== "AbortError") chartBox.replaceChildren(failed(err));
    } finally { chartBox.setAttribute("aria-busy", "false"); }
  };
  period.addEventListener("change", drawChart);
  await drawChart();

  ctx.page(`Hello, ${ctx.me.display_name}`,
    counts,
    cur ? el("section", { class: "card", "aria-labelledby": "cont-h" }, el("h2", { id: "cont-h" }, "Continue listening"),
      el("p", {}, el("strong", {}, cur.title), " — ", cur.artists?.join(", ") || ""),
      el("div", { class: "toolbar" }, toggle,
        link("/queue", `Queue: ${plural(ctx.player.queue.length, "track")}`))) : null,
    el("section", { "aria-labelledby": "feed-h" }, el("h2", { id: "feed-h" }, "New from artists you follow"), releases),
    el("section", { "aria-labelledby": "played-h" }, el("h2", { id: "played-h" }, "Recently played"), played,
      history instanceof Error || !history.total ? null : el("p", {}, link("/history", "All your history"))),
    el("section", { "aria-labelledby": "chart-h" },
      el("div", { class: "section-head" }, el("h2", { id: "chart-h" }, "Charts"), el("label", { class: "inline" }, "Period ", period)),
      chartBox),
    el("section", { "aria-labelledby": "new-h" }, el("h2", { id: "new-h" }, "Recently added"),
      albums.items.length ? recent.grid : el("p", { class: "muted" }, "No music yet. An admin can add media folders and scan them."),
      albums.total > albums.items.length ? el("p", {}, link("/albums?sort=date_added&order=desc", "All recently added albums")) : null));
}
