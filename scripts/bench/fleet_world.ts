/**
 * The world of a fleet simulator run (scripts/bench/fleet.ts): its temp dir, the serves it started, the tokens,
 * the signed releases and the config published to each serve, and the simulated fleets it makes.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPair } from "../../core/trust/minisign.ts";
import { makeFakeRelease } from "../fake-release.ts";
import { farHour, haltOnErrorConfig } from "./_util.ts";
import { type FleetArgs, ROOT } from "./fleet_args.ts";
import { START_A, TARGET_A, VERSIONS } from "./fleet_model.ts";
import { pinSelf, ServeProc, type ServeSpec } from "./fleet_serve.ts";
import { Fleet } from "./fleet_sim.ts";

export const out = (line = "") => console.log(line);

export function versionDoc(start: number, target: number) {
  return {
    kind: "autoupdate_version",
    spec: {
      agents: {
        start_version: VERSIONS[start],
        target_version: VERSIONS[target],
        schedule: "regular",
        mode: "enabled",
      },
    },
  };
}

export class World {
  readonly a: FleetArgs;
  readonly dir = mkdtempSync(join(tmpdir(), "upkeep-fleet-"));
  /** The serves running now (stopped by `cleanup`). */
  readonly live = new Set<ServeProc>();
  readonly admin = `admin-${crypto.randomUUID()}`;
  readonly agent = `agent-${crypto.randomUUID()}`;
  /** Serve on CPU 0, this process on CPU 1. */
  readonly pinned: boolean;
  #cleaning = false;

  constructor(a: FleetArgs) {
    this.a = a;
    this.pinned = !a.noPin && cpus().length >= 2 && Bun.which("taskset") !== null && pinSelf("1");
  }

  async cleanup(): Promise<void> {
    if (this.#cleaning) return;
    this.#cleaning = true;
    for (const s of this.live) await s.stop().catch(() => {});
    if (!this.a.keep) rmSync(this.dir, { recursive: true, force: true });
    else out(`kept ${this.dir}`);
  }

  api(base: string, method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${this.admin}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  async apiJson(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
    const r = await this.api(base, method, path, body);
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 500)}`);
    return JSON.parse(text);
  }

  /** Signed releases of every version of the run and their manifest (made once, published to each serve). */
  async makeRelease(): Promise<string[]> {
    const { secretKey } = await generateKeyPair();
    const rel = await makeFakeRelease({
      out: join(this.dir, "release"),
      versions: [...VERSIONS],
      key: secretKey,
    });
    const files = rel.artifacts.flatMap((a) => [a.path, `${a.path}.sha256`, `${a.path}.minisig`]);
    // The manifest last, as `upkeep admin publish` uploads it: it names artifacts already there.
    return [...files, rel.manifestPath, `${rel.manifestPath}.minisig`];
  }

  /** G halt-on-error groups, each started by an operator `start` in order (windows 12 hours away). */
  configDoc() {
    const { canaries } = this.a;
    return haltOnErrorConfig(
      farHour(),
      this.a.groups.map((name, i) => ({ name, canary_count: canaries, ...(i > 0 ? { wait_hours: 0 } : {}) })),
    );
  }

  /** A fresh serve (own data dir), releases published, the config and rollout A's versions applied. */
  async newServe(name: string, release: string[]): Promise<ServeProc> {
    const dataDir = join(this.dir, name);
    mkdirSync(dataDir, { recursive: true });
    const config = join(this.dir, `${name}.yaml`);
    writeFileSync(config, `agent_update_jitter_seconds: ${this.a.jitter}\n`);
    const spec: ServeSpec = {
      command: this.a.command,
      dataDir,
      config,
      args: this.a.serveArgs,
      env: { UPKEEP_ADMIN_TOKEN: this.admin, UPKEEP_AGENT_TOKEN: this.agent },
      cpus: this.pinned ? "0" : undefined,
      cwd: ROOT,
    };
    const s = await ServeProc.start(spec);
    this.live.add(s);
    for (const f of release) {
      const name = f.slice(f.lastIndexOf("/") + 1);
      const r = await fetch(`${s.url}/v1/artifacts/${name}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${this.admin}` },
        body: Bun.file(f),
      });
      if (!r.ok) throw new Error(`upload ${name}: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    }
    const resources = [this.configDoc(), versionDoc(START_A, TARGET_A)];
    await this.apiJson(s.url, "POST", "/v1/apply", { resources });
    return s;
  }

  /** Stops a serve of the run (SIGTERM) and forgets it. */
  async stopServe(s: ServeProc): Promise<void> {
    await s.stop();
    this.live.delete(s);
  }

  newFleet(url: string, capacity: number): Fleet {
    return new Fleet({
      url,
      agentToken: this.agent,
      capacity,
      groups: this.a.groups,
      compress: this.a.compress,
      runId: crypto.randomUUID().slice(0, 8),
      failRatio: this.a.failRatio,
      haltGroup: this.a.haltGroup,
      updateSeconds: this.a.updateSeconds,
    });
  }
}
