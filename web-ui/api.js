// The REST API: tokens, requests, errors. Every URL is relative to the page's <base href>, so
// the app works behind a reverse proxy that serves it under a prefix.
//
// Tokens live in localStorage. An expired access token is refreshed once; refresh tokens work
// once each, so concurrent requests share one refresh. When refreshing fails the session has
// ended: the app is told (onSessionEnd) and returns to sign-in, remembering the page.

const ACCESS = "mw.access";
const REFRESH = "mw.refresh";

export const session = {
  get access() { return localStorage.getItem(ACCESS); },
  get refresh() { return localStorage.getItem(REFRESH); },
  get signedIn() { return Boolean(this.access || this.refresh); },
  save(t) {
    localStorage.setItem(ACCESS, t.access_token);
    localStorage.setItem(REFRESH, t.refresh_token);
  },
  clear() { localStorage.removeItem(ACCESS); localStorage.removeItem(REFRESH); },
};

export class ApiError extends Error {
  constructor(status, body, fallback) {
    super(body?.error?.message || fallback || `The server answered ${status}.`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

let onSessionEnd = () => {};
/** Registers what happens when the session has ended (the app goes to sign-in). */
export function setSessionEndHandler(f) { onSessionEnd = f; }

/** A path under the app's base: "/api/v1/x" and "api/v1/x" both become "api/v1/x". */
export const rel = (path) => path.replace(/^\/+/, "");

// Several tabs share the tokens: a lock across tabs lets one refresh while the others wait
// and then use its result, since presenting a spent refresh token ends the whole session.
let refreshing = null;
function refreshTokens() {
  const stale = session.access;
  const run = async () => {
    if (session.access !== stale && session.access) return true;
    const token = session.refresh;
    if (!token) return false;
    try {
      const res = await fetch(rel("api/v1/auth/refresh"), {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: token }),
      });
      if (!res.ok) return false;
      session.save(await res.json());
      return true;
    } catch { return false; }
  };
  refreshing ??= (navigator.locks ? navigator.locks.request("mw.refresh", run) : run())
    .finally(() => { refreshing = null; });
  return refreshing;
}

/**
 * Sends a request and returns the parsed JSON (null for 204). `raw` sends a Blob or File as
 * the body. Throws ApiError with the server's message; aborted requests throw AbortError.
 */
export async function api(path, { method = "GET", body, raw, signal, auth = true } = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = {};
    if (auth && session.access) headers.authorization = `Bearer ${session.access}`;
    let payload;
    if (raw) { payload = raw; headers["content-type"] = raw.type || "application/octet-stream"; }
    else if (body !== undefined) { payload = JSON.stringify(body); headers["content-type"] = "application/json"; }
    let res;
    try {
      res = await fetch(rel(path), { method, headers, body: payload, signal });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, null, "The server cannot be reached. Check your connection and try again.");
    }
    if (res.status === 401 && auth) {
      if (attempt === 0 && await refreshTokens()) continue;
      if (session.signedIn) { session.clear(); onSessionEnd(); }
      throw new ApiError(401, null, "Your session has ended; please sign in again.");
    }
    const data = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }
}

/** Fetches a binary resource with the session (pictures): a Blob. */
export async function blob(path, { signal } = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = session.access ? { authorization: `Bearer ${session.access}` } : {};
    const res = await fetch(rel(path), { headers, signal });
    if (res.status === 401 && attempt === 0 && await refreshTokens()) continue;
    if (!res.ok) throw new ApiError(res.status, null);
    return res.blob();
  }
}

export async function signIn(username, password) {
  session.save(await api("api/v1/auth/login", { method: "POST", body: { username, password }, auth: false }));
}

export async function signOut() {
  try { await api("api/v1/auth/logout", { method: "POST" }); } catch { /* signed out locally anyway */ }
  session.clear();
}
