/**
 * The PostgreSQL of `fleet.ts --store pg`: a throwaway server from the tests' harness (test/pg_harness.ts:
 * Debian's postgresql package, initdb in a temp dir, a free 127.0.0.1 port, stopped by its PID), tuned as a
 * production server on this host would be, except that nothing trades durability for speed: fsync,
 * synchronous_commit and full_page_writes stay on (the harness turns fsync off for tests; these override it).
 * Pinned with the serves (CPU 0) when the run pins; its CPU and memory are those of the postmaster and every
 * child (backends, checkpointer, WAL writer, autovacuum).
 */
import { type Postgres, pgAvailable, startPostgres } from "../../test/pg_harness.ts";
import { childPids, treeCpuMs, treePssMiB } from "./fleet_stats.ts";

/**
 * A dedicated database server's settings for a host of this size (2 vCPUs; the data of 100,000 agents is tens
 * of MiB, so 1 GiB of shared buffers holds all of it), pgtune's "web application" profile, and durability on.
 */
export const PG_SETTINGS: Record<string, string> = {
  fsync: "on",
  synchronous_commit: "on",
  full_page_writes: "on",
  max_connections: "100",
  shared_buffers: "1GB",
  effective_cache_size: "3GB",
  maintenance_work_mem: "256MB",
  work_mem: "8MB",
  wal_buffers: "16MB",
  min_wal_size: "1GB",
  max_wal_size: "4GB",
  checkpoint_timeout: "15min",
  checkpoint_completion_target: "0.9",
  random_page_cost: "1.1",
  effective_io_concurrency: "200",
  max_worker_processes: "2",
  max_parallel_workers: "2",
  max_parallel_workers_per_gather: "1",
  max_parallel_maintenance_workers: "1",
};

/** The settings as one line (for the run's header and the summary). */
export const pgSettingsLine = () =>
  Object.entries(PG_SETTINGS)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");

export class FleetPostgres {
  readonly #pg: Postgres;
  readonly version: string;
  #dbs = 0;

  private constructor(pg: Postgres, version: string) {
    this.#pg = pg;
    this.version = version;
  }

  /** Starts it (throws, saying why, when PostgreSQL is not installed); pinned to `cpus` when given. */
  static async start(cpus: string | undefined): Promise<FleetPostgres> {
    const why = pgAvailable();
    if (why) throw new Error(`--store pg: ${why}`);
    const pg = await startPostgres(PG_SETTINGS);
    const sql = new Bun.SQL(pg.url, { max: 1 });
    let version = "?";
    try {
      const rows =
        (await sql`SELECT current_setting('server_version') AS v, current_setting('fsync') AS f`) as {
          v: string;
          f: string;
        }[];
      version = rows[0]?.v ?? "?";
      if (rows[0]?.f !== "on") throw new Error(`PostgreSQL runs with fsync=${rows[0]?.f}, not on`);
    } catch (e) {
      await sql.close();
      await pg.stop();
      throw e;
    }
    await sql.close();
    const p = new FleetPostgres(pg, version);
    if (cpus !== undefined) p.#pin(cpus);
    return p;
  }

  /** The postmaster and the children it has now on `cpus` (backends forked later inherit it). */
  #pin(cpus: string): void {
    for (const pid of [this.#pg.pid, ...childPids(this.#pg.pid)])
      Bun.spawnSync(["taskset", "-a", "-p", "-c", cpus, String(pid)], { stdout: "ignore", stderr: "ignore" });
  }

  get pid(): number {
    return this.#pg.pid;
  }

  /** A new empty database for one cluster of serves (the reference run and the main run each get one). */
  createDatabase(): Promise<string> {
    return this.#pg.createDatabase(`fleet_${++this.#dbs}`);
  }

  /** CPU ms used so far by the postmaster and every child, ended or alive. */
  cpuMs(): number {
    return treeCpuMs(this.#pg.pid);
  }

  /** Proportional memory (Pss) of the postmaster and its children, MiB. */
  pssMiB(): number {
    return treePssMiB(this.#pg.pid);
  }

  stop(): Promise<void> {
    return this.#pg.stop();
  }
}
