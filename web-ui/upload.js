// Uploading audio over tus (the server's resumable uploads, /api/v1/uploads/tus): a file is
// sent in chunks, each PATCH carrying its offset. Where an upload lives on the server is
// remembered in localStorage, keyed by the file's name, size and date, so a failed or
// interrupted upload (a dropped connection, a closed tab) resumes from the server's offset
// (HEAD) instead of starting again. XMLHttpRequest, not fetch, because only it reports
// upload progress.

import { api, session, rel } from "./api.js";
import { el, plural } from "./ui.js";

const TUS = "1.0.0";
const CHUNK = 8 * 1024 * 1024;
const KEY = "mw.tus.";

const b64 = (s) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
const fileKey = (f, meta) => KEY + [f.name, f.size, f.lastModified, meta.album_id || meta.album_title || ""].join("|");

class UploadError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

/** One tus request; resolves to the XHR once answered with a 2xx. */
function request(method, url, { headers = {}, body, onprogress } = {}, retried = false) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open(method, rel(url));
    x.setRequestHeader("Tus-Resumable", TUS);
    if (session.access) x.setRequestHeader("Authorization", `Bearer ${session.access}`);
    for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
    if (onprogress) x.upload.onprogress = (e) => onprogress(e.loaded);
    x.onload = async () => {
      if (x.status >= 200 && x.status < 300) return resolve(x);
      // An expired access token: any API call refreshes it; then try once more.
      if (x.status === 401 && !retried) {
        try { await api("api/v1/me"); return resolve(await request(method, url, { headers, body, onprogress }, true)); } catch (e) { return reject(e); }
      }
      let message = `The server answered ${x.status}.`;
      try { message = JSON.parse(x.responseText).error.message || message; } catch { /* not JSON */ }
      reject(new UploadError(x.status, message));
    };
    x.onerror = () => reject(new UploadError(0, "The connection was lost."));
    x.onabort = () => reject(new UploadError(0, "Stopped."));
    x.send(body ?? null);
  });
}

/**
 * Uploads `file` with tus metadata `meta` ({album_id} or {album_title}, publish...), calling
 * `progress(sent, total)`. Resumes an earlier attempt of the same file. Resolves to
 * {trackIds, albumId}.
 */
export async function tusUpload(file, meta, progress) {
  const key = fileKey(file, meta);
  let url = localStorage.getItem(key);
  let offset = 0;
  if (url) {
    try {
      const h = await request("HEAD", url);
      offset = Number(h.getResponseHeader("Upload-Offset")) || 0;
    } catch (err) {
      if (err.status !== 404 && err.status !== 410) throw err;
      url = null; // the server no longer has it: start again
    }
  }
  if (!url) {
    const metadata = Object.entries({ filename: file.name, ...meta })
      .filter(([, v]) => v !== undefined && v !== null && v !== "")
      .map(([k, v]) => `${k} ${b64(String(v))}`).join(",");
    const res = await request("POST", "api/v1/uploads/tus", { headers: { "Upload-Length": String(file.size), "Upload-Metadata": metadata } });
    // Location is a path on this server; its last segment is the upload's id.
    url = `api/v1/uploads/tus/${res.getResponseHeader("Location").split("/").pop()}`;
    localStorage.setItem(key, url);
  }
  progress(offset, file.size);
  for (;;) {
    const end = Math.min(file.size, offset + CHUNK);
    const res = await request("PATCH", url, {
      headers: { "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" },
      body: file.slice(offset, end),
      onprogress: (n) => progress(offset + n, file.size),
    }).catch((err) => {
      // The file is refused for good (not audio, a duplicate, too large): forget the upload.
      if ([413, 415, 422].includes(err.status) || err.status === 409 && !/offset/i.test(err.message)) localStorage.removeItem(key);
      throw err;
    });
    offset = Number(res.getResponseHeader("Upload-Offset"));
    progress(offset, file.size);
    if (offset >= file.size) {
      localStorage.removeItem(key);
      return {
        trackIds: (res.getResponseHeader("Upload-Track-Ids") || "").split(",").filter(Boolean),
        albumId: res.getResponseHeader("Upload-Album-Id"),
      };
    }
  }
}

const size = (n) => n < 1e6 ? `${Math.ceil(n / 1e3)} kB` : `${(n / 1e6).toFixed(1)} MB`;

/**
 * The upload form: pick or drop files; each gets a progress bar and, if it fails, the reason
 * and a Resume button. `target()` returns the tus metadata for the next file (it may name
 * the album the first file made); `done(result)` runs after each file.
 */
export function uploader({ target, done, onstart, label = "Upload" }) {
  const input = el("input", { type: "file", multiple: true, accept: "audio/*,.flac,.opus,.ogg,.m4a,.wav,.aiff,.aif,.mp3", id: "upload-files" });
  const list = el("ul", { class: "uploads", "aria-label": "Uploads" });
  const summary = el("p", { class: "muted", "aria-live": "polite" });
  const drop = el("div", { class: "drop" }, el("label", {}, "Choose audio files, or drop them here", input));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); start([...e.dataTransfer.files]); });
  const button = el("button", { type: "button", onclick: () => start([...input.files]) }, label);
  // Files go one after another; when one fails, the rest wait until it is resumed, so the
  // files of a batch keep their order and land on the album the first one made.
  let running = false;
  let pending = [];
  let batch = { ok: 0, total: 0 };

  async function pump() {
    if (running) return;
    running = true;
    while (pending.length) {
      const job = pending[0];
      if (!await job.run()) {
        for (const j of pending.slice(1)) j.wait();
        running = false;
        return;
      }
      pending.shift();
      batch.ok++;
    }
    running = false;
    summary.textContent = `${plural(batch.ok, "file")} of ${plural(batch.total, "file")} uploaded.`.replace(/ files? of/, " of");
  }

  function start(files) {
    if (!files.length) { summary.textContent = "Choose one or more audio files first."; return; }
    if (pending.length) { summary.textContent = "Resume or remove the failed upload first."; return; }
    input.value = "";
    onstart?.();
    batch = { ok: 0, total: files.length };
    summary.textContent = `Uploading ${plural(files.length, "file")}…`;
    pending = files.map(row);
    pump();
  }

  function row(file) {
    const bar = el("progress", { max: file.size, value: 0, "aria-label": `Upload of ${file.name}` });
    const state = el("span", { class: "muted" }, "Waiting");
    const retry = el("button", { type: "button", class: "secondary", hidden: true, onclick: () => pump() }, "Resume");
    const skip = el("button", { type: "button", class: "secondary", hidden: true, onclick: () => {
      pending = pending.filter((j) => j !== job);
      skip.hidden = retry.hidden = true;
      state.textContent = "Skipped";
      pump();
    } }, "Skip");
    const li = el("li", { "data-file": file.name }, el("span", { class: "name" }, file.name), el("span", { class: "row-tools" }, state, retry, skip), bar);
    list.append(li);
    const run = async () => {
      retry.hidden = skip.hidden = true;
      li.classList.remove("failed");
      state.className = "muted";
      state.textContent = "Starting";
      try {
        const meta = await target();
        const result = await tusUpload(file, meta, (sent, total) => {
          bar.value = sent;
          state.textContent = `${Math.floor((100 * sent) / (total || 1))} % of ${size(total)}`;
        });
        state.textContent = "Uploaded";
        li.classList.add("done");
        await done?.(result, file);
        return true;
      } catch (err) {
        state.className = "error-text";
        state.textContent = `Failed: ${err.message}`;
        li.classList.add("failed");
        retry.hidden = skip.hidden = false;
        summary.textContent = `“${file.name}” failed. Resume it to go on.`;
        return false;
      }
    };
    const wait = () => { state.textContent = "Waiting for the failed upload"; };
    const job = { run, wait };
    return job;
  }

  return el("div", { class: "stack uploader" }, drop, el("div", {}, button), list, summary);
}
