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
page.on("console", (m) => { if (m.type() === "error" && !/status of 40[134]/.test(m.text())) problems.push(`console: ${m.text()}`); });
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
