/**
 * Whether two server (or base) URLs name the same place: scheme and host compared as URLs (case, a default
 * port), the path without trailing slashes; query and fragment ignored. Used by `tools login` to decide what
 * carries over from the saved login. Not on the shim's path.
 */
export function sameServer(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return normalizeServer(a) === normalizeServer(b);
}

function normalizeServer(u: string): string {
  const trimmed = u.trim();
  try {
    const url = new URL(trimmed);
    if (url.origin !== "null") return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  } catch {}
  return trimmed.replace(/\/+$/, "");
}
