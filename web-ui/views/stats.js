// Statistics of the caller's artist profiles (admins: any artist, with ?artist=ID): plays
// per day, listening time, completion rate, listeners, followers and top tracks. Charts are
// inline SVG drawn here, each with a table of its figures for screen readers.

import { api } from "../api.js";
import { el, link, plural, failed } from "../ui.js";

const NS = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}, ...kids) => {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  n.append(...kids);
  return n;
};

/** Every day of the window, oldest first, with zeros where there were no plays. */
function fill(series, days) {
  const byDate = new Map(series.map((p) => [p.date, p]));
  const out = [];
  const today = new Date();
  for (let i = days - 1; i >= 0; i--) {
    const d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - i)).toISOString().slice(0, 10);
    out.push(byDate.get(d) || { date: d, plays: 0, seconds: 0, complete: 0, last_listened: 0 });
  }
  return out;
}

/**
 * A chart of `points` ({label, value}): bars, or a line with `line`. `format` writes a value.
 * The SVG scales to its box; a hidden table carries the same figures.
 */
export function chart({ id, title, points, format = String, line = false, max, width = 640 }) {
  // Drawn at the width it is shown at, so its text stays legible on a phone.
  const W = Math.round(width), H = Math.round(Math.min(220, Math.max(160, width / 3))), L = 44, B = 22, T = 10;
  // A round top for the scale: 1, 2 or 5 times a power of ten.
  const high = Math.max(max ?? 0, ...points.map((p) => p.value));
  const mag = 10 ** Math.floor(Math.log10(high || 1));
  const top = max ?? [1, 2, 5, 10].map((m) => m * mag).find((v) => v >= high) ?? 10 * mag;
  const x = (i) => L + ((W - L - 8) * (i + 0.5)) / points.length;
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const bw = Math.max(1, ((W - L - 8) / points.length) * 0.7);
  const g = svg("g");
  for (const f of top >= 2 || max ? [0, 0.5, 1] : [0, 1]) {
    g.append(svg("line", { class: "axis", x1: L, x2: W - 4, y1: y(top * f), y2: y(top * f) }),
      svg("text", { x: L - 6, y: y(top * f) + 4, "text-anchor": "end" }, format(top * f)));
  }
  if (line) {
    const d = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join("");
    g.append(svg("path", { class: "line", d }));
  } else {
    points.forEach((p, i) => {
      const r = svg("rect", { class: "bar", x: (x(i) - bw / 2).toFixed(1), y: y(p.value).toFixed(1), width: bw.toFixed(1), height: (H - B - y(p.value)).toFixed(1) });
      r.append(svg("title", {}, `${p.label}: ${format(p.value)}`));
      g.append(r);
    });
  }
  // A few dates along the bottom.
  const step = Math.ceil(points.length / 6);
  points.forEach((p, i) => {
    if (i % step === 0 || i === points.length - 1 && points.length < 8) g.append(svg("text", { x: x(i), y: H - 6, "text-anchor": "middle" }, p.label.slice(5)));
  });
  const pic = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-labelledby": `${id}-t` }, svg("title", { id: `${id}-t` }, title), g);
  const table = el("table", { class: "sr-only" }, el("caption", {}, title),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Day"), el("th", { scope: "col" }, "Value"))),
    el("tbody", {}, points.map((p) => el("tr", {}, el("td", {}, p.label), el("td", {}, format(p.value))))));
  return el("figure", { class: "card", "data-chart": id }, el("figcaption", {}, el("strong", {}, title)), pic, table);
}

const pct = (v) => `${Math.round(v * 100)} %`;
// Seconds under a minute, so a chart of short listens does not read "0 min" on every line.
const mins = (s) => (s < 60 ? `${Math.round(s)} s` : `${s < 600 ? Math.round(s / 6) / 10 : Math.round(s / 60)} min`);

export async function render(ctx) {
  const q = ctx.query;
  const profiles = await api("api/v1/studio/profiles", { signal: ctx.signal });
  const artist = q.get("artist") || profiles[0]?.id;
  const days = Number(q.get("days")) || 30;
  if (!artist) {
    return ctx.page("Statistics", el("p", { class: "muted" }, "No artist profile yet: upload music in the ", link("/studio", "studio"), " first."));
  }
  const pick = el("select", { id: "stats-artist" }, ...profiles.map((p) => el("option", { value: p.id, selected: p.id === artist }, p.name)));
  const range = el("select", { id: "stats-days" }, ...[7, 30, 90, 365].map((d) => el("option", { value: d, selected: d === days }, `Last ${d} days`)));
  const change = () => ctx.go(`/stats?artist=${pick.value}&days=${range.value}`, { replace: true });
  pick.addEventListener("change", change);
  range.addEventListener("change", change);
  const controls = el("div", { class: "toolbar" },
    profiles.length > 1 ? el("label", { class: "inline" }, "Artist ", pick) : null,
    el("label", { class: "inline" }, "Period ", range));

  let s;
  try { s = await api(`api/v1/stats/artists/${artist}?days=${days}`, { signal: ctx.signal }); } catch (err) {
    if (err.name === "AbortError") throw err;
    return ctx.page("Statistics", controls, failed(err));
  }
  const all = fill(s.series, s.days);
  // Distinct listeners since each day: the listeners whose latest play is on or after it.
  let since = 0;
  const reach = [...all].reverse().map((p) => ({ label: p.date, value: (since += p.last_listened) })).reverse();
  const widths = () => {
    const full = Math.max(280, Math.min(1100, ctx.main.clientWidth - 60));
    return [full, full > 700 ? full / 2 - 20 : full];
  };
  const [full, half] = widths();
  const specs = {};
  const spec = (x) => { specs[x.id] = x; return chart(x); };
  const complete = all.reduce((n, p) => n + p.complete, 0);
  const name = profiles.find((p) => p.id === artist)?.name || "Artist";
  const figure = (label, value) => el("div", {}, el("dt", {}, label), el("dd", {}, value));

  // Each top track opens to its own figures for the same period.
  const top = el("ol", { class: "rows" }, ...s.top_tracks.map((t) => {
    const body = el("div", { "aria-live": "polite" }, el("p", { class: "muted" }, "Loading…"));
    const box = el("details", { class: "track-stats" },
      el("summary", {}, el("strong", {}, t.track.title), el("span", { class: "muted" }, ` · ${t.track.album} · ${plural(t.plays, "play")}`)),
      body);
    box.addEventListener("toggle", async () => {
      if (!box.open || box.dataset.loaded) return;
      box.dataset.loaded = "1";
      try {
        const ts = await api(`api/v1/stats/tracks/${t.track.id}?days=${days}`);
        body.replaceChildren(el("dl", { class: "figures" },
          figure("Plays", ts.plays.toLocaleString()),
          figure("Listeners", ts.unique_listeners.toLocaleString()),
          figure("Completion rate", ts.plays ? pct(ts.completion_rate) : "–"),
          figure("Average listen", `${Math.round(ts.average_seconds)} s`),
          figure("Likes", ts.likes.toLocaleString()),
          figure("Downloads", ts.downloads.toLocaleString())));
      } catch (err) { delete box.dataset.loaded; body.replaceChildren(failed(err)); }
    });
    return el("li", {}, box);
  }));

  ctx.page(`Statistics: ${name}`,
    controls,
    el("dl", { class: "figures" },
      figure("Plays", s.plays.toLocaleString()),
      figure("Monthly listeners", s.monthly_listeners.toLocaleString()),
      figure("Completion rate", s.plays ? pct(complete / s.plays) : "–"),
      figure("Followers", s.followers.toLocaleString()),
      figure("All-time plays", s.total_plays.toLocaleString()),
      figure("All-time listeners", s.total_listeners.toLocaleString())),
    spec({ id: "plays", title: `Plays per day, last ${s.days} days`, points: all.map((p) => ({ label: p.date, value: p.plays })), format: (v) => String(Math.round(v * 10) / 10), width: full }),
    spec({ id: "listeners", title: "Distinct listeners since each day", line: true, points: reach, format: (v) => String(Math.round(v)), width: full }),
    el("div", { class: "two" },
      spec({ id: "time", title: "Time listened per day", points: all.map((p) => ({ label: p.date, value: p.seconds })), format: mins, width: half }),
      spec({ id: "completion", title: "Completion rate per day", line: true, max: 1,
        points: all.map((p) => ({ label: p.date, value: p.plays ? p.complete / p.plays : 0 })), format: pct, width: half })),
    el("section", { "aria-labelledby": "top-h" }, el("h2", { id: "top-h" }, "Top tracks, all time"),
      s.top_tracks.length ? top : el("p", { class: "muted" }, "No plays yet.")));

  // Charts are drawn for a width: when the page's width changes much, they are drawn again.
  let drawnAt = full;
  const resized = new ResizeObserver(() => {
    const [f, h] = widths();
    if (Math.abs(f - drawnAt) < 40) return;
    drawnAt = f;
    for (const fig of ctx.main.querySelectorAll("figure[data-chart]")) {
      const spec = specs[fig.dataset.chart];
      fig.replaceWith(chart({ ...spec, width: spec.id === "plays" || spec.id === "listeners" ? f : h }));
    }
  });
  resized.observe(ctx.main);
  ctx.signal.addEventListener("abort", () => resized.disconnect());
}
