// Sign in and register.

import { api, signIn } from "../api.js";
import { el, notify } from "../ui.js";

export async function render(ctx) {
  return ctx.path === "/register" && ctx.server.registration !== "closed" ? register(ctx) : signin(ctx);
}

function field(label, attrs) {
  return el("label", {}, label, el("input", attrs));
}

function signin(ctx) {
  const error = el("p", { class: "error-text", role: "alert", hidden: true });
  const button = el("button", { type: "submit" }, "Sign in");
  const form = el("form", { "aria-label": "Sign in", class: "stack" },
    field("Username", { name: "username", autocomplete: "username", required: true, autofocus: true }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    error, button);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    button.disabled = true;
    error.hidden = true;
    try {
      await signIn(f.get("username"), f.get("password"));
      notify("");
      ctx.done();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      button.disabled = false;
    }
  });
  const extra = ctx.server.registration !== "closed"
    ? el("p", {}, "No account? ", el("a", { href: "register" }, "Register")) : null;
  ctx.page("Sign in", el("div", { class: "card narrow" }, form, extra));
  form.querySelector("input").focus();
}

function register(ctx) {
  const fields = [
    field("Username", { name: "username", autocomplete: "username", required: true, minlength: 3, maxlength: 32, pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]*", "aria-describedby": "username-help" }),
    el("small", { id: "username-help", class: "muted" }, "3 to 32 letters, digits, _ . or -"),
    field("Password", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 8, "aria-describedby": "password-help" }),
    el("small", { id: "password-help", class: "muted" }, "At least 8 characters"),
  ];
  if (ctx.server.registration === "invite") fields.push(field("Invite code", { name: "invite_code", required: true }));
  const error = el("p", { class: "error-text", role: "alert", hidden: true });
  const form = el("form", { "aria-label": "Register", class: "stack" }, ...fields, error, el("button", { type: "submit" }, "Create account"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(form));
    try {
      await api("api/v1/auth/register", { method: "POST", body: f, auth: false });
      await signIn(f.username, f.password);
      ctx.done();
    } catch (err) { error.textContent = err.message; error.hidden = false; }
  });
  ctx.page("Register", el("div", { class: "card narrow" }, form, el("p", {}, "Have an account? ", el("a", { href: "signin" }, "Sign in"))));
}
