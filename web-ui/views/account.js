// The account: profile, avatar, password, playback settings (stream quality on this device,
// loudness normalisation, and the account's bitrate limit kept on the server), and app
// passwords for mobile players (the Subsonic API at /rest).

import { api, blob } from "../api.js";
import { el, notify, report } from "../ui.js";
import { playback } from "../player.js";

export async function render(ctx) {
  let me = ctx.me;
  const settings = await api("api/v1/me/settings", { signal: ctx.signal });

  const profile = el("form", { "aria-label": "Profile", class: "stack" },
    el("label", {}, "Display name", el("input", { name: "display_name", value: me.display_name, required: true, maxlength: 64 })),
    el("label", {}, "Bio", el("textarea", { name: "bio", maxlength: 2000, rows: 4 }, me.bio)),
    el("button", { type: "submit" }, "Save profile"));
  profile.addEventListener("submit", async (e) => {
    e.preventDefault();
    try { me = await api("api/v1/me", { method: "PATCH", body: Object.fromEntries(new FormData(profile)) }); ctx.setMe(me); notify("Profile saved.", "ok"); }
    catch (err) { report(err); }
  });

  const img = el("img", { class: "avatar", alt: "", width: 96, height: 96 });
  const showAvatar = () => {
    if (me.avatar_url) blob(me.avatar_url).then((b) => { img.src = URL.createObjectURL(b); img.alt = "Your avatar"; }, report);
  };
  showAvatar();
  const file = el("input", { type: "file", accept: "image/png,image/jpeg,image/webp,image/gif", id: "avatar-file" });
  file.addEventListener("change", async () => {
    if (!file.files[0]) return;
    try { me = await api("api/v1/me/avatar", { method: "PUT", raw: file.files[0] }); ctx.setMe(me); showAvatar(); notify("Avatar updated.", "ok"); }
    catch (err) { report(err); }
  });

  const pw = el("form", { "aria-label": "Change password", class: "stack" },
    el("input", { type: "text", name: "username", autocomplete: "username", value: me.username, hidden: true }),
    el("label", {}, "Current password", el("input", { name: "current_password", type: "password", autocomplete: "current-password", required: true })),
    el("label", {}, "New password", el("input", { name: "new_password", type: "password", autocomplete: "new-password", required: true, minlength: 8 })),
    el("button", { type: "submit" }, "Change password"));
  pw.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = Object.fromEntries(new FormData(pw));
    delete body.username;
    try { await api("api/v1/me/password", { method: "PUT", body }); pw.reset(); notify("Password changed; your other sessions were signed out.", "ok"); }
    catch (err) { report(err); }
  });

  const local = playback.get();
  const quality = el("select", { name: "quality", id: "quality" },
    ...[["auto", "Automatic: smaller streams on mobile data"], ["original", "Original files"], ["high", "High (Opus 160 kbps)"],
      ["mobile", "Mobile (Opus 96 kbps)"], ["low", "Low (Opus 48 kbps)"]]
      .map(([v, label]) => el("option", { value: v, selected: v === local.quality }, label)));
  quality.addEventListener("change", () => { playback.set({ quality: quality.value }); notify("Stream quality saved on this device; it applies from the next track.", "ok"); });
  const normalize = el("input", { type: "checkbox", id: "normalize", checked: local.normalize });
  normalize.addEventListener("change", () => { playback.set({ normalize: normalize.checked }); notify("Saved on this device.", "ok"); });
  const cap = el("select", { id: "max-bitrate" },
    ...[[null, "No limit"], [320, "320 kbps"], [192, "192 kbps"], [128, "128 kbps"], [96, "96 kbps"], [64, "64 kbps"]]
      .map(([v, label]) => el("option", { value: v ?? "", selected: (settings.max_bitrate_kbps ?? null) === v }, label)));
  cap.addEventListener("change", async () => {
    try {
      await api("api/v1/me/settings", { method: "PUT", body: { max_bitrate_kbps: cap.value ? Number(cap.value) : null } });
      notify("Bitrate limit saved for your account.", "ok");
    } catch (err) { report(err); }
  });

  // App passwords: one per player; the secret is shown once, right after it is made.
  const players = el("ul", { class: "stack", "aria-label": "App passwords" });
  const shown = el("p", { class: "muted", "aria-live": "polite" });
  const listPlayers = async () => {
    const { items } = await api("api/v1/me/app-passwords", { signal: ctx.signal });
    players.replaceChildren(...(items.length ? items.map((p) => {
      const revoke = el("button", { type: "button" }, "Revoke");
      revoke.addEventListener("click", async () => {
        try { await api(`api/v1/me/app-passwords/${p.id}`, { method: "DELETE" }); notify(`"${p.name}" revoked.`, "ok"); await listPlayers(); }
        catch (err) { report(err); }
      });
      return el("li", {}, `${p.name} (made ${new Date(p.created_at).toLocaleDateString()}) `, revoke);
    }) : [el("li", { class: "muted" }, "No app passwords yet.")]));
  };
  await listPlayers();
  const newPlayer = el("form", { "aria-label": "New app password", class: "stack" },
    el("label", {}, "Player name", el("input", { name: "name", required: true, maxlength: 64, placeholder: "Phone (Symfonium)" })),
    el("button", { type: "submit" }, "Make an app password"));
  newPlayer.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const made = await api("api/v1/me/app-passwords", { method: "POST", body: Object.fromEntries(new FormData(newPlayer)) });
      newPlayer.reset();
      shown.replaceChildren("In the player, use the server address, username ", el("strong", {}, made.username),
        " and password ", el("code", { class: "secret" }, made.password), ". It is shown only now.");
      await listPlayers();
    } catch (err) { report(err); }
  });

  ctx.page("Account",
    el("p", { class: "muted" }, `Signed in as ${me.username} (${me.role}).`),
    el("section", { class: "card", "aria-labelledby": "pb-h" }, el("h2", { id: "pb-h" }, "Playback"),
      el("div", { class: "stack" },
        el("label", {}, "Stream quality on this device", quality),
        el("label", {}, "Highest bitrate for your account (every device)", cap),
        el("label", { class: "check" }, normalize, " Even out loudness between tracks (ReplayGain)"))),
    el("section", { class: "card", "aria-labelledby": "profile-h" }, el("h2", { id: "profile-h" }, "Profile"),
      el("div", { class: "avatar-row" }, img, el("label", { for: "avatar-file" }, "Change avatar", file)), profile),
    el("section", { class: "card", "aria-labelledby": "pw-h" }, el("h2", { id: "pw-h" }, "Password"), pw),
    el("section", { class: "card", "aria-labelledby": "players-h" }, el("h2", { id: "players-h" }, "Mobile players"),
      el("p", { class: "muted" }, "Subsonic apps (DSub, Symfonium, Ultrasonic, Tempo, Feishin, ...) sign in with an app password, never your main password."),
      players, newPlayer, shown),
    el("p", {}, el("a", { href: "api/schema/swagger-ui/", target: "_blank" }, "API explorer")));
}
