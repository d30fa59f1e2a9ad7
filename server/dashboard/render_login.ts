/** The login page, the confirmation page of a form sent without scripts, and plain messages. */
import { type Child, type Html, html } from "./html.ts";
import { page } from "./layout.ts";
import type { Session } from "./sessions.ts";

export function loginPage(product: string, message?: string): Html {
  return page({
    title: `upkeep: log in`,
    product,
    body: html`<section class="card login" aria-labelledby="h-login">
<h1 id="h-login">Log in</h1>
${message ? html`<p class="refused" role="alert">${message}</p>` : ""}
<form method="post" action="/dashboard/login">
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="off" required spellcheck="false">
<button type="submit" class="primary">Log in</button>
</form>
<p class="muted">An admin token (the one <code>upkeep serve</code> printed at its first start, or
<code>UPKEEP_ADMIN_TOKEN</code>) can act on the rollout; a viewer token (<code>upkeep admin tokens add --type viewer</code>)
only reads. The token is checked once and never kept in the page or the browser: a session cookie stands for it.</p>
</section>`,
  });
}

/** Asks again, for a form sent without the script's confirmation. */
export function confirmPage(
  product: string,
  session: Session,
  action: string,
  confirm: { title: string; text: string },
  fields: Record<string, string>,
): Html {
  return page({
    title: confirm.title,
    product,
    session,
    body: html`<section class="card" aria-labelledby="h-confirm">
<h1 id="h-confirm">${confirm.title}</h1>
<p>${confirm.text}</p>
<form method="post" action="${action}">
<input type="hidden" name="csrf" value="${session.csrf}">
<input type="hidden" name="confirmed" value="1">
${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
<button type="submit" class="primary">Confirm</button> <a href="/dashboard">Cancel</a>
</form>
</section>`,
  });
}

export function messagePage(product: string, title: string, message: Child, session?: Session): Html {
  return page({
    title,
    product,
    ...(session ? { session } : {}),
    body: html`<section class="card"><h1>${title}</h1><p>${message}</p><p><a href="/dashboard">Back to the dashboard</a></p></section>`,
  });
}
