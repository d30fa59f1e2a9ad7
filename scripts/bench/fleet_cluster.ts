/**
 * The server side of a fleet simulator run (scripts/bench/fleet.ts): one `upkeep serve` on its SQLite data
 * dir, or `--replicas N` serves on one PostgreSQL (`--store pg`), each on its own 127.0.0.1 port. The agents
 * are spread over the replicas by index (fleet_sim.ts); the operator talks to the first one alive. CPU and
 * memory are read per part (each replica, PostgreSQL) and in total; a replica killed and restarted in place
 * keeps its slot (its CPU before the kill counts).
 */
import type { FleetPostgres } from "./fleet_pg.ts";
import type { ServeProc } from "./fleet_serve.ts";
import { cpuMs, memoryMiB, socketCount } from "./fleet_stats.ts";

/** CPU ms used so far by one part of the server side ("serve", "r1".., "pg"). */
export interface CpuPart {
  name: string;
  ms: number;
}

export interface MemoryPart {
  name: string;
  /** VmRSS (a serve) or the sum of Pss (PostgreSQL: postmaster and children), MiB. */
  rss: number;
  /** VmHWM, the peak (a serve; NaN for PostgreSQL). */
  hwm: number;
}

/** The health a replica answers on `/healthz` (serve on PostgreSQL: whether it holds the reconciler lease). */
interface Health {
  reconciler?: boolean;
  store?: { ok: boolean };
}

export class Cluster {
  /** Slot k: the serve of replica k now (replaced by its restart after a kill). */
  readonly replicas: ServeProc[];
  readonly pg: FleetPostgres | undefined;
  /** CPU ms of slot k's earlier processes (read just before each was killed). */
  readonly #deadMs: number[];

  constructor(replicas: ServeProc[], pg: FleetPostgres | undefined) {
    this.replicas = replicas;
    this.pg = pg;
    this.#deadMs = replicas.map(() => 0);
  }

  /** The replicas' names: "serve" when it is alone on SQLite, else r1..rN. */
  name(k: number): string {
    return this.pg === undefined && this.replicas.length === 1 ? "serve" : `r${k + 1}`;
  }

  urls(): string[] {
    return this.replicas.map((s) => s.url);
  }

  /** Where the operator's requests go: the first replica alive. */
  adminUrl(): string {
    const s = this.replicas.find((r) => r.alive());
    if (!s) throw new Error("no replica is running");
    return s.url;
  }

  /** CPU used so far by each replica (every process of its slot) and by PostgreSQL. */
  cpuParts(): CpuPart[] {
    const parts = this.replicas.map((s, k) => ({
      name: this.name(k),
      ms: (this.#deadMs[k] as number) + (s.alive() ? cpuMs(s.pid) : 0),
    }));
    if (this.pg) parts.push({ name: "pg", ms: this.pg.cpuMs() });
    return parts;
  }

  memory(): MemoryPart[] {
    const parts: MemoryPart[] = this.replicas
      .filter((s) => s.alive())
      .map((s) => ({ name: this.name(this.replicas.indexOf(s)), ...memoryMiB(s.pid) }));
    if (this.pg) parts.push({ name: "pg", rss: this.pg.pssMiB(), hwm: Number.NaN });
    return parts;
  }

  /** The largest VmRSS and VmHWM of one serve (the per-process memory target). */
  serveMemory(): { rss: number; hwm: number } {
    const serves = this.memory().filter((m) => m.name !== "pg");
    return {
      rss: Math.max(...serves.map((m) => m.rss)),
      hwm: Math.max(...serves.map((m) => m.hwm)),
    };
  }

  /** Open sockets of every serve (keep-alive connections, listeners, database connections). */
  sockets(): number {
    return this.replicas.filter((s) => s.alive()).reduce((n, s) => n + socketCount(s.pid), 0);
  }

  /** The replicas alive that say (on /healthz) they hold the reconciler lease. */
  async leaders(): Promise<number[]> {
    const out: number[] = [];
    await Promise.all(
      this.replicas.map(async (s, k) => {
        if (!s.alive()) return;
        const r = await fetch(`${s.url}/healthz`).catch(() => undefined);
        const text = (await r?.text()) ?? "";
        let h: Health = {};
        try {
          h = JSON.parse(text) as Health;
        } catch {
          // a serve without replica support answers "ok": it leads alone
          if (r?.ok) h = { reconciler: true };
        }
        if (h.reconciler === true) out.push(k);
      }),
    );
    return out.sort((a, b) => a - b);
  }

  /** Polls `leaders` every 50 ms until exactly one replica leads; answers it and how long it took (ms). */
  async oneLeader(timeoutMs: number): Promise<{ k: number | undefined; ms: number; seen: number[] }> {
    const t0 = performance.now();
    for (;;) {
      const seen = await this.leaders();
      const ms = performance.now() - t0;
      if (seen.length === 1) return { k: seen[0], ms, seen };
      if (ms > timeoutMs) return { k: undefined, ms, seen };
      await Bun.sleep(50);
    }
  }

  /** kill -9 of replica k (its CPU so far is kept for the slot). */
  async kill(k: number): Promise<void> {
    const s = this.replicas[k] as ServeProc;
    if (s.alive()) this.#deadMs[k] = (this.#deadMs[k] as number) + cpuMs(s.pid);
    await s.kill();
  }

  /** Replica k again, same port and data dir; answers the new serve (the caller tracks it for cleanup). */
  async restart(k: number): Promise<ServeProc> {
    const again = await (this.replicas[k] as ServeProc).restart();
    this.replicas[k] = again;
    return again;
  }
}
