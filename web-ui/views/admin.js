// Administration: users and roles, invitations, the library scan with live progress, and the
// server's status. Tabs are sub-paths: /admin, /admin/library, /admin/server.

import { api } from "../api.js";
import { el, notify, report, plural, failed } from "../ui.js";

const TABS = [["", "Users"], ["library", "Library"], ["server", "Server"]];

export async function render(ctx) {
  const tab = ctx.params.tab || "";
  const tabs = el("nav", { class: "tabs", "aria-label": "Administration" },
    ...TABS.map(([t, label]) => el("a", { href: t ? `admin/${t}` : "admin", "aria-current": t === tab ? "page" : false }, label)));
  if (tab === "library") return library(ctx, tabs);
  if (tab === "server") return server(ctx, tabs);
  if (tab) return ctx.page("Not found", tabs);
  return users(ctx, tabs);
}

const ROLES = ["listener", "artist", "admin"];

async function users(ctx, tabs) {
  const [list, invites] = await Promise.all([
    api("api/v1/admin/users?limit=500", { signal: ctx.signal }),
    api("api/v1/admin/invites", { signal: ctx.signal }).catch(() => []),
  ]);
  const rows = list.items.map((u) => {
    const role = el("select", { "aria-label": `Role of ${u.username}` },
      ...ROLES.map((r) => el("option", { value: r, selected: r === u.role }, r)));
    role.addEventListener("change", async () => {
      try {
        await api(`api/v1/admin/users/${u.id}`, { method: "PATCH", body: { role: role.value } });
        u.role = role.value;
        notify(`${u.username} is now ${role.value}.`, "ok");
      } catch (err) { role.value = u.role; report(err); }
    });
    const toggle = el("button", { type: "button", class: "secondary" }, u.disabled ? "Enable" : "Disable");
    toggle.addEventListener("click", async () => {
      try { await api(`api/v1/admin/users/${u.id}`, { method: "PATCH", body: { disabled: !u.disabled } }); notify(`${u.username} ${u.disabled ? "enabled" : "disabled"}.`, "ok"); render(ctx); }
      catch (err) { report(err); }
    });
    const del = el("button", { type: "button", class: "secondary danger" }, "Delete");
    del.addEventListener("click", async () => {
      if (!confirm(`Delete ${u.username}? This cannot be undone.`)) return;
      try { await api(`api/v1/admin/users/${u.id}`, { method: "DELETE" }); notify(`${u.username} deleted.`, "ok"); render(ctx); }
      catch (err) { report(err); }
    });
    return el("tr", {},
      el("th", { scope: "row" }, u.username, u.display_name !== u.username ? el("span", { class: "muted sub" }, u.display_name) : null),
      el("td", {}, role),
      el("td", { class: "col-state" }, u.disabled ? "disabled" : "enabled"),
      el("td", { class: "actions" }, toggle, del));
  });

  const create = el("form", { class: "stack", "aria-label": "New account" },
    el("label", {}, "Username", el("input", { name: "username", required: true, minlength: 3, maxlength: 32, autocomplete: "off" })),
    el("label", {}, "Password", el("input", { name: "password", type: "password", required: true, minlength: 8, autocomplete: "new-password" })),
    el("label", {}, "Role", el("select", { name: "role" }, ...ROLES.map((r) => el("option", { value: r }, r)))),
    el("button", { type: "submit" }, "Create account"));
  create.addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await api("api/v1/admin/users", { method: "POST", body: Object.fromEntries(new FormData(create)) }); notify("Account created.", "ok"); render(ctx); }
    catch (err) { report(err); }
  });

  const inviteRole = el("select", { "aria-label": "Role for the invitation" }, ...ROLES.map((r) => el("option", { value: r }, r)));
  const invite = el("button", { type: "button", class: "secondary" }, "Make an invitation code");
  invite.addEventListener("click", async () => {
    try { const i = await api("api/v1/admin/invites", { method: "POST", body: { role: inviteRole.value } }); notify(`Invitation code: ${i.code}`, "ok"); render(ctx); }
    catch (err) { report(err); }
  });
  const openInvites = invites.filter((i) => !i.used_by);

  ctx.page("Admin", tabs,
    el("section", { "aria-labelledby": "users-h" },
      el("h2", { id: "users-h" }, "Users ", el("span", { class: "muted count" }, String(list.total))),
      el("div", { class: "card scroll-x" }, el("table", { class: "users" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "User"), el("th", { scope: "col" }, "Role"),
          el("th", { scope: "col", class: "col-state" }, "State"), el("th", { scope: "col" }, el("span", { class: "sr-only" }, "Actions")))),
        el("tbody", {}, rows)))),
    el("div", { class: "two" },
      el("section", { class: "card", "aria-labelledby": "new-h" }, el("h2", { id: "new-h" }, "New account"), create),
      el("section", { class: "card", "aria-labelledby": "inv-h" }, el("h2", { id: "inv-h" }, "Invitations"),
        el("p", { class: "muted" }, `Registration is ${ctx.server.registration}.`),
        el("div", { class: "toolbar" }, inviteRole, invite),
        openInvites.length ? el("ul", { class: "rows" }, ...openInvites.map((i) => el("li", {}, el("code", {}, i.code), ` ${i.role}, until ${new Date(i.expires_at).toLocaleDateString()}`))) : null)));
}

async function library(ctx, tabs) {
  const bar = el("progress", { max: 1, value: 0, "aria-label": "Scan progress" });
  const state = el("p", { "aria-live": "polite" });
  const counts = el("dl", { class: "facts" });
  const failures = el("div");
  const start = (full) => async () => {
    try { await api("api/v1/library/scan", { method: "POST", body: { full } }); notify(full ? "Full scan started." : "Scan started.", "ok"); poll(); }
    catch (err) { report(err); }
  };
  const scan = el("button", { type: "button", onclick: start(false) }, "Scan for changes");
  const full = el("button", { type: "button", class: "secondary", onclick: start(true) }, "Full scan");
  let timer = 0;
  ctx.signal.addEventListener("abort", () => clearTimeout(timer));
  const show = (s) => {
    const running = s.state === "running";
    scan.disabled = full.disabled = running;
    bar.max = Math.max(1, s.files_total);
    bar.value = running ? s.files_seen : s.files_total ? s.files_total : 1;
    state.textContent = running
      ? `Scanning${s.full ? " (full)" : ""}: ${s.files_seen.toLocaleString()} of ${s.files_total.toLocaleString()} files, ${Math.round(s.files_per_sec)} per second.`
      : s.finished_at ? `Last scan finished ${new Date(s.finished_at).toLocaleString()}.` : "No scan has run yet.";
    const fact = (k, v) => [el("dt", {}, k), el("dd", {}, v.toLocaleString())];
    counts.replaceChildren(...fact("Files", s.files_total), ...fact("Added", s.added), ...fact("Updated", s.updated),
      ...fact("Moved", s.moved), ...fact("Removed", s.removed), ...fact("Skipped", s.failed));
    failures.replaceChildren(s.failures.length ? el("details", {}, el("summary", {}, `${plural(s.failures.length, "skipped file")}`),
      el("ul", { class: "rows" }, ...s.failures.map((f) => el("li", {}, el("code", {}, f.path), ` ${f.reason}`)))) : "");
    return running;
  };
  const poll = async () => {
    clearTimeout(timer);
    try {
      const s = await api("api/v1/library/scan", { signal: ctx.signal });
      if (show(s)) timer = setTimeout(poll, 1000);
    } catch (err) { report(err); }
  };
  show(await api("api/v1/library/scan", { signal: ctx.signal }));
  ctx.page("Admin", tabs,
    el("section", { class: "card", "aria-labelledby": "scan-h" }, el("h2", { id: "scan-h" }, "Library scan"),
      state, bar, counts, el("div", { class: "toolbar" }, scan, full), failures),
    el("section", { class: "card", "aria-labelledby": "folders-h" }, el("h2", { id: "folders-h" }, "Media folders"),
      el("p", { class: "muted" }, "Media folders are set in the server's configuration (library.folders, or --media). New and changed files there are picked up by the watcher; a scan catches up on anything it missed.")));
  if (scan.disabled) poll();
}

async function server(ctx, tabs) {
  const [health, artists, albums, tracks, genres, scan] = await Promise.all([
    api("healthz", { auth: false, signal: ctx.signal }).catch((e) => e),
    api("api/v1/artists?limit=1", { signal: ctx.signal }),
    api("api/v1/albums?limit=1", { signal: ctx.signal }),
    api("api/v1/tracks?limit=1", { signal: ctx.signal }),
    api("api/v1/genres", { signal: ctx.signal }),
    api("api/v1/library/scan", { signal: ctx.signal }),
  ]);
  const s = ctx.server;
  const fact = (k, v) => [el("dt", {}, k), el("dd", {}, v)];
  ctx.page("Admin", tabs,
    el("section", { class: "card", "aria-labelledby": "srv-h" }, el("h2", { id: "srv-h" }, "Server"),
      el("dl", { class: "facts" },
        ...fact("Status", health instanceof Error ? failed(health) : health.status === "ok" ? "Running" : health.status),
        ...fact("Version", `${s.name} ${s.version}`),
        ...fact("Registration", s.registration),
        ...fact("Anonymous access", s.public_access ? "allowed" : "off"),
        ...fact("Library", `${plural(artists.total, "artist")}, ${plural(albums.total, "album")}, ${plural(tracks.total, "track")}, ${plural(genres.length, "genre")}`),
        ...fact("Scan", scan.state === "running" ? `running (${scan.files_seen} of ${scan.files_total})` : scan.finished_at ? `last finished ${new Date(scan.finished_at).toLocaleString()}` : "none yet"))),
    el("p", {}, el("a", { href: "api/schema/swagger-ui/", target: "_blank" }, "API explorer")));
}
