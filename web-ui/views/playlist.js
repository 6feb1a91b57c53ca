// One playlist: its tracks (played from any of them), and for those who may change it:
// reorder by dragging or with the move buttons (keyboard), remove, edit the details, invite
// collaborators. Others may follow it. Every change goes to the server first; the list
// shows the server's answer.

import { api } from "../api.js";
import { el, iconButton, duration, artistLinks, plural, link, notify, report } from "../ui.js";
import { toggle, trackExtras } from "../social.js";

async function loadAll(id, signal) {
  const first = await api(`api/v1/playlists/${id}?limit=500`, { signal });
  while (first.entries.length < first.entry_count) {
    const more = await api(`api/v1/playlists/${id}?offset=${first.entries.length}&limit=500`, { signal });
    if (!more.entries.length) break;
    first.entries.push(...more.entries);
  }
  return first;
}

/** Entries drawn before the page is shown; the others follow in later frames. */
const FIRST_ROWS = 60;

const userName = (u) => u.display_name || u.username;

export async function render(ctx) {
  const id = ctx.params.id;
  let p = await loadAll(id, ctx.signal);
  const extras = await trackExtras().catch(() => null);
  const owner = p.access === "owner";
  const canEdit = p.access !== "viewer";
  const ownerUser = owner ? ctx.me : await api(`api/v1/users/${p.owner_id}`, { signal: ctx.signal }).catch(() => null);

  const facts = el("p", { class: "muted" });
  const desc = el("p", { class: "description" });
  const drawHead = () => {
    facts.textContent = [p.public ? "Public" : "Private", p.collaborative ? "collaborative" : null,
      plural(p.entry_count, "track"), plural(p.follower_count, "follower")].filter(Boolean).join(" · ");
    desc.textContent = p.description;
    desc.hidden = !p.description;
    document.querySelector("main h1").textContent = p.name;
    const note = document.getElementById("collab-note");
    if (note) note.hidden = p.collaborative;
    document.title = `${p.name} · musewave`;
  };

  // -- entries ------------------------------------------------------------------------------
  const list = el("ol", { class: "queue entries", "aria-label": `Tracks of ${p.name}` });
  const status = el("p", { class: "sr-only", "aria-live": "polite" });
  const playable = () => p.entries.filter((e) => e.available).map((e) => e.track);
  let dragged = -1;
  let focusAfter = null;

  const move = async (from, to) => {
    if (to < 0 || to >= p.entries.length || from === to) return;
    const e = p.entries[from];
    try {
      await api(`api/v1/playlists/${id}/entries/${e.entry_id}/move`, { method: "POST", body: { position: to } });
      p.entries.splice(from, 1);
      p.entries.splice(to, 0, e);
      status.textContent = `${e.track?.title ?? "Entry"} moved to position ${to + 1} of ${p.entries.length}.`;
      draw();
    } catch (err) { report(err); focusAfter = null; }
  };
  const remove = async (i) => {
    const e = p.entries[i];
    try {
      await api(`api/v1/playlists/${id}/entries/${e.entry_id}`, { method: "DELETE" });
      p.entries.splice(i, 1);
      p.entry_count--;
      notify(`“${e.track?.title ?? "Unavailable track"}” removed from ${p.name}.`, "ok");
      drawHead();
      draw();
    } catch (err) { report(err); focusAfter = null; }
  };

  const row = (e, i) => {
    const t = e.track;
    const title = t?.title ?? "Unavailable track";
    const li = el("li", { "data-entry": e.entry_id, "data-track": e.track_id, draggable: canEdit ? "true" : false, class: e.available ? "" : "gone" },
      canEdit ? el("span", { class: "grip", "aria-hidden": "true", title: "Drag to move" }, "⋮⋮") : el("span", { class: "muted num" }, String(i + 1)),
      el("div", { class: "q-main" },
        t ? el("button", { type: "button", class: "linklike track-title", "aria-label": `Play ${title}`,
          onclick: () => ctx.player.playList(playable(), playable().indexOf(t)) }, title) : el("span", { class: "track-title muted" }, title),
        t ? el("span", { class: "muted sub" }, artistLinks(t), " · ", link(`/albums/${t.album_id}`, t.album || "Unknown album")) : null),
      el("span", { class: "muted num" }, t ? duration(t.duration_secs) : ""),
      el("span", { class: "actions" },
        t && extras ? extras(t) : null,
        canEdit ? [
          iconButton("up", `Move ${title} up`, () => { focusAfter = [i - 1, "up"]; move(i, i - 1); }, { disabled: i === 0 }),
          iconButton("down", `Move ${title} down`, () => { focusAfter = [i + 1, "down"]; move(i, i + 1); }, { disabled: i === p.entries.length - 1 }),
          iconButton("remove", `Remove ${title} from the playlist`, () => { focusAfter = [Math.min(i, p.entries.length - 2), "remove"]; remove(i); }),
        ] : null));
    if (canEdit) {
      li.addEventListener("dragstart", (ev) => { dragged = i; ev.dataTransfer.effectAllowed = "move"; ev.dataTransfer.setData("text/plain", e.entry_id); li.classList.add("dragging"); });
      li.addEventListener("dragend", () => li.classList.remove("dragging"));
      li.addEventListener("dragover", (ev) => { ev.preventDefault(); li.classList.add("over"); });
      li.addEventListener("dragleave", () => li.classList.remove("over"));
      li.addEventListener("drop", (ev) => { ev.preventDefault(); li.classList.remove("over"); if (dragged >= 0) move(dragged, i); dragged = -1; });
    }
    return li;
  };
  // A long playlist is drawn a screenful first and the rest a frame later, so the page shows
  // at once; a keyboard move draws everything, to put focus back on the moved entry.
  let drawing = 0;
  const draw = () => {
    const now = focusAfter ? p.entries.length : FIRST_ROWS;
    list.replaceChildren(...p.entries.slice(0, now).map(row));
    const gen = ++drawing;
    const rest = (from) => {
      if (gen !== drawing || from >= p.entries.length) return;
      list.append(...p.entries.slice(from, from + FIRST_ROWS).map((e, k) => row(e, from + k)));
      requestAnimationFrame(() => rest(from + FIRST_ROWS));
    };
    requestAnimationFrame(() => requestAnimationFrame(() => rest(now)));
    empty.hidden = p.entries.length > 0;
    // Keep keyboard focus on the entry that moved, so repeated presses keep moving it.
    if (focusAfter) {
      const [i, kind] = focusAfter;
      focusAfter = null;
      const target = list.children[i];
      const sel = { up: "button[aria-label^='Move'][aria-label$=' up']", down: "button[aria-label$=' down']", remove: "button[aria-label^='Remove']" }[kind];
      (target?.querySelector(`${sel}:not([disabled])`) || target?.querySelector("button"))?.focus();
    }
  };
  const empty = el("p", { class: "muted" }, canEdit
    ? "No tracks yet. Use “Add to playlist” on an album or a track to add some."
    : "This playlist is empty.");

  // -- toolbar --------------------------------------------------------------------------------
  const tools = el("div", { class: "toolbar" },
    el("button", { type: "button", onclick: () => ctx.player.playList(playable()) }, "Play"),
    el("button", { type: "button", class: "secondary", onclick: () => { ctx.player.enqueue(playable()); notify(`${p.name} added to the queue.`, "ok"); } }, "Add to queue"),
    !owner ? toggle({
      pressed: p.following,
      text: (on) => on ? "Following" : "Follow",
      label: (on) => on ? `Unfollow ${p.name}` : `Follow ${p.name}`,
      change: async (on) => {
        const r = await api(`api/v1/playlists/${id}/follow`, { method: on ? "PUT" : "DELETE" });
        p.following = r.following ?? on;
        p.follower_count = r.follower_count ?? p.follower_count;
        drawHead();
        return p.following;
      },
    }) : null);

  // -- details (owner) --------------------------------------------------------------------------
  let details = null;
  if (owner) {
    const name = el("input", { name: "name", required: true, maxlength: 200, value: p.name });
    const description = el("textarea", { name: "description", rows: 3, maxlength: 2000 }, p.description);
    const pub = el("input", { type: "checkbox", name: "public", checked: p.public });
    const collab = el("input", { type: "checkbox", name: "collaborative", checked: p.collaborative });
    const error = el("p", { class: "error-text", role: "alert" });
    const form = el("form", { class: "stack", "aria-label": "Playlist details" },
      el("label", {}, "Name", name), el("label", {}, "Description", description),
      p.artist_id ? null : el("label", { class: "check" }, pub, "Public"),
      p.artist_id ? null : el("label", { class: "check" }, collab, "Collaborative"),
      error,
      el("div", { class: "toolbar" }, el("button", { type: "submit" }, "Save"),
        el("button", { type: "button", class: "secondary danger", onclick: del }, "Delete playlist")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.textContent = "";
      try {
        const body = { name: name.value.trim(), description: description.value.trim() };
        if (!p.artist_id) Object.assign(body, { public: pub.checked, collaborative: collab.checked });
        const r = await api(`api/v1/playlists/${id}`, { method: "PATCH", body });
        Object.assign(p, r);
        drawHead();
        notify("Playlist saved.", "ok");
      } catch (err) { error.textContent = err.message; }
    });
    details = el("details", { class: "card" }, el("summary", {}, "Edit details"), form);
  }
  async function del() {
    if (!confirm(`Delete the playlist “${p.name}”? This cannot be undone.`)) return;
    try {
      await api(`api/v1/playlists/${id}`, { method: "DELETE" });
      notify(`“${p.name}” deleted.`, "ok");
      ctx.go("/playlists");
    } catch (err) { report(err); }
  }

  const collaborators = owner || p.collaborators.length ? await collaboratorsSection(ctx, p, owner) : null;

  ctx.page(p.name,
    el("p", {}, "By ", ownerUser ? link(`/users/${p.owner_id}`, userName(ownerUser)) : "someone",
      p.artist_id ? [" for ", link(`/artists/${p.artist_id}`, "the artist's page")] : null),
    desc, facts, tools, details,
    el("section", { "aria-labelledby": "entries-h" },
      el("h2", { id: "entries-h" }, "Tracks"),
      canEdit && p.entries.length > 1 ? el("p", { class: "muted hint" }, "Drag a track, or use its arrow buttons, to change the order.") : null,
      list, empty, status),
    collaborators);
  drawHead();
  draw();
}

async function collaboratorsSection(ctx, p, owner) {
  const list = el("ul", { class: "rows", role: "list" });
  const people = new Map();
  const who = async (uid) => {
    if (!people.has(uid)) people.set(uid, await api(`api/v1/users/${uid}`).catch(() => ({ id: uid, username: uid })));
    return people.get(uid);
  };
  const draw = async () => {
    const users = await Promise.all(p.collaborators.map(who));
    list.replaceChildren(...users.map((u) => el("li", { class: "row-actions" },
      link(`/users/${u.id}`, userName(u)),
      owner ? el("button", { type: "button", class: "secondary", "aria-label": `Remove ${userName(u)} as a collaborator`, onclick: async () => {
        try {
          await api(`api/v1/playlists/${p.id}/collaborators/${u.id}`, { method: "DELETE" });
          p.collaborators = p.collaborators.filter((x) => x !== u.id);
          draw();
        } catch (err) { report(err); }
      } }, "Remove") : null)));
    if (!users.length) list.append(el("li", { class: "muted" }, "No collaborators yet."));
  };
  await draw();
  let form = null;
  if (owner) {
    const following = await api(`api/v1/users/${ctx.me.id}/following?limit=500`).then((f) => f.users).catch(() => []);
    const input = el("input", { name: "user", list: "collab-people", required: true, autocomplete: "off" });
    const options = el("datalist", { id: "collab-people" }, ...following.map((u) => el("option", { value: u.username }, userName(u))));
    const error = el("p", { class: "error-text", role: "alert" });
    form = el("form", { class: "stack", "aria-label": "Invite a collaborator" },
      el("label", {}, "Invite by username", input), options, error,
      el("div", {}, el("button", { type: "submit" }, "Invite")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.textContent = "";
      const v = input.value.trim();
      try {
        // A username (or an account id) names the account.
        const user = await api(`api/v1/users/${encodeURIComponent(v)}`).catch((err) => {
          throw err.status === 404 ? new Error(`There is no account “${v}”.`) : err;
        });
        const uid = user.id;
        people.set(uid, user);
        await api(`api/v1/playlists/${p.id}/collaborators/${encodeURIComponent(uid)}`, { method: "PUT" });
        if (!p.collaborators.includes(uid)) p.collaborators.push(uid);
        input.value = "";
        await draw();
        notify("Collaborator invited.", "ok");
      } catch (err) { error.textContent = err.message; }
    });
  }
  return el("section", { "aria-labelledby": "collab-h" }, el("h2", { id: "collab-h" }, "Collaborators"),
    el("p", { class: "muted", id: "collab-note", hidden: p.collaborative }, "This playlist is not collaborative: collaborators cannot change it until it is."),
    list, form);
}
