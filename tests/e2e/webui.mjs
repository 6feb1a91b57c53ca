// End-to-end tests of the web app in headless Chromium (Debian's), driven by playwright-core.
//
//   node tests/e2e/webui.mjs BASE_URL SCREENSHOT_DIR
//
// BASE_URL is a running server whose media folder holds the audio fixtures and whose admin
// password is MUSEWAVE_E2E_ADMIN_PASSWORD. tests/api/webui.rs starts one and runs this.
// Each step saves screenshots at 1280x800 and 375x812. Exits non-zero on the first failure.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error("usage: node webui.mjs BASE_URL SCREENSHOT_DIR");
  process.exit(2);
}
const adminPassword = process.env.MUSEWAVE_E2E_ADMIN_PASSWORD;
mkdirSync(shots, { recursive: true });

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 812 };
const url = (path = "") => new URL(path, base).href;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: DESKTOP });
const page = await context.newPage();
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
// A resumed upload's first attempt is cut off on purpose (ERR_CONNECTION_RESET).
page.on("console", (m) => { if (m.type() === "error" && !/status of 40[134]|ERR_CONNECTION_RESET/.test(m.text())) problems.push(`console: ${m.text()}`); });
page.setDefaultTimeout(10_000);
// The <audio> element that is playing, for the checks above.
await context.addInitScript(() => {
  window.playing = () => [...document.querySelectorAll("audio")].find((a) => !a.paused && a.src);
  // Media events do not bubble, but capturing listeners on the document see them.
  window.mediaLog = [];
  for (const type of ["loadstart", "playing"]) {
    document.addEventListener(type, (e) => mediaLog.push({
      type, src: e.target.src, othersPlaying: [...document.querySelectorAll("audio")].some((a) => a !== e.target && !a.paused),
    }), true);
  }
});

/** Screenshots of the page as it is, at both sizes; checks nothing overflows sideways on a phone. */
async function screenshot(name) {
  // Covers load as they scroll into view; let those on screen arrive first.
  await page.waitForFunction(() => [...document.querySelectorAll("img[data-src]")]
    .filter((i) => i.getBoundingClientRect().top < innerHeight).every((i) => i.complete && i.src), null, { timeout: 3000 }).catch(() => {});
  await page.screenshot({ path: join(shots, `${name}-1280.png`) });
  const text = await page.locator("main").innerText();
  assert.ok(!/\b(null|undefined|NaN)\b/.test(text), `${name}: the page shows a missing value: ${text}`);
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(50);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  await page.screenshot({ path: join(shots, `${name}-375.png`) });
  await page.setViewportSize(DESKTOP);
  assert.ok(overflow <= 0, `${name}: the page is ${overflow}px wider than a 375px screen`);
}

/** Waits until the app has drawn the page at `path`. */
async function rendered(path) {
  await page.waitForFunction((p) => {
    const m = document.getElementById("main");
    return m.dataset.view === p && m.getAttribute("aria-busy") === "false";
  }, path);
}

async function signIn(username, password) {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

const seekValue = () => page.getByLabel("Seek").evaluate((e) => Number(e.value));
const audioState = () => page.evaluate(() => [...document.querySelectorAll("audio")].map((a) => ({
  src: a.src, paused: a.paused, time: a.currentTime, ready: a.readyState, error: a.error?.message })));


/** Calls the API from the page with its session (to check what the server holds). */
const apiCall = (path, method = "GET", body) => page.evaluate(async ([path, method, body]) => {
  const res = await fetch(path, { method, body: body && JSON.stringify(body),
    headers: { authorization: `Bearer ${localStorage.getItem("mw.access")}`, "content-type": "application/json" } });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}, [path, method, body]);
const nav = (name) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
const entryOrder = () => page.locator("ol.entries li").evaluateAll((li) => li.map((x) => x.dataset.entry));
const serverOrder = async (id) => (await apiCall(`/api/v1/playlists/${id}`)).entries.map((e) => e.entry_id);
const fixtures = new URL("../fixtures/audio/", import.meta.url).pathname;
// A 1x1 PNG, for a cover.
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");
let playlistId, albumWithMost;

const steps = {
  async "a deep link while signed out asks to sign in, then returns there"() {
    await page.goto(url("albums?sort=year&order=desc"));
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.equal(await page.evaluate(() => location.pathname), "/signin");
    await signIn("admin", "wrong password");
    await page.getByRole("alert").filter({ hasText: /password|invalid|credentials/i }).waitFor();
    await screenshot("signin-error");
    await signIn("admin", adminPassword);
    await rendered("/albums");
    assert.equal(await page.evaluate(() => location.search), "?sort=year&order=desc");
    await page.getByRole("heading", { name: "Albums" }).waitFor();
  },

  async "browse albums, an album, artists, an artist, genres and tracks"() {
    await page.getByRole("link", { name: "Albums", exact: true }).click();
    await rendered("/albums");
    await page.locator(".grid .card-link").first().waitFor();
    await page.waitForFunction(() => [...document.querySelectorAll(".grid img")].every((i) => i.complete && i.src));
    await screenshot("albums");
    await page.locator(".grid .card-link").first().click();
    await page.locator("table.tracks tbody tr").first().waitFor();
    await screenshot("album");

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Artists" }).click();
    await rendered("/artists");
    const artist = page.locator(".rows li a").first();
    const name = await artist.textContent();
    await artist.click();
    await page.getByRole("heading", { name, exact: true }).waitFor();
    await page.getByRole("heading", { name: "Top tracks" }).waitFor();
    await screenshot("artist");

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Genres" }).click();
    await rendered("/genres");
    await screenshot("genres");

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Tracks" }).click();
    await rendered("/tracks");
    await page.getByText(/^\d+ tracks?\.$/).waitFor();
    const rows = await page.locator("table.tracks tbody tr").count();
    assert.ok(rows >= 5, `the tracks page lists ${rows} tracks`);
    await screenshot("tracks");
  },

  async "search suggests as you type, and Enter shows the results"() {
    const box = page.getByRole("combobox", { name: "Search" });
    await box.fill("fixt");
    const option = page.getByRole("option").first();
    await option.waitFor();
    assert.equal(await box.getAttribute("aria-expanded"), "true");
    await screenshot("search-suggestions");
    await box.press("Enter");
    await rendered("/search");
    await page.getByRole("heading", { name: /Results for/ }).waitFor();
    await page.getByRole("heading", { name: /^Tracks/ }).waitFor();
    await screenshot("search-results");
  },

  async "play a track: time advances, the next one is preloaded and follows"() {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Tracks" }).click();
    await rendered("/tracks");
    const ids = await page.locator("table.tracks tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.track));
    await page.locator("table.tracks .track-title").first().click();
    const player = page.getByRole("region", { name: "Player" });
    await player.getByRole("button", { name: "Pause" }).waitFor();
    // The <audio> element itself: its currentTime advances.
    await page.waitForFunction(() => playing()?.currentTime > 0.2, null, { polling: 50 }).catch(async () => {
      throw new Error(`no audio advanced: ${JSON.stringify(await audioState())}`);
    });
    const t1 = await page.evaluate(() => playing().currentTime);
    await page.waitForFunction((t) => playing()?.currentTime > t, t1, { polling: 50 });
    assert.ok(await seekValue() > 0, "the seek bar follows the time");
    // ReplayGain: the fixtures carry -6.5 dB (peak 0.99), so full volume plays at 10^(-6.5/20).
    const volume = await page.evaluate(() => playing().volume);
    assert.ok(Math.abs(volume - 10 ** (-6.5 / 20)) < 0.01, `volume with ReplayGain: ${volume}`);
    await screenshot("playing");
    // Before the first track ends, the second is loading in the spare element; then it plays.
    await page.waitForFunction((id) => mediaLog.some((e) => e.type === "playing" && e.src.includes(id)), ids[1], { polling: 50 })
      .catch(async () => { throw new Error(`the second track did not play: ${JSON.stringify(await page.evaluate(() => mediaLog))} ${JSON.stringify(await audioState())}`); });
    const log = await page.evaluate(() => mediaLog);
    assert.ok(log.some((e) => e.type === "loadstart" && e.src.includes(ids[1]) && e.othersPlaying),
      `the next track loads while the first plays: ${JSON.stringify(log)}`);
    await player.getByRole("button", { name: "Pause" }).click();
  },

  async "the queue reorders and survives a reload with its position"() {
    await page.keyboard.press("q");
    await rendered("/queue");
    const entries = page.locator("ol.queue li");
    const before = await entries.count();
    assert.ok(before >= 5, `queue holds ${before} entries`);
    assert.equal(await page.locator("ol.queue li[aria-current=true]").count(), 1);
    const third = await entries.nth(2).getAttribute("data-track");
    await entries.nth(2).getByRole("button", { name: /down$/ }).click();
    assert.equal(await entries.nth(3).getAttribute("data-track"), third);
    await page.keyboard.press("Enter"); // focus stayed on the moved entry's button
    assert.equal(await entries.nth(4).getAttribute("data-track"), third);
    await entries.nth(4).getByRole("button", { name: /^Remove/ }).click();
    assert.equal(await entries.count(), before - 1);
    const order = await entries.evaluateAll((li) => li.map((x) => x.dataset.track));
    await page.keyboard.press("s");
    await page.getByRole("button", { name: "Shuffle: on" }).waitFor();
    await page.keyboard.press("s");
    await page.getByRole("button", { name: "Shuffle: off" }).waitFor();
    assert.deepEqual(await entries.evaluateAll((li) => li.map((x) => x.dataset.track)), order, "shuffle off restores the order");
    await screenshot("queue");

    await page.getByLabel("Seek").evaluate((e) => { e.value = "0.5"; e.dispatchEvent(new Event("change")); });
    await page.waitForFunction(() => Number(document.querySelector("input[aria-label=Seek]").value) >= 0.45);
    await page.reload();
    await rendered("/queue");
    assert.deepEqual(await entries.evaluateAll((li) => li.map((x) => x.dataset.track)), order);
    const restored = await seekValue();
    assert.ok(restored >= 0.45, `position after reload: ${restored}`);
    await page.getByRole("region", { name: "Player" }).getByRole("button", { name: "Play" }).click();
    await page.waitForFunction(() => playing()?.currentTime > 0.6, null, { polling: 50 });
    await page.keyboard.press("k");
    await page.getByRole("region", { name: "Player" }).getByRole("button", { name: "Play" }).waitFor();
  },

  async "a lower quality plays a transcoded stream"() {
    await page.goto(url("account"));
    await rendered("/account");
    await page.getByLabel("Stream quality on this device").selectOption("low");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Tracks" }).click();
    await rendered("/tracks");
    const streamed = page.waitForResponse((r) => r.url().includes("/stream?") && r.url().includes("quality=low"));
    await page.locator("table.tracks .track-title").nth(1).click();
    assert.equal((await streamed).status(), 200);
    await page.waitForFunction(() => playing()?.currentTime > 0.2 && playing().src.includes("quality=low"), null, { polling: 50 });
    await page.getByRole("region", { name: "Player" }).getByRole("button", { name: "Pause" }).click();
    await page.goto(url("account"));
    await page.getByLabel("Stream quality on this device").selectOption("original");
  },

  async "a player gets an app password, listed without its secret and revocable"() {
    await page.goto(url("account"));
    await rendered("/account");
    const form = page.getByRole("form", { name: "New app password" });
    await form.getByLabel("Player name").fill("E2E phone");
    await form.getByRole("button", { name: "Make an app password" }).click();
    const secret = page.locator("code.secret");
    await secret.waitFor();
    assert.match(await secret.textContent(), /^[A-Za-z0-9]{24}$/);
    const list = page.getByRole("list", { name: "App passwords" });
    await list.getByText(/E2E phone/).waitFor();
    await list.getByRole("button", { name: "Revoke" }).click();
    await list.getByText("No app passwords yet.").waitFor();
  },

  async "an admin changes a user's role"() {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
    await rendered("/admin");
    const form = page.getByRole("form", { name: "New account" });
    await form.getByLabel("Username").fill("e2e-listener");
    await form.getByLabel("Password").fill("password123");
    await form.getByRole("button", { name: "Create account" }).click();
    const role = page.getByLabel("Role of e2e-listener");
    await role.waitFor();
    assert.equal(await role.inputValue(), "listener");
    await role.selectOption("artist");
    await page.getByText("e2e-listener is now artist.").waitFor();
    await page.reload();
    await rendered("/admin");
    assert.equal(await page.getByLabel("Role of e2e-listener").inputValue(), "artist");
    await screenshot("admin-users");
    await page.getByRole("link", { name: "Library" }).click();
    await rendered("/admin/library");
    await page.getByRole("button", { name: "Full scan" }).click();
    await page.getByText(/Last scan finished|Scanning/).waitFor();
    await screenshot("admin-library");
    await page.getByRole("link", { name: "Server" }).click();
    await rendered("/admin/server");
    await page.getByText("Running").waitFor();
    await screenshot("admin-server");
  },

  async "an ended session returns to sign-in and back to the same page"() {
    await page.goto(url("account"));
    await rendered("/account");
    await screenshot("account");
    await page.evaluate(() => {
      localStorage.setItem("mw.access", "expired");
      localStorage.setItem("mw.refresh", "revoked");
    });
    await page.goto(url("genres?from=e2e"));
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByText("Your session has ended").first().waitFor();
    await signIn("admin", adminPassword);
    await rendered("/genres");
    assert.equal(await page.evaluate(() => location.search), "?from=e2e");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Home" }).click();
    await rendered("/");
    await screenshot("home");
  },

  async "the first load stays small"() {
    // A fresh browser: the sign-in page, then signing in, up to the home page drawn.
    const fresh = await browser.newContext({ viewport: DESKTOP });
    const p = await fresh.newPage();
    const sizes = [];
    p.on("requestfinished", (req) => {
      if (["document", "script", "stylesheet"].includes(req.resourceType())) sizes.push(req.sizes().then((s) => s.responseBodySize));
    });
    await p.goto(url(""));
    await p.getByLabel("Username").fill("admin");
    await p.getByLabel("Password").fill(adminPassword);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.waitForFunction(() => document.getElementById("main").dataset.view === "/" && document.getElementById("main").getAttribute("aria-busy") === "false");
    await p.waitForLoadState("networkidle");
    const total = (await Promise.all(sizes)).reduce((a, b) => a + b, 0);
    console.log(`# first load (HTML+JS+CSS, compressed), sign-in page and signed-in home: ${(total / 1024).toFixed(1)} KiB`);
    assert.ok(total <= 150 * 1024, `first load is ${total} bytes`);
    await fresh.close();
  },

  async "a playlist is made, filled from an album, reordered by keyboard and by dragging"() {
    const albums = (await apiCall("/api/v1/albums?limit=100")).items;
    albumWithMost = albums.reduce((a, b) => (b.track_count > a.track_count ? b : a));
    assert.ok(albumWithMost.track_count >= 3, `an album with 3 tracks: ${JSON.stringify(albums.map((a) => a.track_count))}`);
    await nav("Playlists").click();
    await rendered("/playlists");
    const form = page.getByRole("form", { name: "New playlist" });
    await form.getByLabel("Name").fill("Road trip");
    await form.getByLabel(/^Public/).check();
    await form.getByRole("button", { name: "Create playlist" }).click();
    await page.getByRole("heading", { name: "Road trip", level: 1 }).waitFor();
    playlistId = (await page.evaluate(() => location.pathname)).split("/").pop();

    await page.goto(url(`albums/${albumWithMost.id}`));
    await rendered(`/albums/${albumWithMost.id}`);
    await page.getByRole("button", { name: "Add to playlist" }).click();
    const dialog = page.getByRole("dialog", { name: /to a playlist/ });
    await dialog.getByLabel("Playlist", { exact: true }).selectOption({ label: "Road trip" });
    await screenshot("add-to-playlist");
    await dialog.getByRole("button", { name: "Add", exact: true }).click();
    await page.getByText(/added to “Road trip”/).waitFor();

    await nav("Playlists").click();
    await rendered("/playlists");
    await screenshot("playlists");
    await page.getByRole("link", { name: "Road trip" }).click();
    await rendered(`/playlists/${playlistId}`);
    const entries = page.locator("ol.entries li");
    assert.equal(await entries.count(), albumWithMost.track_count);
    const before = await entryOrder();
    assert.deepEqual(await serverOrder(playlistId), before);

    // Keyboard: the first entry's "move down" button, twice (focus stays on the moved entry).
    await entries.first().getByRole("button", { name: / down$/ }).focus();
    await page.keyboard.press("Enter");
    await page.waitForFunction((id) => document.querySelectorAll("ol.entries li")[1]?.dataset.entry === id, before[0]);
    await page.keyboard.press("Enter");
    await page.waitForFunction((id) => document.querySelectorAll("ol.entries li")[2]?.dataset.entry === id, before[0]);
    const expected = [before[1], before[2], before[0], ...before.slice(3)];
    assert.deepEqual(await entryOrder(), expected);
    assert.deepEqual(await serverOrder(playlistId), expected, "the server holds the new order");

    // Dragging: the last entry onto the first.
    await entries.last().dragTo(entries.first());
    const dragged = [expected.at(-1), ...expected.slice(0, -1)];
    await page.waitForFunction((id) => document.querySelector("ol.entries li")?.dataset.entry === id, dragged[0]);
    assert.deepEqual(await serverOrder(playlistId), dragged, "the server holds the dragged order");
    await screenshot("playlist");

    // Details: rename and describe.
    await page.getByText("Edit details").click();
    const details = page.getByRole("form", { name: "Playlist details" });
    await details.getByLabel("Name").fill("Road trip 2");
    await details.getByLabel("Description").fill("For the long drive.");
    await details.getByRole("button", { name: "Save" }).click();
    await page.getByRole("heading", { name: "Road trip 2", level: 1 }).waitFor();
    const saved = await apiCall(`/api/v1/playlists/${playlistId}`);
    assert.equal(saved.name, "Road trip 2");
    assert.equal(saved.description, "For the long drive.");
    assert.equal(saved.public, true);

    // Remove one entry.
    await entries.first().getByRole("button", { name: /^Remove/ }).click();
    await page.waitForFunction((n) => document.querySelectorAll("ol.entries li").length === n, dragged.length - 1);
    assert.deepEqual(await serverOrder(playlistId), dragged.slice(1));

    // Collaborative, with the other account invited by its username.
    await details.getByLabel("Collaborative").check();
    await details.getByRole("button", { name: "Save" }).click();
    await page.getByText(/Public · collaborative/).waitFor();
    const other = (await apiCall("/api/v1/admin/users?limit=100")).items.find((u) => u.username === "e2e-listener");
    const invite = page.getByRole("form", { name: "Invite a collaborator" });
    // A failed request says why.
    await invite.getByRole("combobox").fill("nobody-here");
    await invite.getByRole("button", { name: "Invite" }).click();
    await invite.getByRole("alert").filter({ hasText: "There is no account “nobody-here”." }).waitFor();
    await invite.getByRole("combobox").fill("E2E-Listener");
    await invite.getByRole("button", { name: "Invite" }).click();
    await page.locator("section[aria-labelledby=collab-h]").getByRole("link", { name: other.display_name || other.username }).waitFor();
    assert.deepEqual((await apiCall(`/api/v1/playlists/${playlistId}`)).collaborators, [other.id]);
    await screenshot("playlist-collaborators");
    // Their page: follow them.
    const otherName = other.display_name || other.username;
    await page.locator("section[aria-labelledby=collab-h]").getByRole("link", { name: otherName }).click();
    await rendered(`/users/${other.id}`);
    await page.getByRole("button", { name: `Follow ${otherName}` }).click();
    await page.getByRole("button", { name: `Unfollow ${otherName}` }).waitFor();
    assert.equal((await apiCall(`/api/v1/users/${other.id}/followers`)).total, 1);
    await screenshot("user");
  },

  async "like a track and find it in Liked; save and rate an album; follow its artist"() {
    await page.goto(url(`albums/${albumWithMost.id}`));
    await rendered(`/albums/${albumWithMost.id}`);
    const row = page.locator("table.tracks tbody tr").nth(1);
    const trackId = await row.getAttribute("data-track");
    const like = row.getByRole("button", { name: /^Like / });
    await like.click();
    await page.waitForFunction((id) => document.querySelector(`tr[data-track="${id}"] .like`)?.getAttribute("aria-pressed") === "true", trackId);
    await page.getByRole("button", { name: /^Save .* to your library$/ }).click();
    await page.getByRole("button", { name: /^Remove .* from your library$/ }).waitFor();
    await page.getByRole("radiogroup", { name: /Your rating/ }).getByLabel("4 stars").check();
    await page.getByText(/4\.0 average from 1 rating/).waitFor();
    await screenshot("album-social");
    assert.equal((await apiCall(`/api/v1/albums/${albumWithMost.id}`)).rating.average, 4);

    await nav("Liked").click();
    await rendered("/liked");
    await page.locator(`table.tracks tr[data-track="${trackId}"]`).waitFor();
    await page.locator(`.grid a[href="albums/${albumWithMost.id}"]`).waitFor();
    await screenshot("liked");

    await page.goto(url(`artists/${albumWithMost.artist_id}`));
    await rendered(`/artists/${albumWithMost.artist_id}`);
    await page.getByRole("button", { name: /^Follow / }).click();
    await page.getByRole("button", { name: /^Unfollow / }).waitFor();
    await page.getByText(/1 follower/).waitFor();
    await screenshot("artist-followed");
  },

  async "history and home: recently played, new releases, charts"() {
    await nav("History").click();
    await rendered("/history");
    await page.locator("table.tracks tbody tr").first().waitFor();
    await screenshot("history");
    await nav("Home").click();
    await rendered("/");
    await page.getByRole("heading", { name: "New from artists you follow" }).waitFor();
    await page.locator(`section[aria-labelledby=feed-h] a[href="albums/${albumWithMost.id}"]`).first().waitFor();
    await page.locator("section[aria-labelledby=played-h] table.tracks tbody tr").first().waitFor();
    await page.locator("section[aria-labelledby=chart-h] table.tracks tbody tr").first().waitFor();
    await page.getByLabel("Chart period").selectOption("all");
    await page.locator("section[aria-labelledby=chart-h] table.tracks tbody tr").first().waitFor();
    await screenshot("home-signed-in");
  },

  async "an artist uploads in the studio, resumes after a failure, publishes, and the track is in the catalog"() {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await signIn("e2e-listener", "password123");
    await rendered("/");
    // Someone else's public playlist can be followed.
    await page.goto(url(`playlists/${playlistId}`));
    await rendered(`/playlists/${playlistId}`);
    await page.getByRole("button", { name: "Follow Road trip 2" }).click();
    await page.getByRole("button", { name: "Unfollow Road trip 2" }).waitFor();
    await page.getByText(/1 follower/).waitFor();
    assert.equal((await apiCall(`/api/v1/playlists/${playlistId}`)).following, true);
    // As a collaborator they may reorder it too, and find it under "Shared with you".
    assert.ok(await page.locator("ol.entries li").first().getByRole("button", { name: / down$/ }).isEnabled());
    await nav("Playlists").click();
    await rendered("/playlists");
    await page.locator("section[aria-labelledby=shared-h]").getByRole("link", { name: "Road trip 2" }).waitFor();

    await nav("Studio").click();
    await rendered("/studio");
    await page.getByLabel("Album title").fill("First Light");
    // The first chunk of the first file is cut off once: the upload fails, then resumes. The
    // route removes itself after that one request, so no later request of the batch is held in
    // a handler while the route is taken away.
    await page.route("**/api/v1/uploads/tus/*", (route) => route.abort("connectionreset"), { times: 1 });
    const heads = [];
    page.on("request", (r) => { if (r.method() === "HEAD" && r.url().includes("/uploads/tus/")) heads.push(r.url()); });
    await page.locator("#upload-files").setInputFiles([join(fixtures, "id3v1.mp3"), join(fixtures, "aac.m4a")]);
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    const first = page.locator("ul.uploads li").first();
    await first.getByText(/^Failed/).waitFor();
    await screenshot("studio-upload-failed");
    await page.getByText(/“id3v1.mp3” failed/).waitFor();
    assert.match(await page.locator("ul.uploads li").nth(1).textContent(), /Waiting/, "the next file waits for the failed one");
    await first.getByRole("button", { name: "Resume" }).click();
    await first.getByText("Uploaded").waitFor();
    assert.equal(heads.length, 1, "the resumed upload asked the server for its offset");
    await page.getByText("2 of 2 files uploaded.").waitFor();
    assert.equal(await page.locator("ul.uploads li.done").count(), 2);
    await screenshot("studio-uploaded");
    await page.getByRole("link", { name: /Open the album/ }).click();
    await page.getByRole("heading", { name: "First Light", level: 1 }).waitFor();
    const albumId = (await page.evaluate(() => location.pathname)).split("/").pop();
    const tracks = page.locator("ol.studio-tracks li");
    assert.equal(await tracks.count(), 2);
    const order = await tracks.evaluateAll((li) => li.map((x) => x.dataset.track));
    await tracks.first().getByRole("button", { name: / down$/ }).click();
    await page.waitForFunction((id) => document.querySelectorAll("ol.studio-tracks li")[1]?.dataset.track === id, order[0]);
    assert.deepEqual((await apiCall(`/api/v1/studio/albums/${albumId}`)).tracks.map((t) => t.id), [order[1], order[0]]);
    const details = page.getByRole("form", { name: "Album details" });
    await details.getByLabel("Label").fill("Home Recordings");
    await details.getByRole("button", { name: "Save details" }).click();
    await page.getByText("Album saved.").waitFor();
    await page.locator("#cover-file").setInputFiles({ name: "cover.png", mimeType: "image/png", buffer: PNG });
    await page.getByText("Cover saved.").waitFor();
    await page.getByRole("button", { name: "Publish album" }).click();
    await page.getByRole("link", { name: "See it in the catalog" }).waitFor();
    await screenshot("studio-album");
    const studio = await apiCall(`/api/v1/studio/albums/${albumId}`);
    assert.equal(studio.label, "Home Recordings");
    assert.ok(studio.has_cover && studio.published && studio.tracks.every((t) => t.visible));
    await page.getByRole("link", { name: "See it in the catalog" }).click();
    await rendered(`/albums/${albumId}`);
    assert.equal(await page.locator("table.tracks tbody tr").count(), 2);
    const catalog = await apiCall(`/api/v1/albums/${albumId}`);
    assert.deepEqual(catalog.tracks.map((t) => t.id).sort(), [...order].sort());
    // An artist's playlist, shown on the artist's page.
    const profile = (await apiCall("/api/v1/studio/profiles"))[0];
    await nav("Playlists").click();
    await rendered("/playlists");
    const form = page.getByRole("form", { name: "New playlist" });
    await form.getByLabel("Name").fill("Best of First Light");
    await form.getByLabel(/^Show it on an artist page/).selectOption({ label: profile.name });
    await form.getByRole("button", { name: "Create playlist" }).click();
    await page.getByRole("heading", { name: "Best of First Light", level: 1 }).waitFor();
    await page.goto(url(`albums/${albumId}`));
    await rendered(`/albums/${albumId}`);
    await page.getByRole("button", { name: "Add to playlist" }).click();
    const dialog = page.getByRole("dialog", { name: /to a playlist/ });
    await dialog.getByLabel("Playlist", { exact: true }).selectOption({ label: "Best of First Light" });
    await dialog.getByRole("button", { name: "Add", exact: true }).click();
    await page.getByText(/added to “Best of First Light”/).waitFor();
    await page.goto(url(`artists/${profile.id}`));
    await rendered(`/artists/${profile.id}`);
    await page.locator("section[aria-labelledby=apl-h]").getByRole("link", { name: "Best of First Light" }).waitFor();
    await screenshot("artist-playlists");
    await page.goto(url(`albums/${albumId}`));
    await rendered(`/albums/${albumId}`);

    // Played to the end, for the statistics.
    const reported = page.waitForResponse((r) => r.url().endsWith("/api/v1/plays") && r.request().method() === "POST"
      && order.includes(r.request().postDataJSON().track_id), { timeout: 30_000 });
    await page.locator("table.tracks .track-title").first().click();
    assert.equal((await reported).status(), 201);
    await page.getByRole("region", { name: "Player" }).getByRole("button", { name: "Pause" }).click();
  },

  async "the statistics page draws its charts"() {
    await nav("Statistics").click();
    await rendered("/stats");
    await page.locator("svg.chart").nth(3).waitFor();
    assert.equal(await page.locator("svg.chart").count(), 4);
    assert.ok(await page.locator("svg.chart rect.bar").count() >= 30, "a bar a day");
    // The play just made is counted (plays are reported when a track ends).
    for (let i = 0; i < 20; i++) {
      const plays = await page.locator(".figures dd").first().textContent();
      if (plays !== "0") break;
      await page.waitForTimeout(250);
      await page.reload();
      await rendered("/stats");
    }
    assert.notEqual(await page.locator(".figures dd").first().textContent(), "0");
    assert.equal(await page.locator(".figures dd").nth(2).textContent(), "100 %", "the play to the end is complete");
    const reach = page.locator('figure[data-chart="listeners"] tbody tr');
    assert.equal(await reach.last().locator("td").nth(1).textContent(), "1", "one listener today");
    // A top track opens to its own figures.
    await page.locator("details.track-stats summary").first().click();
    await page.locator("details.track-stats").first().getByText("Listeners").waitFor();
    assert.equal(await page.locator("details.track-stats .figures dd").nth(1).textContent(), "1");
    await screenshot("stats");
  },
};

let failed = 0, passed = 0;
for (const [name, step] of Object.entries(steps)) {
  const started = Date.now();
  try {
    await step();
    if (problems.length) throw new Error(problems.splice(0).join("\n"));
    passed++;
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    failed++;
    console.log(`not ok - ${name}\n${String(err.stack || err).replace(/^/gm, "  ")}`);
    await page.screenshot({ path: join(shots, "failure.png") }).catch(() => {});
    break;
  }
}
await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
