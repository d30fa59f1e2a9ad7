/**
 * Helpers for the install tests: an artifact host on loopback that can cut a response halfway, redirect,
 * or lie about sizes (a raw HTTP/1.1 server over node:net, so the test controls every byte); signed custom
 * archives; a tar entry builder.
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join, normalize } from "node:path";
import { gzipSync } from "node:zlib";
import { hashFile } from "../core/sys/hash.ts";
import { signFile } from "../core/sys/signing.ts";
import { formatArtifactName } from "../core/trust/artifact_name.ts";
import { buildManifest } from "../core/trust/build_manifest.ts";
import { encodeUtf8 } from "../core/trust/encoding.ts";
import { manifestFileName, serializeManifest } from "../core/trust/manifest.ts";
import { type SecretKey, signBytes } from "../core/trust/minisign.ts";
import { tarHeader } from "../scripts/fake-release.ts";

export interface HostRequest {
  path: string;
  range?: string;
}

export interface Host {
  url: string;
  requests: HostRequest[];
  /** Paths whose next response is cut after half the body (the socket destroyed). */
  cutOnce: Set<string>;
  /** Path -> Location for a 302. */
  redirects: Map<string, string>;
  /** Path -> bytes served instead of the file (a tampering mirror). */
  overrides: Map<string, Uint8Array>;
  /** Path -> extra response headers (e.g. a mislabelled `content-encoding`). */
  extraHeaders: Map<string, Record<string, string>>;
  /** Delay between 64 KiB writes of a body (a slow link), ms. */
  throttleMs: number;
  stop(): Promise<void>;
}

function headersOf(head: string): { method: string; path: string; headers: Record<string, string> } {
  const [line = "", ...rest] = head.split("\r\n");
  const [method = "", target = "/"] = line.split(" ");
  const headers: Record<string, string> = {};
  for (const h of rest) {
    const i = h.indexOf(":");
    if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  return { method, path: decodeURIComponent(target.split("?")[0] ?? "/"), headers };
}

function send(
  sock: Socket,
  status: string,
  headers: Record<string, string | number>,
  body?: Uint8Array,
): void {
  const lines = [`HTTP/1.1 ${status}`, "connection: close"];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  sock.write(`${lines.join("\r\n")}\r\n\r\n`);
  if (body) sock.write(body);
  sock.end();
}

async function writeThrottled(sock: Socket, body: Uint8Array, ms: number): Promise<void> {
  for (let off = 0; off < body.length && !sock.destroyed; off += 65536) {
    sock.write(body.subarray(off, off + 65536));
    await Bun.sleep(ms);
  }
  sock.end();
}

/** Serves files under `root` on 127.0.0.1 (random port). GET only, Range `bytes=N-` supported. */
export async function startHost(root: string): Promise<Host> {
  const sockets = new Set<Socket>();
  const host: Host = {
    url: "",
    requests: [],
    cutOnce: new Set(),
    redirects: new Map(),
    overrides: new Map(),
    extraHeaders: new Map(),
    throttleMs: 0,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      sock.off("data", onData);
      const { path, headers } = headersOf(buf.subarray(0, end).toString("latin1"));
      host.requests.push({ path, ...(headers.range ? { range: headers.range } : {}) });
      const location = host.redirects.get(path);
      if (location) return send(sock, "302 Found", { location, "content-length": 0 });
      const file = normalize(join(root, path));
      const override = host.overrides.get(path);
      if (!override && (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile())) {
        return send(sock, "404 Not Found", { "content-length": 9 }, encodeUtf8("not found"));
      }
      const data = override ?? new Uint8Array(readFileSync(file));
      let start = 0;
      const m = /^bytes=(\d+)-$/.exec(headers.range ?? "");
      if (m) start = Number(m[1]);
      if (start > data.length) {
        return send(sock, "416 Range Not Satisfiable", {
          "content-range": `bytes */${data.length}`,
          "content-length": 0,
        });
      }
      const body = data.subarray(start);
      const head: Record<string, string | number> = {
        "content-length": body.length,
        "content-type": "application/octet-stream",
      };
      Object.assign(head, host.extraHeaders.get(path) ?? {});
      const status = m ? "206 Partial Content" : "200 OK";
      if (m) head["content-range"] = `bytes ${start}-${data.length - 1}/${data.length}`;
      if (host.cutOnce.has(path)) {
        host.cutOnce.delete(path);
        const lines = [`HTTP/1.1 ${status}`, "connection: close"];
        for (const [k, v] of Object.entries(head)) lines.push(`${k}: ${v}`);
        sock.write(`${lines.join("\r\n")}\r\n\r\n`);
        sock.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => sock.destroy(), 20));
        return;
      }
      if (host.throttleMs > 0) {
        const lines = [`HTTP/1.1 ${status}`, "connection: close"];
        for (const [k, v] of Object.entries(head)) lines.push(`${k}: ${v}`);
        sock.write(`${lines.join("\r\n")}\r\n\r\n`);
        void writeThrottled(sock, body, host.throttleMs);
        return;
      }
      send(sock, status, head, body);
    };
    sock.on("data", onData);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const addr = server.address();
  host.url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  return host;
}

// --- tar entries ---------------------------------------------------------------------------------------

function pad(n: number): Uint8Array {
  return new Uint8Array((512 - (n % 512)) % 512);
}

export const tar = {
  file(name: string, data: string | Uint8Array = "", mode = 0o644): Uint8Array[] {
    const bytes = typeof data === "string" ? encodeUtf8(data) : data;
    return [tarHeader({ name, mode, size: bytes.length }), bytes, pad(bytes.length)];
  },
  dir(name: string, mode = 0o755): Uint8Array[] {
    return [tarHeader({ name: name.endsWith("/") ? name : `${name}/`, mode, type: "5" })];
  },
  symlink(name: string, target: string): Uint8Array[] {
    return [tarHeader({ name, type: "2", linkname: target, mode: 0o777 })];
  },
  hardlink(name: string, target: string): Uint8Array[] {
    return [tarHeader({ name, type: "1", linkname: target })];
  },
  raw(name: string, type: string, size = 0, mode = 0o644): Uint8Array[] {
    const body = new Uint8Array(size);
    return [tarHeader({ name, type, size, mode }), body, pad(size)];
  },
  /** A pax extended header (`x`, or `g` for global). */
  pax(records: Record<string, string>, type: "x" | "g" = "x"): Uint8Array[] {
    let body = "";
    for (const [k, v] of Object.entries(records)) {
      const rec = ` ${k}=${v}\n`;
      let len = rec.length + 1;
      while (`${len}${rec}`.length !== len) len = `${len}${rec}`.length;
      body += `${len}${rec}`;
    }
    const bytes = encodeUtf8(body);
    return [tarHeader({ name: "PaxHeader", type, size: bytes.length }), bytes, pad(bytes.length)];
  },
  /** A GNU long name (`L`) or long link name (`K`) record. */
  gnuLong(name: string, type: "L" | "K" = "L"): Uint8Array[] {
    const bytes = encodeUtf8(`${name}\0`);
    return [tarHeader({ name: "././@LongLink", type, size: bytes.length }), bytes, pad(bytes.length)];
  },
  end(): Uint8Array[] {
    return [new Uint8Array(1024)];
  },
};

export function tarGz(...entries: Uint8Array[][]): Uint8Array {
  return gzipSync(Buffer.concat(entries.flat()));
}

// --- signed releases of custom archives ---------------------------------------------------------------

export interface CustomArtifact {
  version: string;
  gz: Uint8Array;
  os?: string;
  arch?: string;
}

/** Writes artifacts (signed, with .sha256) and a signed manifest listing them into `dir`. */
export async function publishCustom(
  dir: string,
  sk: SecretKey,
  artifacts: CustomArtifact[],
  opts: {
    product?: string;
    os: string;
    arch: string;
    floor?: string;
    serial?: number;
    sizeOverride?: number;
    /** The manifest's unpacked_size for every artifact (left out when not given). */
    unpackedSize?: number;
  },
): Promise<{ names: string[] }> {
  const product = opts.product ?? "hello";
  mkdirSync(dir, { recursive: true });
  const facts: { name: string; size: number; sha256: string; unpacked_size?: number }[] = [];
  for (const a of artifacts) {
    const name = formatArtifactName({
      product,
      edition: "oss",
      version: a.version,
      os: a.os ?? opts.os,
      arch: a.arch ?? opts.arch,
      fips: false,
    });
    const path = join(dir, name);
    writeFileSync(path, a.gz);
    writeFileSync(`${path}.minisig`, await signFile(path, sk));
    const h = await hashFile(path, ["sha256"]);
    facts.push({
      name,
      size: opts.sizeOverride ?? h.size,
      sha256: h.sha256 ?? "",
      ...(opts.unpackedSize === undefined ? {} : { unpacked_size: opts.unpackedSize }),
    });
  }
  const now = new Date();
  const manifest = buildManifest({
    product,
    serial: opts.serial ?? 1,
    issued: now,
    expires: new Date(now.getTime() + 86_400_000),
    ...(opts.floor ? { floor: opts.floor } : {}),
    artifacts: facts,
  });
  const mname = manifestFileName(product);
  const bytes = encodeUtf8(serializeManifest(manifest));
  writeFileSync(join(dir, mname), bytes);
  writeFileSync(join(dir, `${mname}.minisig`), await signBytes(sk, bytes, mname, now.getTime() / 1000));
  return { names: facts.map((f) => f.name) };
}

/** Every path under `dir` (relative, sorted), links not followed. */
export function walk(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    out.push(rel);
    if (lstatSync(join(dir, name)).isDirectory()) out.push(...walk(join(dir, name), rel));
  }
  return out;
}
