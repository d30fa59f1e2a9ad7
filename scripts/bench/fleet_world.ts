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
import { Cluster } from "./fleet_cluster.ts";
import { START_A, TARGET_A, VERSIONS } from "./fleet_model.ts";
import { FleetPostgres } from "./fleet_pg.ts";
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
  /** Serve (every replica, and PostgreSQL) on CPU 0, this process on CPU 1. */
  readonly pinned: boolean;
  /** The run's PostgreSQL (--store pg), started with the first cluster. */
  pg: FleetPostgres | undefined;
  #cleaning = false;

  constructor(a: FleetArgs) {
    this.a = a;
    this.pinned = !a.noPin && cpus().length >= 2 && Bun.which("taskset") !== null && pinSelf("1");
  }

  async cleanup(): Promise<void> {
    if (this.#cleaning) return;
    this.#cleaning = true;
    for (const s of this.live) await s.stop().catch(() => {});
    await this.pg?.stop().catch(() => {});
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

  /**
   * The server side of a run (`name`: "main", "reference", "sweep"): one serve on a fresh SQLite data dir, or
   * `--replicas` serves on a new database of the run's PostgreSQL (each with its own data dir, one artifacts dir
   * shared by all, as `--artifacts-dir DIR --artifacts-shared` on shared storage); releases published to the
   * first, the config and rollout A's versions applied there, and every replica answering the same.
   */
  async newCluster(name: string, release: string[]): Promise<Cluster> {
    if (this.a.store === "sqlite") {
      const s = await this.#startServe(name, []);
      await this.#publish(s.url, release);
      return new Cluster([s], undefined);
    }
    const pg = await this.postgres();
    const db = await pg.createDatabase();
    const artifacts = join(this.dir, `${name}-artifacts`);
    mkdirSync(artifacts, { recursive: true });
    const args = ["--store", db, "--artifacts-dir", artifacts, "--artifacts-shared"];
    const replicas: ServeProc[] = [];
    // One at a time: the first takes the reconciler lease (and applies the migrations).
    for (let k = 1; k <= this.a.replicas; k++) replicas.push(await this.#startServe(`${name}-r${k}`, args));
    const c = new Cluster(replicas, pg);
    await this.#publish(c.adminUrl(), release);
    await inStep(c);
    return c;
  }

  /** The run's PostgreSQL (--store pg), started at the first call (on CPU 0 with the serves when pinned). */
  async postgres(): Promise<FleetPostgres> {
    this.pg ??= await FleetPostgres.start(this.pinned ? "0" : undefined);
    return this.pg;
  }

  async #startServe(name: string, args: string[]): Promise<ServeProc> {
    const dataDir = join(this.dir, name);
    mkdirSync(dataDir, { recursive: true });
    const config = join(this.dir, `${name}.yaml`);
    writeFileSync(config, `agent_update_jitter_seconds: ${this.a.jitter}\n`);
    const spec: ServeSpec = {
      command: this.a.command,
      dataDir,
      config,
      args: [...args, ...this.a.serveArgs],
      env: { UPKEEP_ADMIN_TOKEN: this.admin, UPKEEP_AGENT_TOKEN: this.agent },
      cpus: this.pinned ? "0" : undefined,
      cwd: ROOT,
    };
    const s = await ServeProc.start(spec);
    this.live.add(s);
    return s;
  }

  /** Uploads the releases (as `admin publish` does) and applies the config and rollout A's versions. */
  async #publish(url: string, release: string[]): Promise<void> {
    for (const f of release) {
      const name = f.slice(f.lastIndexOf("/") + 1);
      const r = await fetch(`${url}/v1/artifacts/${name}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${this.admin}` },
        body: Bun.file(f),
      });
      if (!r.ok) throw new Error(`upload ${name}: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    }
    const resources = [this.configDoc(), versionDoc(START_A, TARGET_A)];
    await this.apiJson(url, "POST", "/v1/apply", { resources });
  }

  /** Stops every serve of a cluster (SIGTERM) and forgets them (PostgreSQL runs on until `cleanup`). */
  async stopCluster(c: Cluster): Promise<void> {
    for (const s of c.replicas) {
      await s.stop();
      this.live.delete(s);
    }
  }

  /** A fleet whose agent i talks to `urls[i mod urls.length]` (the replicas). */
  newFleet(urls: string[], capacity: number): Fleet {
    return new Fleet({
      urls: [...urls],
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

/**
 * Waits until every replica answers find (of group g1) as the first one does (they follow its writes
 * through PostgreSQL's notifications within a second, or the periodic re-read); throws after 30 s.
 */
async function inStep(c: Cluster): Promise<void> {
  const answer = async (url: string) => {
    const r = await fetch(`${url}/v1/webapi/find?group=g1`);
    return JSON.stringify(((await r.json()) as { auto_update?: unknown }).auto_update);
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const all = await Promise.all(c.urls().map(answer));
    if (all.every((a) => a === all[0])) return;
    if (Date.now() > deadline)
      throw new Error(`the replicas answer find differently after 30 s: ${all.join(" | ")}`);
    await Bun.sleep(100);
  }
}
