// Someone's page: their public playlists, and following them.

import { api } from "../api.js";
import { el, failed } from "../ui.js";
import { toggle, playlistCards } from "../social.js";

export async function render(ctx) {
  const id = ctx.params.id;
  const [u, lists, mine] = await Promise.all([
    api(`api/v1/users/${id}`, { signal: ctx.signal }),
    api(`api/v1/playlists?owner=${id}`, { signal: ctx.signal }).catch((e) => e),
    id === ctx.me.id ? null : api(`api/v1/users/${ctx.me.id}/following?limit=500`, { signal: ctx.signal }).catch(() => null),
  ]);
  const name = u.display_name || u.username;
  const follow = mine ? toggle({
    pressed: mine.users.some((x) => x.id === id),
    text: (on) => on ? "Following" : "Follow",
    label: (on) => on ? `Unfollow ${name}` : `Follow ${name}`,
    change: async (on) => (await api(`api/v1/users/${id}/follow`, { method: on ? "PUT" : "DELETE" })).following,
  }) : null;
  ctx.page(name,
    el("p", { class: "muted" }, `@${u.username}`),
    u.bio ? el("p", {}, u.bio) : null,
    follow ? el("div", { class: "toolbar" }, follow) : null,
    el("section", { "aria-labelledby": "upl-h" }, el("h2", { id: "upl-h" }, "Public playlists"),
      lists instanceof Error ? failed(lists) : lists.items.length ? playlistCards(lists.items) : el("p", { class: "muted" }, "No public playlists.")));
}
