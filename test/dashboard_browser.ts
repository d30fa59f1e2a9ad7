/**
 * Debian's Chromium, headless, driven by playwright-core (no browser download): the flags the machine
 * needs (no sandbox as root, no GPU, no background connections to a closed network) and a fresh profile
 * per launch (playwright makes a new empty --user-data-dir under TMPDIR and removes it on close).
 * Also the dashboard's test world: a real `dist/upkeep serve` with agents that reported.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { ADMIN, AGENT_TOKEN, startWorld, type World } from "./agent_helpers.ts";

export const CHROMIUM = process.env.UPKEEP_CHROMIUM ?? "/usr/bin/chromium";
export const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM && process.env.CI === "true")
  throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/**
 * A screenshot into the test's temp dir (DIR/screenshots/NAME.png); with UPKEEP_SCREENSHOTS=DOCS, the ones
 * marked `docs` also into DOCS (`UPKEEP_SCREENSHOTS=docs` refreshes the README's pictures).
 */
export async function screenshot(
  page: Page,
  dir: string,
  name: string,
  o: { fullPage?: boolean; docs?: boolean } = {},
): Promise<string> {
  const path = join(dir, "screenshots", `${name}.png`);
  mkdirSync(join(dir, "screenshots"), { recursive: true });
  const fullPage = o.fullPage ?? true;
  await page.screenshot({ path, fullPage });
  const docs = process.env.UPKEEP_SCREENSHOTS;
  if (docs && o.docs) await page.screenshot({ path: join(docs, `${name}.png`), fullPage });
  return path;
}

/** The API with the admin token (what the CLI does), for setting up and for changes from "outside". */
export async function api(w: World, method: string, path: string, body?: unknown, token = ADMIN) {
  const r = await fetch(`${w.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

export interface Report {
  updater_id: string;
  hostname: string;
  group: string;
  version: string;
  state: "ok" | "updating" | "failed" | "rolledback";
  error?: string;
  failed_version?: string;
}

export const report = (w: World, r: Report) => api(w, "POST", "/v1/agents/report", r, AGENT_TOKEN);

/**
 * A serve with a halt-on-error rollout 1.0.0 -> 1.1.0 over two groups whose windows are closed now
 * (`canary`: one canary; `prod`), and four agents on 1.0.0: one in canary, three in prod.
 */
export async function dashboardWorld(): Promise<World> {
  const w = await startWorld("dashboard");
  const closed = (new Date().getUTCHours() + 12) % 24;
  await api(w, "PUT", "/v1/resources/autoupdate_config", {
    kind: "autoupdate_config",
    spec: {
      agents: {
        mode: "enabled",
        strategy: "halt-on-error",
        schedules: {
          regular: [
            { name: "canary", days: ["*"], start_hour: closed, canary_count: 1 },
            { name: "prod", days: ["*"], start_hour: closed, wait_hours: 0 },
          ],
        },
      },
      tools: { mode: "enabled" },
    },
  });
  await api(w, "POST", "/v1/apply?force=1", {
    resources: [
      {
        kind: "autoupdate_version",
        spec: {
          agents: { start_version: "1.0.0", target_version: "1.1.0", schedule: "regular", mode: "enabled" },
        },
      },
    ],
  });
  await report(w, {
    updater_id: "c-1",
    hostname: "canary-1",
    group: "canary",
    version: "1.0.0",
    state: "ok",
  });
  for (const i of [1, 2, 3])
    await report(w, {
      updater_id: `p-${i}`,
      hostname: `prod-${i}`,
      group: "prod",
      version: "1.0.0",
      state: "ok",
    });
  return w;
}

/** Logs in through the form. */
export async function logIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${url}/dashboard`);
}

export type { Browser, BrowserContext, Page };

/** Waits until the element's text contains `want` (or matches it); fails with the last text seen. */
export async function waitText(
  loc: ReturnType<Page["locator"]>,
  want: string | RegExp,
  timeoutMs = 10_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    last = (
      (await loc
        .first()
        .textContent({ timeout: timeoutMs })
        .catch(() => "")) ?? ""
    ).trim();
    if (typeof want === "string" ? last.includes(want) : want.test(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`waited ${timeoutMs} ms for ${String(want)}; text is ${JSON.stringify(last)}`);
    await Bun.sleep(100);
  }
}
