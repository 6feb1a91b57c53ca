// The queue: what plays now and next. Entries move with the arrow buttons (keyboard) or by
// dragging; the list redraws whenever the player's queue changes.

import { el, iconButton, duration, artistLinks, plural } from "../ui.js";

export async function render(ctx) {
  const p = ctx.player;
  const list = el("ol", { class: "queue", "aria-label": "Queue" });
  const summary = el("p", { class: "muted", "aria-live": "polite" });
  const shuffle = el("button", { type: "button", class: "secondary", onclick: () => p.toggleShuffle() });
  const repeat = el("button", { type: "button", class: "secondary", onclick: () => p.cycleRepeat() });
  let dragged = -1;
  let focusAfter = null;

  const draw = () => {
    shuffle.textContent = p.shuffle ? "Shuffle: on" : "Shuffle: off";
    shuffle.setAttribute("aria-pressed", String(p.shuffle));
    repeat.textContent = `Repeat: ${p.repeat === "one" ? "this track" : p.repeat === "all" ? "the queue" : "off"}`;
    const left = p.queue.slice(p.index + 1).reduce((s, t) => s + (t.duration_secs || 0), 0);
    summary.textContent = p.queue.length
      ? `${plural(p.queue.length, "track")}; ${duration(left)} after this one.` : "The queue is empty. Play an album or a track to fill it.";
    list.replaceChildren(...p.queue.map((t, i) => {
      const now = i === p.index;
      const li = el("li", { class: now ? "now" : "", draggable: "true", "aria-current": now ? "true" : false, "data-track": t.id },
        el("span", { class: "grip", "aria-hidden": "true" }, "⋮⋮"),
        el("div", { class: "q-main" },
          el("button", { type: "button", class: "linklike track-title", onclick: () => p.jump(i), "aria-label": `Play ${t.title}${now ? " (playing)" : ""}` }, t.title),
          el("span", { class: "muted sub" }, artistLinks(t))),
        el("span", { class: "muted num" }, duration(t.duration_secs)),
        el("span", { class: "actions" },
          iconButton("up", `Move ${t.title} up`, () => { focusAfter = [i - 1, "up"]; p.move(i, i - 1); }, { disabled: i === 0 }),
          iconButton("down", `Move ${t.title} down`, () => { focusAfter = [i + 1, "down"]; p.move(i, i + 1); }, { disabled: i === p.queue.length - 1 }),
          iconButton("remove", `Remove ${t.title} from the queue`, () => { focusAfter = [Math.min(i, p.queue.length - 2), "remove"]; p.remove(i); })));
      li.addEventListener("dragstart", (e) => { dragged = i; e.dataTransfer.effectAllowed = "move"; li.classList.add("dragging"); });
      li.addEventListener("dragend", () => li.classList.remove("dragging"));
      li.addEventListener("dragover", (e) => { e.preventDefault(); li.classList.add("over"); });
      li.addEventListener("dragleave", () => li.classList.remove("over"));
      li.addEventListener("drop", (e) => { e.preventDefault(); li.classList.remove("over"); if (dragged >= 0) p.move(dragged, i); dragged = -1; });
      return li;
    }));
    // Keep keyboard focus on the entry that moved, so repeated presses keep moving it.
    if (focusAfter) {
      const [i, kind] = focusAfter;
      focusAfter = null;
      const row = list.children[i];
      const sel = { up: "button[aria-label^='Move'][aria-label$='up']", down: "button[aria-label$='down']", remove: "button[aria-label^='Remove']" }[kind];
      const target = row?.querySelector(`${sel}:not([disabled])`) || row?.querySelector("button");
      target?.focus();
    }
  };
  for (const e of ["queue", "track"]) {
    p.addEventListener(e, draw);
    ctx.signal.addEventListener("abort", () => p.removeEventListener(e, draw));
  }
  draw();
  ctx.page("Queue", summary,
    el("div", { class: "toolbar" }, shuffle, repeat,
      el("button", { type: "button", class: "secondary", onclick: () => p.clear() }, "Clear upcoming"),
      el("button", { type: "button", class: "secondary danger", onclick: () => p.clear(true) }, "Clear all")),
    list);
}
