// The player: a queue of tracks played through two <audio> elements. While one plays, the
// other loads the next track, so the next one starts the moment this one ends (gapless as far
// as media elements allow). Queue, position and settings survive a reload (localStorage).
//
// <audio> cannot send an Authorization header, so each track is streamed from a URL with a
// signed stream token. Transcoded streams (a quality other than "original") cannot seek by
// bytes: seeking reloads them from an `offset`, and `base` keeps the time that offset stands for.

import { api, ApiError } from "./api.js";
import { el, icon, iconButton, duration, artistLinks, link, cover, coverUrl, notify } from "./ui.js";

const STATE = "mw.player";
const SETTINGS = "mw.playback";
const PRELOAD_SECS = 30;

/** Playback settings kept on this device. */
export const playback = {
  get() {
    let s = {};
    try { s = JSON.parse(localStorage.getItem(SETTINGS) || "{}") || {}; } catch { /* defaults */ }
    return { quality: s.quality || "auto", normalize: s.normalize !== false };
  },
  set(change) { localStorage.setItem(SETTINGS, JSON.stringify({ ...this.get(), ...change })); },
};

/** The stream quality to ask for now: "auto" picks the mobile profile on a metered or slow link. */
export function effectiveQuality() {
  const q = playback.get().quality;
  if (q !== "auto") return q;
  const c = navigator.connection;
  const slow = c && (c.saveData || c.type === "cellular" || /(^|-)(2g|3g)$/.test(c.effectiveType || ""));
  return slow ? "mobile" : "original";
}

/** What a queue entry keeps of a track (enough to show and play it after a reload). */
const slim = (t) => ({
  id: t.id, title: t.title, artists: t.artists, artist_ids: t.artist_ids, album: t.album,
  album_id: t.album_id, duration_secs: t.duration_secs,
});

function shuffled(list) {
  const a = list.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

export class Player extends EventTarget {
  constructor() {
    super();
    this.queue = [];
    this.index = -1;
    this.shuffle = false;
    this.repeat = "off"; // off | all | one
    this.volume = 1;
    this.muted = false;
    // The queue's order before shuffling, to return to when shuffle is turned off.
    this.unshuffled = null;
    this.audio = this.#element();
    this.spare = this.#element();
    this.base = 0;
    this.loaded = null; // {id, quality, gain} of what `audio` holds
    this.preloaded = null; // {id, quality, gain} of what `spare` holds
    this.loading = 0;
    this.failures = 0; // tracks in a row that failed to play
    this.#restore();
    this.#mediaSession();
    addEventListener("pagehide", () => this.save());
  }

  #element() {
    const a = new Audio();
    a.preload = "auto";
    // In the document (without controls, so unseen), where tests and extensions can find it.
    document.body.append(a);
    for (const type of ["play", "pause", "timeupdate", "durationchange", "volumechange"]) {
      a.addEventListener(type, () => { if (a === this.audio) this.#changed(type); });
    }
    a.addEventListener("ended", () => { if (a === this.audio) { this.#listened(a, true); this.#report(true); this.#ended(); } });
    a.addEventListener("timeupdate", () => { if (a === this.audio) this.#listened(a); });
    a.addEventListener("seeking", () => { if (a === this.audio) this.#lastPos = null; });
    a.addEventListener("playing", () => { if (a === this.audio) this.failures = 0; });
    a.addEventListener("error", () => {
      if (a !== this.audio || !a.getAttribute("src")) return;
      // A format this browser cannot decode (AIFF, ALAC...): the server transcodes it.
      if (a.error?.code === MediaError.MEDIA_ERR_SRC_NOT_SUPPORTED && this.loaded?.quality === "original") {
        return this.#load({ autoplay: true, at: this.time, quality: "fallback" });
      }
      notify(`“${this.current?.title ?? "This track"}” cannot be played (${a.error?.message || "media error"}).`);
      this.#changed("error");
      // Go on with the queue, but do not run through a whole queue of failures.
      if (++this.failures < 3 && this.index + 1 < this.queue.length) this.next();
    });
    return a;
  }

  get current() { return this.queue[this.index] ?? null; }
  get playing() { return !this.audio.paused; }
  get time() { return this.base + (this.audio.currentTime || 0); }
  get duration() { return this.current?.duration_secs || this.audio.duration || 0; }

  // -- queue ------------------------------------------------------------------------------

  /** Replaces the queue with `tracks` and plays from `start`. */
  playList(tracks, start = 0) {
    const list = tracks.map(slim);
    if (!list[start]) return;
    const first = list[start];
    this.unshuffled = null;
    if (this.shuffle && list.length > 1) {
      this.unshuffled = list;
      this.queue = [first, ...shuffled(list.filter((_, i) => i !== start))];
      this.index = 0;
    } else {
      this.queue = list;
      this.index = start;
    }
    this.#load({ autoplay: true });
  }

  /** Inserts `tracks` right after the current one. */
  playNext(tracks) {
    const list = tracks.map(slim);
    if (this.index < 0) return this.playList(list);
    this.queue.splice(this.index + 1, 0, ...list);
    this.unshuffled?.push(...list);
    this.#queueChanged();
  }

  /** Appends `tracks` to the end of the queue. */
  enqueue(tracks) {
    const list = tracks.map(slim);
    if (this.index < 0) return this.playList(list);
    this.queue.push(...list);
    this.unshuffled?.push(...list);
    this.#queueChanged();
  }

  /** Moves the entry at `from` to position `to`. */
  move(from, to) {
    if (from === to || from < 0 || to < 0 || from >= this.queue.length || to >= this.queue.length) return;
    const [t] = this.queue.splice(from, 1);
    this.queue.splice(to, 0, t);
    if (this.index === from) this.index = to;
    else if (from < this.index && to >= this.index) this.index--;
    else if (from > this.index && to <= this.index) this.index++;
    this.#queueChanged();
  }

  /** Removes the entry at `i`; removing the current track plays the next one. */
  remove(i) {
    if (i < 0 || i >= this.queue.length) return;
    const [t] = this.queue.splice(i, 1);
    if (this.unshuffled) this.unshuffled = this.unshuffled.filter((x) => x !== t);
    if (i < this.index) { this.index--; return this.#queueChanged(); }
    if (i > this.index) return this.#queueChanged();
    if (!this.queue.length) return this.clear(true);
    this.index = Math.min(i, this.queue.length - 1);
    this.#load({ autoplay: this.playing });
  }

  /** Clears what comes after the current track, or everything with `all`. */
  clear(all = false) {
    if (all || this.index < 0) {
      this.queue = [];
      this.index = -1;
      this.unshuffled = null;
      this.#stop();
      this.#changed("track");
    } else {
      this.queue = this.queue.slice(this.index, this.index + 1);
      this.index = 0;
      this.unshuffled = null;
    }
    this.#queueChanged();
  }

  /** Plays the entry at `i`. */
  jump(i) {
    if (i < 0 || i >= this.queue.length) return;
    this.index = i;
    this.#load({ autoplay: true });
  }

  // -- transport --------------------------------------------------------------------------

  toggle() {
    if (this.index < 0) return;
    if (!this.audio.getAttribute("src")) return this.#load({ autoplay: true, at: this.restoreAt || 0 });
    if (this.audio.paused) this.audio.play().catch((e) => this.#playFailed(e));
    else this.audio.pause();
  }

  next() {
    if (this.index < 0) return;
    if (this.index + 1 < this.queue.length) this.index++;
    else if (this.repeat === "all") this.index = 0;
    else return;
    this.#load({ autoplay: true });
  }

  prev() {
    if (this.index < 0) return;
    if (this.time > 3 || (this.index === 0 && this.repeat !== "all")) return this.seek(0);
    this.index = this.index > 0 ? this.index - 1 : this.queue.length - 1;
    this.#load({ autoplay: true });
  }

  seek(t) {
    if (this.index < 0) return;
    t = Math.max(0, Math.min(t, Math.max(0, this.duration - 0.25)));
    if (!this.audio.getAttribute("src")) { this.restoreAt = t; return this.#changed("timeupdate"); }
    if (this.loaded?.quality === "original") this.audio.currentTime = t;
    else this.#load({ autoplay: this.playing, at: t, quality: this.loaded?.quality });
  }

  setVolume(v) {
    this.volume = Math.max(0, Math.min(1, v));
    this.muted = false;
    this.#applyVolume();
    this.save();
  }

  toggleMute() { this.muted = !this.muted; this.#applyVolume(); this.save(); }

  toggleShuffle() {
    this.shuffle = !this.shuffle;
    if (this.shuffle) {
      this.unshuffled = this.queue.slice();
      const rest = shuffled(this.queue.filter((_, i) => i !== this.index));
      this.queue = this.index < 0 ? rest : [this.queue[this.index], ...rest];
      this.index = this.index < 0 ? -1 : 0;
    } else if (this.unshuffled) {
      const cur = this.current;
      this.queue = this.unshuffled;
      this.index = Math.max(0, this.queue.indexOf(cur));
      this.unshuffled = null;
    }
    this.#queueChanged();
  }

  cycleRepeat() {
    this.repeat = { off: "all", all: "one", one: "off" }[this.repeat];
    this.#queueChanged();
  }

  // -- loading ------------------------------------------------------------------------------

  /** A stream URL for track `id` at `quality`, starting `at` seconds in, and its ReplayGain. */
  async #source(id, quality, at = 0) {
    const [token, detail] = await Promise.all([
      api(`api/v1/tracks/${id}/stream-token`, { method: "POST" }),
      api(`api/v1/tracks/${id}`).catch(() => null),
    ]);
    let url = `api/v1/tracks/${id}/stream?token=${encodeURIComponent(token.token)}`;
    if (quality === "fallback") url += "&format=opus&bitrate=160";
    else if (quality !== "original") url += `&quality=${encodeURIComponent(quality)}`;
    if (quality !== "original" && at > 0) url += `&offset=${at.toFixed(2)}`;
    return { url, info: { id, quality, gain: gainOf(detail) } };
  }

  async #load({ autoplay, at = 0, quality = effectiveQuality() }) {
    const t = this.current;
    if (this.#play && this.#play.id !== t?.id) this.#report(false);
    const ticket = ++this.loading;
    this.restoreAt = 0;
    this.preloading = null;
    this.#changed("track");
    this.save();
    if (!t) return this.#stop();
    // The next track is already buffered in the spare element: swap and go.
    if (at === 0 && this.preloaded?.id === t.id && this.preloaded.quality === quality && !this.spare.error) {
      this.audio.pause();
      [this.audio, this.spare] = [this.spare, this.audio];
      this.loaded = this.preloaded;
      this.preloaded = null;
      this.spare.removeAttribute("src");
      this.spare.load();
      this.base = 0;
      this.audio.currentTime = 0;
      this.#applyVolume();
      if (autoplay) this.audio.play().catch((e) => this.#playFailed(e));
      this.#changed("play");
      return;
    }
    this.audio.pause();
    try {
      const { url, info } = await this.#source(t.id, quality, at);
      if (ticket !== this.loading) return;
      this.loaded = info;
      this.base = quality === "original" ? 0 : at;
      this.audio.src = url;
      if (quality === "original" && at > 0) this.audio.currentTime = at;
      this.#applyVolume();
      if (autoplay) await this.audio.play();
    } catch (err) {
      // An ended session has its own message and sends the user to sign in.
      if (ticket !== this.loading || err.status === 401) return;
      if (err instanceof ApiError) notify(`“${t.title}” cannot be played: ${err.message}`);
      else this.#playFailed(err);
    }
    this.#changed("play");
  }

  #playFailed(err) {
    // Autoplay refused (no user gesture yet after a reload): the play button still works.
    if (err?.name === "NotAllowedError" || err?.name === "AbortError") return;
    notify(`Playback failed: ${err?.message || err}`);
  }

  async #preload() {
    const nextIndex = this.index + 1 < this.queue.length ? this.index + 1 : this.repeat === "all" ? 0 : -1;
    const next = this.queue[nextIndex];
    const quality = effectiveQuality();
    if (!next || this.repeat === "one" || (this.preloaded?.id === next.id && this.preloaded.quality === quality)) return;
    // One try per track: a failure shows when its turn comes.
    if (this.preloading === next.id) return;
    this.preloading = next.id;
    try {
      const { url, info } = await this.#source(next.id, quality);
      this.spare.src = url;
      this.spare.load();
      this.preloaded = info;
    } catch { /* it loads when its turn comes instead */ }
  }

  #ended() {
    if (this.repeat === "one") { this.seek(0); this.audio.play().catch((e) => this.#playFailed(e)); return; }
    if (this.index + 1 < this.queue.length || this.repeat === "all") return this.next();
    this.#changed("pause");
  }

  // -- play reports (history, statistics) --------------------------------------------------

  // The play being listened to: {id, started, secs}. Seconds count only while the audio
  // advances on its own, so seeking ahead does not count as listening.
  #play = null;
  #lastPos = null;
  #listened(a, ended = false) {
    const t = this.current;
    if (!t) return;
    if (!this.#play || this.#play.id !== t.id) {
      this.#play = { id: t.id, started: new Date().toISOString(), secs: 0 };
      // Met at the very start (the first time update comes a moment in): count from 0.
      this.#lastPos = a.currentTime < 1 && !a.paused ? 0 : null;
    }
    const pos = a.currentTime;
    if (this.#lastPos !== null && !a.paused || ended) {
      const d = pos - (this.#lastPos ?? pos);
      if (d > 0 && d < 5) this.#play.secs += d;
    }
    this.#lastPos = pos;
  }

  /** Reports the play that just ended or was left, if enough of it was heard. */
  #report(completed) {
    const p = this.#play;
    this.#play = null;
    this.#lastPos = null;
    if (!p) return;
    const dur = this.queue.find((x) => x.id === p.id)?.duration_secs || 0;
    // Counted like most services: half the track or 30 seconds, whichever comes first.
    if (p.secs <= 0 || !completed && p.secs < (dur ? Math.min(30, dur / 2) : 30)) return;
    const body = {
      track_id: p.id, started_at: p.started, seconds_played: completed ? Math.ceil(p.secs) : Math.round(p.secs), completed,
      source: "other", idempotency_key: `${p.id}:${p.started}`,
    };
    api("api/v1/plays", { method: "POST", body }).then(() => this.dispatchEvent(new Event("played")), () => {});
  }

  #stop() {
    this.#report(false);
    this.audio.pause();
    this.audio.removeAttribute("src");
    this.audio.load();
    this.loaded = null;
    this.base = 0;
  }

  #applyVolume() {
    // ReplayGain lowers loud tracks; media elements cannot go above full volume, so quiet
    // tracks are raised only as far as the volume slider leaves room.
    const gain = playback.get().normalize ? this.loaded?.gain ?? 1 : 1;
    const v = Math.min(1, this.volume * gain);
    for (const a of [this.audio, this.spare]) { a.volume = v; a.muted = this.muted; }
    this.#changed("volumechange");
  }

  #queueChanged() {
    this.preloaded = null;
    this.preloading = null;
    this.save();
    this.#changed("queue");
  }

  #lastSave = 0;
  #changed(type) {
    if (type === "timeupdate") {
      const remaining = this.duration - this.time;
      if (remaining < PRELOAD_SECS && !this.audio.paused) this.#preload();
      if (Date.now() - this.#lastSave > 2000) this.save();
    }
    if (type === "track" || type === "play") this.#updateMediaSession();
    if ("mediaSession" in navigator && (type === "play" || type === "pause")) {
      navigator.mediaSession.playbackState = this.audio.paused ? "paused" : "playing";
    }
    this.dispatchEvent(new Event(type === "queue" ? "queue" : type === "track" ? "track" : "state"));
    if (type === "queue") this.dispatchEvent(new Event("state"));
  }

  // -- persistence ------------------------------------------------------------------------

  save() {
    this.#lastSave = Date.now();
    localStorage.setItem(STATE, JSON.stringify({
      queue: this.queue, index: this.index, time: this.audio.getAttribute("src") ? this.time : this.restoreAt || 0,
      shuffle: this.shuffle, repeat: this.repeat, volume: this.volume, muted: this.muted,
      unshuffled: this.unshuffled?.map((t) => this.queue.indexOf(t)) ?? null,
    }));
  }

  #restore() {
    try {
      const s = JSON.parse(localStorage.getItem(STATE) || "null");
      if (!s || !Array.isArray(s.queue)) return;
      this.queue = s.queue;
      this.index = Math.min(s.index ?? -1, this.queue.length - 1);
      this.shuffle = Boolean(s.shuffle);
      this.repeat = ["off", "all", "one"].includes(s.repeat) ? s.repeat : "off";
      this.volume = typeof s.volume === "number" ? s.volume : 1;
      this.muted = Boolean(s.muted);
      this.restoreAt = Number(s.time) || 0;
      if (Array.isArray(s.unshuffled)) this.unshuffled = s.unshuffled.map((i) => this.queue[i]).filter(Boolean);
    } catch { localStorage.removeItem(STATE); }
  }

  /** Loads the restored track at its saved position without playing (after sign-in). */
  resume() {
    if (this.index >= 0 && !this.audio.getAttribute("src")) this.#load({ autoplay: false, at: this.restoreAt || 0 });
  }

  // -- Media Session (lock screen, headset buttons) ----------------------------------------

  #mediaSession() {
    if (!("mediaSession" in navigator)) return;
    const ms = navigator.mediaSession;
    const on = (action, f) => { try { ms.setActionHandler(action, f); } catch { /* unsupported action */ } };
    on("play", () => this.toggle());
    on("pause", () => this.audio.pause());
    on("previoustrack", () => this.prev());
    on("nexttrack", () => this.next());
    on("seekbackward", (d) => this.seek(this.time - (d.seekOffset || 10)));
    on("seekforward", (d) => this.seek(this.time + (d.seekOffset || 10)));
    on("seekto", (d) => this.seek(d.seekTime));
  }

  async #updateMediaSession() {
    if (!("mediaSession" in navigator)) return;
    const t = this.current;
    if (!t) { navigator.mediaSession.metadata = null; return; }
    const meta = { title: t.title, artist: (t.artists || []).join(", "), album: t.album || "" };
    navigator.mediaSession.metadata = new MediaMetadata(meta);
    const art = await coverUrl(t.album_id, 512);
    if (art && this.current === t) navigator.mediaSession.metadata = new MediaMetadata({ ...meta, artwork: [{ src: art, sizes: "512x512" }] });
    try { navigator.mediaSession.setPositionState({ duration: this.duration, position: Math.min(this.time, this.duration), playbackRate: 1 }); } catch { /* not known yet */ }
  }
}

/** A volume factor from a track's ReplayGain, kept below clipping by its peak. */
function gainOf(detail) {
  const db = detail?.replaygain_track_gain_db ?? detail?.replaygain_album_gain_db;
  if (typeof db !== "number") return 1;
  const peak = detail.replaygain_track_peak ?? detail.replaygain_album_peak;
  let g = 10 ** (db / 20);
  if (typeof peak === "number" && peak > 0) g = Math.min(g, 1 / peak);
  return g;
}

/** The player bar at the foot of every page. */
export function playerBar(player, root) {
  const title = el("div", { class: "now-title" });
  const art = el("div", { class: "now-art" });
  const play = iconButton("play", "Play", () => player.toggle(), { class: "icon-button big", id: "play-button" });
  const shuffle = iconButton("shuffle", "Shuffle", () => player.toggleShuffle(), { class: "icon-button opt" });
  const repeat = iconButton("repeat", "Repeat: off", () => player.cycleRepeat(), { class: "icon-button opt" });
  const seekbar = el("input", { type: "range", min: 0, max: 1, step: "any", value: 0, "aria-label": "Seek", class: "seek" });
  const elapsed = el("span", { class: "time muted" }, "0:00");
  const total = el("span", { class: "time muted" }, "0:00");
  const mute = iconButton("volume", "Mute", () => player.toggleMute(), { class: "icon-button opt" });
  const vol = el("input", { type: "range", min: 0, max: 1, step: 0.05, "aria-label": "Volume", class: "volume" });
  let dragging = false;
  seekbar.addEventListener("input", () => { dragging = true; elapsed.textContent = duration(Number(seekbar.value)); });
  seekbar.addEventListener("change", () => { dragging = false; player.seek(Number(seekbar.value)); });
  vol.addEventListener("input", () => player.setVolume(Number(vol.value)));
  root.replaceChildren(
    el("div", { class: "seek-row" }, elapsed, seekbar, total),
    el("div", { class: "bar-row" },
      el("div", { class: "now" }, art, title),
      el("div", { class: "controls" }, shuffle, iconButton("prev", "Previous", () => player.prev()), play,
        iconButton("next", "Next", () => player.next()), repeat),
      el("div", { class: "extras" }, mute, vol, el("a", { href: "queue", class: "icon-button", "aria-label": "Queue", title: "Queue" }, icon("queue")))));
  const swap = (btn, name) => btn.replaceChildren(icon(name));
  let shownTrack;
  const track = () => {
    const t = player.current;
    root.hidden = !t;
    if (t === shownTrack) return;
    shownTrack = t;
    if (!t) return;
    art.replaceChildren(cover(t.album_id, 96));
    title.replaceChildren(link(`/albums/${t.album_id}`, el("strong", {}, t.title)), el("span", { class: "muted sub" }, artistLinks(t)));
    seekbar.max = String(player.duration || 1);
    total.textContent = duration(player.duration);
  };
  const state = () => {
    track();
    const p = player.playing;
    swap(play, p ? "pause" : "play");
    play.setAttribute("aria-label", p ? "Pause" : "Play");
    play.title = p ? "Pause" : "Play";
    shuffle.setAttribute("aria-pressed", String(player.shuffle));
    repeat.setAttribute("aria-pressed", String(player.repeat !== "off"));
    const rl = `Repeat: ${player.repeat === "one" ? "this track" : player.repeat === "all" ? "the queue" : "off"}`;
    repeat.setAttribute("aria-label", rl);
    repeat.title = rl;
    swap(repeat, player.repeat === "one" ? "repeatOne" : "repeat");
    swap(mute, player.muted || player.volume === 0 ? "mute" : "volume");
    mute.setAttribute("aria-label", player.muted ? "Unmute" : "Mute");
    mute.setAttribute("aria-pressed", String(player.muted));
    vol.value = String(player.volume);
    seekbar.max = String(player.duration || 1);
    total.textContent = duration(player.duration);
    if (!dragging) {
      seekbar.value = String(player.time);
      elapsed.textContent = duration(player.time);
      seekbar.setAttribute("aria-valuetext", `${duration(player.time)} of ${duration(player.duration)}`);
    }
  };
  for (const e of ["track", "state", "queue"]) player.addEventListener(e, state);
  state();
}
