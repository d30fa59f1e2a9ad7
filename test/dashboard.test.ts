/**
 * The dashboard in a real browser (issue 14): Debian's Chromium, headless, driven by playwright-core,
 * against a real `dist/upkeep serve` on loopback with agents that reported through POST /v1/agents/report.
 * Log in, see the groups and their states, apply an action through its confirmation and see the state
 * change, see a change made elsewhere arrive without a reload, a refused action shows its 409 reason,
 * a viewer sees no actions and is refused one, log out; the token never reaches the page, a URL, the
 * browser's storage or a cookie. Screenshots of the main views go to the test's temp dir.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN, AGENT_TOKEN, type World } from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";
import {
  api,
  type Browser,
  dashboardWorld,
  HAS_CHROMIUM,
  launchChromium,
  logIn,
  type Page,
  report,
  screenshot,
  waitText,
} from "./dashboard_browser.ts";

const group = (page: Page, name: string) => page.locator(`article[data-group="${name}"]`);
const badge = (page: Page, name: string) => group(page, name).locator("header .badge").first();

describe.skipIf(!HAS_CHROMIUM)("dashboard in Chromium", () => {
  let w: World;
  let browser: Browser;
  beforeAll(async () => {
    [w, browser] = await Promise.all([dashboardWorld(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await w?.stop();
  });

  test("log in, groups, an action with its confirmation, a 409, a live change, log out; no token leaks", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    const urls: string[] = [];
    page.on("request", (r) => urls.push(r.url()));
    const htmls: string[] = [];
    page.on("response", async (r) => {
      if ((r.headers()["content-type"] ?? "").match(/html|json/)) htmls.push(await r.text().catch(() => ""));
    });

    // `/` leads to the login form; the token goes in a POST body, never a URL.
    await logIn(page, w.url, ADMIN);
    expect(await badge(page, "canary").textContent()).toBe("not started");
    expect(await badge(page, "prod").textContent()).toBe("not started");
    expect(await group(page, "canary").locator(".reason").textContent()).toContain("waiting for its window");
    expect(await group(page, "prod").locator(".reason").textContent()).toContain(
      "waiting for earlier group canary",
    );
    expect(await page.locator("#hosts tbody tr").count()).toBe(4);
    await screenshot(page, w.dir, "dashboard-start");

    // An action: the confirmation says what the CLI says it does; then the state changes.
    const help = await upkeep(["admin", "rollout", "start", "--help"]);
    const words = /start a group now \(order and wait_hours still hold; canaries first if configured\)/;
    expect(help.stdout.replace(/\s+/g, " ")).toMatch(words);
    await group(page, "canary").getByRole("button", { name: "Start group canary" }).click();
    const dialog = page.locator("dialog#confirm");
    await dialog.waitFor({ state: "visible" });
    expect(await dialog.locator("#confirm-text").textContent()).toMatch(words);
    await screenshot(page, w.dir, "dashboard-confirm", { fullPage: false, docs: true });
    await dialog.getByRole("button", { name: "Confirm" }).click();
    await waitText(page.locator("#result"), "group canary: canary");
    await waitText(badge(page, "canary"), "canaries updating");
    expect(await group(page, "canary").locator("table.mini caption").first().textContent()).toBe("Canaries");

    // A refused action shows the server's 409 and why.
    await group(page, "prod").getByRole("button", { name: "Start group prod" }).click();
    await dialog.getByRole("button", { name: "Confirm" }).click();
    await waitText(
      page.locator("#result"),
      "refused (409): cannot start group prod: earlier group canary is canary, not done",
    );
    expect(await page.locator("#result").getAttribute("class")).toBe("refused");

    // A change made elsewhere (the canary host updates and reports) arrives without a reload.
    await page.evaluate("window.marker = 42");
    await report(w, {
      updater_id: "c-1",
      hostname: "canary-1",
      group: "canary",
      version: "1.1.0",
      state: "ok",
    });
    await waitText(badge(page, "canary"), /^done$/, 20_000);
    expect(await page.evaluate("window.marker")).toBe(42);
    await waitText(page.locator(".legend"), "canary: 1");
    await screenshot(page, w.dir, "dashboard", { docs: true });

    // A host's page: its recent reports, newest first.
    await page.locator("#hosts").getByRole("link", { name: "canary-1" }).click();
    await page.waitForURL(`${w.url}/dashboard/hosts/c-1`);
    const reports = await page.locator("section:has(#h-reports) tbody tr").allTextContents();
    expect(reports.map((r) => (r.includes("1.1.0") ? "1.1.0" : r.includes("1.0.0") ? "1.0.0" : r))).toEqual([
      "1.1.0",
      "1.0.0",
    ]);
    await page.getByRole("link", { name: "← all hosts" }).click();
    await page.waitForURL(`${w.url}/dashboard#hosts`);

    // Hosts: filter by hostname prefix (a GET form, filtered and paged on the server).
    await page.getByLabel("Hostname").fill("prod-");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/hostname=prod-/);
    expect(await page.locator("#hosts tbody tr").count()).toBe(3);

    // No token anywhere: pages and live answers, URLs, storage, cookies.
    const storage = String(await page.evaluate("JSON.stringify({ ...localStorage, ...sessionStorage })"));
    const cookies = await ctx.cookies();
    expect(cookies.map((c) => c.name)).toEqual(["upkeep_session"]);
    const session = cookies[0] as (typeof cookies)[number];
    expect([session.httpOnly, session.sameSite, session.path]).toEqual([true, "Strict", "/dashboard"]);
    expect(await page.evaluate("document.cookie")).toBe("");
    for (const secret of [ADMIN, AGENT_TOKEN]) {
      expect(urls.filter((u) => u.includes(secret))).toEqual([]);
      expect(htmls.filter((h) => h.includes(secret))).toEqual([]);
      expect(storage).not.toContain(secret);
      expect(session.value).not.toContain(secret);
    }
    expect(htmls.length).toBeGreaterThan(3);

    // Log out: back to the form, and the old session cookie opens nothing any more.
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(`${w.url}/dashboard/login`);
    const again = await fetch(`${w.url}/dashboard`, {
      headers: { cookie: `upkeep_session=${session.value}` },
      redirect: "manual",
    });
    expect([again.status, again.headers.get("location")]).toEqual([303, "/dashboard/login"]);
    await ctx.close();
  });

  test("a viewer token: the page without actions, and an action it sends anyway is refused (403)", async () => {
    const { token } = (await api(w, "POST", "/v1/tokens", { type: "viewer", name: "wall" })) as {
      token: string;
    };
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: "dark" });
    const page = await ctx.newPage();
    await logIn(page, w.url, token);
    await waitText(page.locator(".who .badge"), /^viewer$/);
    expect(await page.locator("article[data-group] .actions").count()).toBe(0);
    expect(await page.locator("form.act").count()).toBe(0);
    const status = await page.evaluate(`(async () => {
      const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
      const r = await fetch("/dashboard/groups/prod/force", {
        method: "POST",
        body: new URLSearchParams({ csrf, confirmed: "1" }),
        headers: { accept: "application/json" },
      });
      return [r.status, (await r.json()).error];
    })()`);
    expect(status).toEqual([403, "this is a viewer session (read-only): log in with an admin token to act"]);
    // Readable at a phone's width: nothing wider than the screen (wide tables scroll in their box).
    expect(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")).toBe(true);
    await screenshot(page, w.dir, "dashboard-phone-dark", { docs: true });
    await ctx.close();
  });

  test("a wrong token and an agent token are refused at the login form", async () => {
    const page = await browser.newPage();
    for (const [token, words] of [
      ["not-a-token", "this token is not valid on this server"],
      [AGENT_TOKEN, "an agent token only sends reports"],
    ] as const) {
      await page.goto(`${w.url}/dashboard/login`);
      await page.getByLabel("Token").fill(token);
      await page.getByRole("button", { name: "Log in" }).click();
      await waitText(page.getByRole("alert"), words);
      expect(page.url()).toBe(`${w.url}/dashboard/login`);
    }
    await page.close();
  });
});
