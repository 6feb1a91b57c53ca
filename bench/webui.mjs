// Measurements for bench/webui.py (see there): node bench/webui.mjs BASE_URL ADMIN_PASSWORD RUNS

import { chromium } from "../tests/e2e/node_modules/playwright-core/index.mjs";

const [base, password, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 15);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const fmt = (x) => `${x.toFixed(1)} ms`;
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});

// First load: bytes on the wire for the sign-in page, by kind.
{
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const kinds = new Map();
  const bytes = { Document: 0, Script: 0, Stylesheet: 0, Other: 0 };
  cdp.on("Network.responseReceived", (e) => kinds.set(e.requestId, e.type));
  cdp.on("Network.loadingFinished", (e) => {
    const k = kinds.get(e.requestId);
    bytes[k in bytes ? k : "Other"] += e.encodedDataLength;
  });
  await page.goto(new URL("signin", base).href);
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  await page.waitForLoadState("networkidle");
  const total = bytes.Document + bytes.Script + bytes.Stylesheet;
  console.log(`first load, sign-in page, bytes on the wire (headers included): HTML ${bytes.Document}, JS ${bytes.Script}, CSS ${bytes.Stylesheet}, total ${total} (${(total / 1024).toFixed(1)} KiB); other ${bytes.Other}`);
  await context.close();
}

// Sign-in page interactive, fresh browser context each run; baseline: /healthz loaded the same way.
{
  const ready = [], floor = [];
  for (let i = 0; i < runs; i++) {
    for (const [target, out] of [["healthz", floor], ["signin", ready]]) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(new URL(target, base).href, { waitUntil: "commit" });
      if (target === "signin") {
        await page.waitForFunction(() => {
          const b = document.querySelector("form[aria-label='Sign in'] button[type=submit]");
          return b && !b.disabled && document.activeElement?.name === "username";
        }, null, { polling: "raf" });
        out.push(await page.evaluate(() => performance.now()));
      } else {
        await page.waitForLoadState("load");
        out.push(await page.evaluate(() => performance.getEntriesByType("navigation")[0].responseEnd));
      }
      await context.close();
    }
  }
  console.log(`sign-in page interactive: median ${fmt(median(ready))} (min ${fmt(Math.min(...ready))}, max ${fmt(Math.max(...ready))}, ${runs} runs); baseline /healthz response end: median ${fmt(median(floor))}`);
}

// Page switches, signed in.
{
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(new URL("signin", base).href);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForFunction(() => document.getElementById("main").dataset.view === "/");
  const ids = await page.evaluate(async () => {
    const h = { authorization: `Bearer ${localStorage.getItem("mw.access")}` };
    const j = (u) => fetch(u, { headers: h }).then((r) => r.json());
    const [ar, al] = await Promise.all([j("api/v1/artists?limit=1&offset=50"), j("api/v1/albums?limit=1&offset=500")]);
    // The listener's own pages get something to show: a playlist of 200 tracks, 100 likes
    // and 200 plays in the history.
    const tr = (await j("api/v1/tracks?limit=200&offset=1000")).items.map((t) => t.id);
    const send = (method, u, body) => fetch(u, { method, headers: { ...h, "content-type": "application/json" }, body: body && JSON.stringify(body) })
      .then((r) => { if (!r.ok) throw new Error(`${method} ${u}: ${r.status}`); return r.status === 204 ? null : r.json(); });
    const pl = await send("POST", "api/v1/playlists", { name: "Bench" });
    await send("POST", `api/v1/playlists/${pl.id}/entries`, { track_ids: tr });
    for (const id of tr.slice(0, 100)) await send("PUT", `api/v1/tracks/${id}/like`);
    const now = Date.now();
    await send("POST", "api/v1/plays/batch", { plays: tr.map((id, i) => ({
      track_id: id, started_at: new Date(now - (i + 1) * 60000).toISOString(), seconds_played: 3,
      completed: true, source: "album", idempotency_key: `bench-${i}` })) });
    return { artist: ar.items[0].id, album: al.items[0].id, playlist: pl.id };
  });
  const pages = [
    ["Home", "/", "api/v1/albums?sort=date_added&order=desc&limit=12"],
    ["Artists", "/artists", "api/v1/artists?offset=0&limit=100"],
    ["Albums", "/albums", "api/v1/albums?offset=0&limit=60"],
    ["Tracks", "/tracks", "api/v1/tracks?offset=0&limit=50"],
    ["Tracks by year", "/tracks?sort=year&order=desc", "api/v1/tracks?sort=year&order=desc&offset=0&limit=50"],
    ["Genres", "/genres", "api/v1/genres"],
    ["an artist", `/artists/${ids.artist}`, `api/v1/artists/${ids.artist}`],
    ["an album", `/albums/${ids.album}`, `api/v1/albums/${ids.album}`],
    ["search", "/search?q=love", "api/v1/search?q=love&limit=24"],
    ["Playlists", "/playlists", "api/v1/playlists"],
    ["a playlist (200)", `/playlists/${ids.playlist}`, `api/v1/playlists/${ids.playlist}?limit=500`],
    ["Liked", "/liked", "api/v1/me/likes/tracks?offset=0&limit=50"],
    ["History", "/history", "api/v1/me/history?offset=0&limit=50"],
    ["Studio", "/studio", "api/v1/studio/albums?all=true"],
    ["Queue", "/queue", null],
    ["Account", "/account", "api/v1/me/settings"],
  ];
  // Navigates inside the app (as a click on a link does) and times it to the next painted frame.
  const switchTo = (path) => page.evaluate((path) => new Promise((resolve) => {
    const a = document.createElement("a");
    a.href = path.slice(1) || "./";
    document.body.append(a);
    const t0 = performance.now();
    addEventListener("mw:rendered", () => requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - t0))), { once: true });
    a.click();
    a.remove();
  }), path);
  const fetchOnly = (url) => page.evaluate(async (url) => {
    const t0 = performance.now();
    await (await fetch(url, { headers: { authorization: `Bearer ${localStorage.getItem("mw.access")}` } })).json();
    return performance.now() - t0;
  }, url);
  console.log("page switch (click -> drawn and painted), medians:");
  const rows = [];
  for (const [name, path, url] of pages) {
    const first = await switchTo(path); // the page's module loads on its first visit
    await switchTo("/queue");
    const times = [], api = [];
    for (let i = 0; i < runs; i++) {
      times.push(await switchTo(path));
      await switchTo(name === "Queue" ? "/" : "/queue");
      if (url) api.push(await fetchOnly(url));
    }
    rows.push([name, median(times), Math.max(...times), first, url ? median(api) : null]);
  }
  for (const [name, med, max, first, api] of rows) {
    console.log(`  ${name.padEnd(15)} ${fmt(med).padStart(9)}  (max ${fmt(max)}, first visit ${fmt(first)})  baseline API fetch ${api === null ? "-" : fmt(api)}`);
  }
  await context.close();
}
await browser.close();
