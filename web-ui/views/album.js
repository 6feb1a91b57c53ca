// An album: its tracks in order; play, shuffle, queue; save it, rate it, add it to a playlist.

import { api } from "../api.js";
import { el, trackTable, cover, duration, plural, link, notify } from "../ui.js";
import { trackExtras, savedSet, toggle, stars, addToPlaylist } from "../social.js";

export async function render(ctx) {
  const [a, extras, saved] = await Promise.all([
    api(`api/v1/albums/${ctx.params.id}`, { signal: ctx.signal }),
    trackExtras().catch(() => null),
    savedSet().catch(() => null),
  ]);
  const t = trackTable(ctx.player, () => a.tracks, { album: false, numbers: true, caption: `Tracks of ${a.title}`, extra: extras });
  t.add(a.tracks);
  const shuffle = () => {
    if (!ctx.player.shuffle) ctx.player.toggleShuffle();
    ctx.player.playList(a.tracks, Math.floor(Math.random() * a.tracks.length));
  };
  const ratingText = el("span", { class: "muted", "aria-live": "polite" });
  const drawRating = (r) => {
    ratingText.textContent = r.count ? `${r.average.toFixed(1)} average from ${plural(r.count, "rating")}` : "Not rated yet";
  };
  drawRating(a.rating);
  const save = saved ? toggle({
    pressed: saved.has(a.id),
    text: (on) => on ? "Saved" : "Save",
    label: (on) => on ? `Remove ${a.title} from your library` : `Save ${a.title} to your library`,
    change: async (on) => {
      await api(`api/v1/albums/${a.id}/save`, { method: on ? "PUT" : "DELETE" });
      if (on) saved.add(a.id); else saved.delete(a.id);
      notify(on ? `${a.title} saved to your library.` : `${a.title} removed from your library.`, "ok");
      return on;
    },
  }) : null;
  ctx.page(a.title,
    el("div", { class: "album-head" }, cover(a.id, 300, `Cover of ${a.title}`),
      el("div", {},
        el("p", {}, a.artist_id ? link(`/artists/${a.artist_id}`, a.artist) : a.artist),
        el("p", { class: "muted" }, [a.year, a.genres.join(", "), plural(a.track_count, "track"), duration(a.duration_secs)].filter(Boolean).join(" · ")),
        el("div", { class: "rating-row" },
          stars({ label: `Your rating of ${a.title}`, value: 0, rate: async (n) => {
            const r = await api(`api/v1/albums/${a.id}/rating`, { method: "PUT", body: { stars: n } });
            drawRating(r.rating);
            notify(`You rated ${a.title} ${plural(n, "star")}.`, "ok");
          } }), ratingText),
        el("div", { class: "toolbar" },
          el("button", { type: "button", onclick: () => ctx.player.playList(a.tracks) }, "Play"),
          el("button", { type: "button", class: "secondary", onclick: shuffle }, "Shuffle"),
          el("button", { type: "button", class: "secondary", onclick: () => { ctx.player.enqueue(a.tracks); notify(`${a.title} added to the queue.`, "ok"); } }, "Add to queue"),
          el("button", { type: "button", class: "secondary", onclick: () => addToPlaylist(a.tracks) }, "Add to playlist"),
          save))),
    t.table);
}
