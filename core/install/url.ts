/**
 * Which download URLs a host accepts (DESIGN §5): https; plain http only for loopback (tests, a local
 * mirror) or with an explicit --insecure. Pure.
 */
import { UsageError } from "../errors.ts";

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  if (h === "localhost" || h === "[::1]" || h === "::1") return true;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return m !== null && m[1] === "127" && m.slice(2).every((o) => Number(o) <= 255);
}

/** Throws a UsageError E_INSECURE_URL naming the URL unless it may be fetched. */
export function checkUrl(url: string, insecure: boolean): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`"${url}" is not a URL`, { code: "E_INSECURE_URL" });
  }
  if (u.protocol === "https:") return;
  if (u.protocol === "http:") {
    if (isLoopbackHost(u.hostname) || insecure) return;
    throw new UsageError(`refusing plain http for ${url}: only https, except on loopback`, {
      code: "E_INSECURE_URL",
      hint: "use an https URL, or pass --insecure to accept plain http",
    });
  }
  throw new UsageError(`refusing ${url}: only https (or http on loopback) URLs are fetched`, {
    code: "E_INSECURE_URL",
  });
}

/** `<base>/<name>`: one slash between, the name escaped. */
export function joinUrl(base: string, name: string): string {
  return `${base.replace(/\/+$/, "")}/${encodeURIComponent(name)}`;
}
