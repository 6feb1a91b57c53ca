// An album: its tracks in order; play, shuffle, queue.

import { api } from "../api.js";
import { el, trackTable, cover, duration, plural, link, notify } from "../ui.js";

export async function render(ctx) {
  const a = await api(`api/v1/albums/${ctx.params.id}`, { signal: ctx.signal });
  const t = trackTable(ctx.player, () => a.tracks, { album: false, numbers: true, caption: `Tracks of ${a.title}` });
  t.add(a.tracks);
  const shuffle = () => {
    if (!ctx.player.shuffle) ctx.player.toggleShuffle();
    ctx.player.playList(a.tracks, Math.floor(Math.random() * a.tracks.length));
  };
  ctx.page(a.title,
    el("div", { class: "album-head" }, cover(a.id, 300, `Cover of ${a.title}`),
      el("div", {},
        el("p", {}, a.artist_id ? link(`/artists/${a.artist_id}`, a.artist) : a.artist),
        el("p", { class: "muted" }, [a.year, a.genres.join(", "), plural(a.track_count, "track"), duration(a.duration_secs)].filter(Boolean).join(" · ")),
        el("div", { class: "toolbar" },
          el("button", { type: "button", onclick: () => ctx.player.playList(a.tracks) }, "Play"),
          el("button", { type: "button", class: "secondary", onclick: shuffle }, "Shuffle"),
          el("button", { type: "button", class: "secondary", onclick: () => { ctx.player.enqueue(a.tracks); notify(`${a.title} added to the queue.`, "ok"); } }, "Add to queue")))),
    t.table);
}
