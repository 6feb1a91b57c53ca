// musewave web app: a small router over the REST API. Tokens live in localStorage; an
// expired access token is refreshed once, and a failed refresh returns to sign-in while
// remembering the page the user was on.

const main = document.getElementById("main");
const notice = document.getElementById("notice");
const store = {
  get access() { return localStorage.getItem("mw.access"); },
  get refresh() { return localStorage.getItem("mw.refresh"); },
  save(t) {
    localStorage.setItem("mw.access", t.access_token);
    localStorage.setItem("mw.refresh", t.refresh_token);
  },
  clear() { localStorage.removeItem("mw.access"); localStorage.removeItem("mw.refresh"); },
};
let me = null;

function show(message, ok = false) {
  notice.textContent = message;
  notice.className = ok ? "ok" : "";
  notice.hidden = !message;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.flat());
  return node;
}

async function refreshTokens() {
  if (!store.refresh) return false;
  const res = await fetch("/api/v1/auth/refresh", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: store.refresh }),
  });
  if (!res.ok) { store.clear(); return false; }
  store.save(await res.json());
  return true;
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `request failed (${status})`);
    this.status = status;
  }
}

async function api(path, { method = "GET", body, raw, retry = true } = {}) {
  const headers = {};
  if (store.access) headers.authorization = `Bearer ${store.access}`;
  let payload;
  if (raw) { payload = raw; headers["content-type"] = raw.type || "application/octet-stream"; }
  else if (body !== undefined) { payload = JSON.stringify(body); headers["content-type"] = "application/json"; }
  const res = await fetch(path, { method, headers, body: payload });
  if (res.status === 401 && retry && store.refresh && await refreshTokens()) {
    return api(path, { method, body, raw, retry: false });
  }
  if (res.status === 401 && path !== "/api/v1/auth/login") {
    store.clear();
    sessionStorage.setItem("mw.return", location.pathname);
    go("/signin");
    throw new ApiError(401, { error: { message: "Your session has ended; please sign in again." } });
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function go(path) {
  if (location.pathname !== path) history.pushState({}, "", path);
  render();
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[href^='/']");
  if (a && !e.metaKey && !e.ctrlKey) { e.preventDefault(); go(a.getAttribute("href")); }
});
window.addEventListener("popstate", render);
document.getElementById("logout").addEventListener("click", async () => {
  try { await api("/api/v1/auth/logout", { method: "POST" }); } catch { /* signed out anyway */ }
  store.clear(); me = null; go("/signin");
});

function page(title, ...content) {
  document.title = `${title} · musewave`;
  main.replaceChildren(el("h1", {}, title), ...content);
  main.focus();
}

function signinView(info) {
  const form = el("form", { "aria-label": "Sign in" },
    el("label", {}, "Username", el("input", { name: "username", autocomplete: "username", required: true })),
    el("label", {}, "Password", el("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    el("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    try {
      store.save(await api("/api/v1/auth/login", { method: "POST", body: { username: f.get("username"), password: f.get("password") } }));
      show("");
      const back = sessionStorage.getItem("mw.return") || "/";
      sessionStorage.removeItem("mw.return");
      go(back === "/signin" ? "/" : back);
    } catch (err) { show(err.message); }
  });
  const extra = info.registration !== "closed" ? el("p", {}, "No account? ", el("a", { href: "/register" }, "Register")) : "";
  page("Sign in", el("div", { class: "card" }, form, extra));
}

function registerView(info) {
  const fields = [
    el("label", {}, "Username", el("input", { name: "username", autocomplete: "username", required: true, minlength: 3, maxlength: 32 })),
    el("label", {}, "Password", el("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 8 })),
  ];
  if (info.registration === "invite") fields.push(el("label", {}, "Invite code", el("input", { name: "invite_code", required: true })));
  const form = el("form", { "aria-label": "Register" }, ...fields, el("button", { type: "submit" }, "Create account"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(form));
    try {
      await api("/api/v1/auth/register", { method: "POST", body: f });
      store.save(await api("/api/v1/auth/login", { method: "POST", body: { username: f.username, password: f.password } }));
      go("/");
    } catch (err) { show(err.message); }
  });
  page("Register", el("div", { class: "card" }, form));
}

function homeView() {
  page(`Hello, ${me.display_name}`,
    el("p", { class: "muted" }, "Signed in as ", me.username, " (", me.role, ")."),
    el("p", {}, el("a", { href: "/api/schema/swagger-ui/" }, "API explorer")));
}

function accountView() {
  const profile = el("form", { "aria-label": "Profile" },
    el("label", {}, "Display name", el("input", { name: "display_name", value: me.display_name, required: true, maxlength: 64 })),
    el("label", {}, "Bio", el("textarea", { name: "bio", maxlength: 2000, rows: 4 }, me.bio)),
    el("button", { type: "submit" }, "Save profile"));
  profile.addEventListener("submit", async (e) => {
    e.preventDefault();
    try { me = await api("/api/v1/me", { method: "PATCH", body: Object.fromEntries(new FormData(profile)) }); show("Profile saved.", true); }
    catch (err) { show(err.message); }
  });
  const img = el("img", { class: "avatar", alt: "Your avatar" });
  if (me.avatar_url) loadImage(img, me.avatar_url);
  const file = el("input", { type: "file", accept: "image/png,image/jpeg,image/webp,image/gif", "aria-label": "Choose an avatar image" });
  file.addEventListener("change", async () => {
    if (!file.files[0]) return;
    try { me = await api("/api/v1/me/avatar", { method: "PUT", raw: file.files[0] }); loadImage(img, me.avatar_url); show("Avatar updated.", true); }
    catch (err) { show(err.message); }
  });
  const pw = el("form", { "aria-label": "Change password" },
    el("label", {}, "Current password", el("input", { name: "current_password", type: "password", autocomplete: "current-password", required: true })),
    el("label", {}, "New password", el("input", { name: "new_password", type: "password", autocomplete: "new-password", required: true, minlength: 8 })),
    el("button", { type: "submit" }, "Change password"));
  pw.addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await api("/api/v1/me/password", { method: "PUT", body: Object.fromEntries(new FormData(pw)) }); pw.reset(); show("Password changed; other sessions were signed out.", true); }
    catch (err) { show(err.message); }
  });
  page("Account",
    el("section", { class: "card", "aria-label": "Avatar" }, img, el("p", {}, file)),
    el("section", { class: "card" }, el("h2", {}, "Profile"), profile),
    el("section", { class: "card" }, el("h2", {}, "Password"), pw));
}

async function loadImage(img, url) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${store.access}` } });
  if (res.ok) img.src = URL.createObjectURL(await res.blob());
}

async function adminView() {
  const list = await api("/api/v1/admin/users?limit=500");
  const rows = list.items.map((u) => {
    const role = el("select", { "aria-label": `Role of ${u.username}` },
      ...["listener", "artist", "admin"].map((r) => el("option", { value: r, selected: r === u.role }, r)));
    role.addEventListener("change", async () => {
      try { await api(`/api/v1/admin/users/${u.id}`, { method: "PATCH", body: { role: role.value } }); show(`${u.username} is now ${role.value}.`, true); }
      catch (err) { role.value = u.role; show(err.message); }
    });
    const toggle = el("button", { type: "button", class: "secondary" }, u.disabled ? "Enable" : "Disable");
    toggle.addEventListener("click", async () => {
      try { await api(`/api/v1/admin/users/${u.id}`, { method: "PATCH", body: { disabled: !u.disabled } }); adminView(); }
      catch (err) { show(err.message); }
    });
    return el("tr", {}, el("td", {}, u.username), el("td", {}, role), el("td", {}, u.disabled ? "disabled" : "enabled"), el("td", {}, toggle));
  });
  page("Users",
    el("p", { class: "muted" }, `${list.total} accounts`),
    el("div", { class: "card" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "User"), el("th", {}, "Role"), el("th", {}, "State"), el("th", {}, el("span", { class: "muted" }, "Action")))),
      el("tbody", {}, rows))));
}

async function render() {
  const info = await fetch("/api/v1/server").then((r) => r.json()).catch(() => ({ registration: "closed" }));
  const path = location.pathname;
  if (!store.access && !store.refresh) {
    me = null;
    document.getElementById("nav").hidden = true;
    if (path === "/register" && info.registration !== "closed") return registerView(info);
    if (path !== "/signin") { sessionStorage.setItem("mw.return", path); history.replaceState({}, "", "/signin"); }
    return signinView(info);
  }
  try {
    me = me || await api("/api/v1/me");
  } catch (err) {
    if (err.status !== 401) show(err.message);
    return;
  }
  document.getElementById("nav").hidden = false;
  document.getElementById("nav-admin").hidden = me.role !== "admin";
  try {
    if (path === "/account") return accountView();
    if (path === "/admin" && me.role === "admin") return await adminView();
    if (path === "/signin" || path === "/register") history.replaceState({}, "", "/");
    return homeView();
  } catch (err) { show(err.message); }
}

render();
