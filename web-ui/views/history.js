// Recently played: the caller's plays, newest first, paged as they scroll; and clearing them.

import { api } from "../api.js";
import { el, pager, trackTable, notify, report } from "../ui.js";
import { trackExtras } from "../social.js";

/** "today 14:05", "yesterday 09:12", or a date. */
export function when(iso) {
  const d = new Date(iso);
  const day = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diff = Math.round((day(new Date()) - day(d)) / 86400000);
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return diff === 0 ? `today ${time}` : diff === 1 ? `yesterday ${time}` : `${d.toLocaleDateString()} ${time}`;
}

export async function render(ctx) {
  const extras = await trackExtras().catch(() => null);
  const played = [];
  let p;
  const t = trackTable(ctx.player, () => p.loaded(), { caption: "Recently played", extra: extras, note: (_, n) => `Played ${when(played[n])}` });
  p = pager({
    signal: ctx.signal, noun: "play", pageSize: 50,
    empty: "Nothing played yet. Tracks you listen to (half of them, or 30 seconds) show up here.",
    load: async (offset, limit, signal) => {
      const page = await api(`api/v1/me/history?offset=${offset}&limit=${limit}`, { signal });
      const items = page.items.filter((x) => x.track);
      played.push(...items.map((x) => x.started_at));
      return { items: items.map((x) => x.track), total: page.total };
    },
    add: t.add,
  });
  const clear = el("button", { type: "button", class: "secondary danger", onclick: async () => {
    if (!confirm("Clear your whole listening history? Your own totals are reset too.")) return;
    try {
      await api("api/v1/me/history", { method: "DELETE" });
      notify("History cleared.", "ok");
      ctx.go("/history", { replace: true });
    } catch (err) { report(err); }
  } }, "Clear history");
  ctx.page("History", el("div", { class: "toolbar" }, clear), t.table, ...p.nodes);
  await p.ready;
}
