/**
 * The dashboard's one script, served at /dashboard/assets/app.js (no build step, no framework): the live
 * refresh (a light poll every 3 s while the page is visible: the server answers 304 when nothing changed),
 * and the confirmation dialog of each action, which it then posts with the session's CSRF token and shows
 * the result or refusal of. The page works without it (plain links and forms, a confirmation page).
 */
export const APP_JS = `"use strict";
(() => {
  const POLL_MS = 3000;
  const root = document.querySelector("[data-live]");
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? "";
  const status = document.getElementById("live-status");
  const result = document.getElementById("result");
  let stamp = root?.getAttribute("data-stamp") ?? null;
  let busy = false;

  const setStatus = (kind, text) => {
    if (!status) return;
    status.textContent = text;
    status.dataset.kind = kind;
  };
  const expired = () => { location.href = "/dashboard/login?expired=1"; };

  // A section holding the element being typed in is left alone until the next change.
  const typing = (el) => {
    const a = document.activeElement;
    return a && el.contains(a) && (a.tagName === "INPUT" || a.tagName === "SELECT" || a.tagName === "TEXTAREA");
  };

  const replace = (name, markup) => {
    const el = root.querySelector('[data-live-section="' + name + '"]');
    if (!el || typing(el)) return false;
    const focused = document.activeElement && el.contains(document.activeElement)
      ? document.activeElement.getAttribute("aria-label") : null;
    const t = document.createElement("template");
    t.innerHTML = markup;
    const next = t.content.firstElementChild;
    if (!next) return false;
    el.replaceWith(next);
    if (focused) next.querySelector('[aria-label="' + CSS.escape(focused) + '"]')?.focus();
    return true;
  };

  async function refresh() {
    if (!root || busy) return;
    busy = true;
    try {
      const headers = { accept: "application/json" };
      if (stamp) headers["if-none-match"] = stamp;
      const r = await fetch(root.dataset.live + location.search, { headers, cache: "no-store" });
      if (r.status === 401) return expired();
      if (r.status === 200) {
        const body = await r.json();
        let all = true;
        for (const [name, markup] of Object.entries(body.sections)) all = replace(name, markup) && all;
        stamp = all ? body.stamp : null;
      }
      if (r.status === 200 || r.status === 304) setStatus("live", "live, checked " + new Date().toLocaleTimeString());
      else setStatus("error", "refresh failed (" + r.status + "), retrying");
    } catch {
      setStatus("error", "server unreachable, retrying");
    } finally {
      busy = false;
    }
  }

  if (root) {
    setStatus("live", "live");
    setInterval(() => { if (document.visibilityState === "visible") refresh(); }, POLL_MS);
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") refresh(); });
  }

  const show = (ok, text) => {
    if (!result) return;
    result.className = ok === null ? "" : ok ? "ok" : "refused";
    result.textContent = text;
  };

  async function send(url, form) {
    const data = new URLSearchParams(new FormData(form));
    data.set("confirmed", "1");
    show(null, "working...");
    try {
      const r = await fetch(url, {
        method: "POST",
        body: data,
        headers: { accept: "application/json", "x-csrf-token": csrf },
      });
      if (r.status === 401) return expired();
      const body = await r.json().catch(() => ({ ok: false, error: "HTTP " + r.status }));
      // A refusal from the API's error handler is {"error": {"message"}} (Teleport's shape).
      show(body.ok === true, body.message ?? body.error?.message ?? body.error ?? "HTTP " + r.status);
    } catch (e) {
      show(false, "the server did not answer: " + e.message);
    }
    stamp = null;
    refresh();
  }

  const dialog = document.getElementById("confirm");
  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirmTitle || !dialog) return;
    ev.preventDefault();
    document.getElementById("confirm-title").textContent = form.dataset.confirmTitle;
    document.getElementById("confirm-text").textContent = form.dataset.confirmText ?? "";
    dialog.returnValue = "";
    const url = form.action;
    const copy = form.cloneNode(true);
    dialog.addEventListener("close", () => { if (dialog.returnValue === "ok") send(url, copy); }, { once: true });
    dialog.showModal();
    document.getElementById("confirm-ok")?.focus();
  });
})();
`;
