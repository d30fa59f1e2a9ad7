/** Serving a file from disk: ETag, `If-None-Match` and single-range requests (RFC 9110). */
import type { Context } from "hono";

/** `If-None-Match`: `*`, or a list of entity tags compared weakly (a `W/` prefix does not matter). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const strip = (t: string) => t.trim().replace(/^W\//, "");
  return header.split(",").some((t) => t.trim() === "*" || strip(t) === strip(etag));
}

/** A file with ETag and single-range support. */
export function fileResponse(c: Context, path: string, size: number, etag: string): Response {
  const file = Bun.file(path);
  const headers: Record<string, string> = {
    etag,
    "accept-ranges": "bytes",
    "content-type": "application/octet-stream",
  };
  if (matchesEtag(c.req.header("if-none-match"), etag)) return new Response(null, { status: 304, headers });
  const range = c.req.header("range");
  const ifRange = c.req.header("if-range");
  // One range is served; several, or one that is not valid syntax (e.g. 5-2), is ignored: the whole file
  // (RFC 9110 §14.2). A valid range that starts past the end is 416.
  const m = range && (!ifRange || ifRange === etag) ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
  const valid = m !== null && (m[1] !== "" || m[2] !== "") && !(m[1] && m[2] && Number(m[1]) > Number(m[2]));
  if (m && valid) {
    let start = m[1] ? Number(m[1]) : Math.max(0, size - Number(m[2]));
    let end = m[1] && m[2] ? Number(m[2]) : size - 1;
    if (!m[1] && Number(m[2]) === 0) start = size; // bytes=-0: nothing
    if (start >= size) {
      return new Response(null, { status: 416, headers: { ...headers, "content-range": `bytes */${size}` } });
    }
    end = Math.min(end, size - 1);
    const body = c.req.method === "HEAD" ? null : file.slice(start, end + 1);
    return new Response(body, {
      status: 206,
      headers: {
        ...headers,
        "content-range": `bytes ${start}-${end}/${size}`,
        "content-length": String(end - start + 1),
      },
    });
  }
  return new Response(c.req.method === "HEAD" ? null : file, {
    status: 200,
    headers: { ...headers, "content-length": String(size) },
  });
}
