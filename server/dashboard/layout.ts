/** The page shell: head (CSS and script from /dashboard/assets, nothing from elsewhere), header, logout. */
import { type Child, type Html, html } from "./html.ts";
import type { Session } from "./sessions.ts";

export interface Shell {
  title: string;
  product: string;
  session?: Session;
  /** The main content. */
  body: Child;
}

export function page(s: Shell): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="same-origin">
<link rel="icon" href="/dashboard/assets/icon.svg" type="image/svg+xml">
${s.session ? html`<meta name="csrf-token" content="${s.session.csrf}">` : ""}
<title>${s.title}</title>
<link rel="stylesheet" href="/dashboard/assets/app.css">
<script src="/dashboard/assets/app.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/dashboard">upkeep <span class="muted">${s.product}</span></a>
  ${s.session ? userBox(s.session) : ""}
</header>
<main id="main">
${s.body}
</main>
<dialog id="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-text">
  <form method="dialog">
    <h2 id="confirm-title"></h2>
    <p id="confirm-text"></p>
    <div class="buttons">
      <button value="cancel" type="submit">Cancel</button>
      <button value="ok" type="submit" class="primary" id="confirm-ok">Confirm</button>
    </div>
  </form>
</dialog>
</body>
</html>
`;
}

function userBox(session: Session): Html {
  return html`<div class="who">
    <span class="badge kind-${session.kind}" title="${session.kind === "viewer" ? "read-only: actions are hidden" : "admin: actions allowed"}">${session.kind}</span>
    <span id="live-status" class="muted" role="status" aria-live="polite"></span>
    <form method="post" action="/dashboard/logout">
      <input type="hidden" name="csrf" value="${session.csrf}">
      <button type="submit">Log out</button>
    </form>
  </div>`;
}

/** A hidden CSRF field for a form. */
export const csrfField = (session: Session) =>
  html`<input type="hidden" name="csrf" value="${session.csrf}">`;

/**
 * A POST form with one button, confirmed first: the script shows `title` and `text` in a dialog; without
 * scripts the server answers the form (sent without `confirmed`) with a page that asks the same.
 */
export function actionForm(
  session: Session,
  action: string,
  label: string,
  confirm: { title: string; text: string },
  o: { name?: string; fields?: Record<string, string>; danger?: boolean } = {},
): Html {
  return html`<form method="post" action="${action}" class="act" data-confirm-title="${confirm.title}" data-confirm-text="${confirm.text}">${csrfField(session)}${Object.entries(
    o.fields ?? {},
  ).map(
    ([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`,
  )}<button type="submit"${o.danger ? html` class="danger"` : ""} aria-label="${o.name ?? label}">${label}</button></form>`;
}
