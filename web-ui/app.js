// musewave web app: routes on the path (relative to <base href>), one module per page, loaded
// when first visited. A page is `export async function render(ctx)`, where ctx has `params`
// (from the route), `query` (URLSearchParams), `main`, `player`, `me`, `signal` (aborted when
// the user leaves the page) and `page(title, ...nodes)` to show it. Adding a page is one line
// in `routes` below.

import { api, session, setSessionEndHandler, signOut } from "./api.js";
import { el, notify, report, nowPlaying } from "./ui.js";
import { Player, playerBar } from "./player.js";

const routes = [
  // [path pattern, module, nav entry, who may see it]
  ["/", () => import("./views/home.js"), "home"],
  ["/artists", () => import("./views/browse.js"), "artists"],
  ["/artists/:id", () => import("./views/artist.js"), "artists"],
  ["/albums", () => import("./views/browse.js"), "albums"],
  ["/albums/:id", () => import("./views/album.js"), "albums"],
  ["/genres", () => import("./views/browse.js"), "genres"],
  ["/tracks", () => import("./views/browse.js"), "tracks"],
  ["/search", () => import("./views/search.js"), "search"],
  ["/playlists", () => import("./views/playlists.js"), "playlists"],
  ["/playlists/:id", () => import("./views/playlist.js"), "playlists"],
  ["/liked", () => import("./views/liked.js"), "liked"],
  ["/history", () => import("./views/history.js"), "history"],
  ["/users/:id", () => import("./views/user.js"), "home"],
  ["/studio", () => import("./views/studio.js"), "studio", ["artist", "admin"]],
  ["/studio/albums/:id", () => import("./views/studio-album.js"), "studio", ["artist", "admin"]],
  ["/stats", () => import("./views/stats.js"), "stats", ["artist", "admin"]],
  ["/queue", () => import("./views/queue.js"), "queue"],
  ["/account", () => import("./views/account.js"), "account"],
  ["/admin", () => import("./views/admin.js"), "admin", ["admin"]],
  ["/admin/:tab", () => import("./views/admin.js"), "admin", ["admin"]],
].map(([pattern, load, nav, role]) => ({
  pattern, load, nav, role,
  regex: new RegExp(`^${pattern.replace(/:(\w+)/g, "(?<$1>[^/]+)")}/?$`),
}));
const publicRoutes = {
  "/signin": () => import("./views/auth.js"),
  "/register": () => import("./views/auth.js"),
};

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const basePath = new URL(document.baseURI).pathname; // "/" or "/prefix/"
export const player = new Player();
let me = null;
let server = null;
let leave = new AbortController();

/** The app path ("/albums/x") of the current location. */
function appPath() {
  const p = location.pathname.startsWith(basePath) ? location.pathname.slice(basePath.length - 1) : "/";
  return p.length > 1 ? p.replace(/\/$/, "") : "/";
}

/** Goes to an app path such as "/albums?sort=year". */
export function go(path, { replace = false } = {}) {
  const url = basePath + path.replace(/^\//, "");
  if (url !== location.pathname + location.search) history[replace ? "replaceState" : "pushState"]({}, "", url);
  render({ moved: !replace });
}

function returnAfterSignIn() {
  const back = sessionStorage.getItem("mw.return");
  sessionStorage.removeItem("mw.return");
  return back && !back.startsWith("/signin") && !back.startsWith("/register") ? back : "/";
}

setSessionEndHandler(() => {
  me = null;
  dispatchEvent(new Event("mw:signedout"));
  const here = appPath() + location.search;
  if (!here.startsWith("/signin")) sessionStorage.setItem("mw.return", here);
  notify("Your session has ended; please sign in again.");
  go("/signin", { replace: true });
});

document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, document.baseURI);
  if (url.origin !== location.origin || !url.pathname.startsWith(basePath)) return;
  const path = url.pathname.slice(basePath.length - 1);
  if (path.startsWith("/api/") || url.hash && url.pathname === location.pathname) return;
  e.preventDefault();
  go(path + url.search);
});
addEventListener("popstate", () => render());
player.addEventListener("track", () => { nowPlaying.id = player.current?.id ?? null; nowPlaying.mark(); });
nowPlaying.id = player.current?.id ?? null;

document.getElementById("logout").addEventListener("click", async () => {
  player.audio.pause();
  await signOut();
  me = null;
  dispatchEvent(new Event("mw:signedout"));
  go("/signin");
});
document.querySelector("#notice button").addEventListener("click", () => { document.getElementById("notice").hidden = true; });

function page(title, ...content) {
  document.title = `${title} · musewave`;
  // Pages leave out what does not apply with null or false.
  main.replaceChildren(el("h1", {}, title), ...content.filter((c) => c !== null && c !== undefined && c !== false));
}

let renderCount = 0;
async function render({ moved = false } = {}) {
  leave.abort();
  leave = new AbortController();
  const signal = leave.signal;
  const ticket = ++renderCount;
  const started = performance.now();
  const path = appPath();
  const query = new URLSearchParams(location.search);
  main.setAttribute("aria-busy", "true");
  try {
    server ??= await api("api/v1/server", { auth: false }).catch(() => ({ registration: "closed" }));
    if (!session.signedIn || publicRoutes[path]) {
      if (session.signedIn && publicRoutes[path]) return go(returnAfterSignIn(), { replace: true });
      if (!publicRoutes[path]) {
        sessionStorage.setItem("mw.return", path + location.search);
        history.replaceState({}, "", basePath + "signin");
      }
      me = null;
      showChrome(false);
      const view = await publicRoutes[appPath()]();
      if (ticket !== renderCount) return;
      await view.render({
        path: appPath(), query, main, server, signal, page,
        done: () => go(returnAfterSignIn()),
        back: returnAfterSignIn,
      });
      return;
    }
    me ??= await api("api/v1/me", { signal });
    if (ticket !== renderCount) return;
    showChrome(true, path);
    const route = routes.find((r) => r.regex.test(path));
    if (!route || (route.role && !route.role.includes(me.role))) {
      page("Not found", el("p", {}, "There is no such page. ", el("a", { href: "./" }, "Go home"), "."));
      return;
    }
    const view = await route.load();
    if (ticket !== renderCount) return;
    await view.render({
      path, params: route.regex.exec(path).groups || {}, query, main, player, me, server, signal, page, go,
      setMe: (m) => { me = m; },
    });
  } catch (err) {
    if (err.name === "AbortError" || ticket !== renderCount) return;
    if (err.status !== 401) page("Something went wrong", el("p", { class: "error-text", role: "alert" }, err.message));
  } finally {
    if (ticket === renderCount) {
      main.setAttribute("aria-busy", "false");
      nowPlaying.mark(main);
      // A new page: start at its top, and let screen readers start there too.
      if (moved) { scrollTo(0, 0); if (!main.contains(document.activeElement)) main.focus({ preventScroll: true }); }
      main.dataset.view = appPath();
      // A hook for measuring page switches (bench/webui.py).
      dispatchEvent(new CustomEvent("mw:rendered", { detail: { path: appPath(), ms: performance.now() - started } }));
    }
  }
}

function showChrome(signedIn, path = "") {
  document.body.classList.toggle("signed-out", !signedIn);
  nav.hidden = !signedIn;
  document.getElementById("search").hidden = !signedIn;
  document.getElementById("shortcuts-button").hidden = !signedIn;
  document.getElementById("player").hidden = !signedIn || !player.current;
  if (!signedIn) return;
  document.getElementById("nav-admin").hidden = me.role !== "admin";
  for (const a of nav.querySelectorAll(".for-artists")) a.hidden = me.role === "listener";
  const current = routes.find((r) => r.regex.test(path))?.nav;
  for (const a of nav.querySelectorAll("a[data-route]")) {
    if (a.dataset.route === current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!chromeReady) setUpChrome();
}

let chromeReady = false;
function setUpChrome() {
  chromeReady = true;
  playerBar(player, document.getElementById("player"));
  import("./social.js").then((m) => m.playerLike(player, document.getElementById("player"))).catch(() => {});
  player.resume();
  import("./search-box.js").then((m) => m.searchBox(document.getElementById("search"), go)).catch(report);
  const dialog = document.getElementById("shortcuts");
  document.getElementById("shortcuts-button").addEventListener("click", () => dialog.showModal());
  document.addEventListener("keydown", (e) => {
    if (!me || e.ctrlKey || e.metaKey || e.altKey || dialog.open) return;
    const t = e.target;
    if (t.closest?.("input, textarea, select, [contenteditable]")) return;
    const onControl = t.closest?.("button, a, summary, [role=option]");
    const keys = {
      " ": () => { if (!onControl) player.toggle(); else return false; },
      k: () => player.toggle(),
      n: () => player.next(),
      p: () => player.prev(),
      l: () => player.seek(player.time + 10),
      j: () => player.seek(player.time - 10),
      "+": () => player.setVolume(player.volume + 0.1),
      "=": () => player.setVolume(player.volume + 0.1),
      "-": () => player.setVolume(player.volume - 0.1),
      m: () => player.toggleMute(),
      s: () => player.toggleShuffle(),
      r: () => player.cycleRepeat(),
      q: () => go("/queue"),
      "/": () => document.getElementById("search-input").focus(),
      "?": () => dialog.showModal(),
    };
    const f = keys[e.key.length === 1 ? e.key.toLowerCase() : e.key];
    if (f && f() !== false) e.preventDefault();
  });
}

render();
