import type { Command } from "commander";
import { print } from "./output.ts";
import { registerMigrate } from "./serve_migrate.ts";

export function register(program: Command): void {
  const serve = program
    .command("serve")
    .description("run the version server (rollouts, find/ping API, artifact store, install.sh)")
    .option("--listen <host:port>", "address to listen on (default 127.0.0.1:8080)")
    .option("--data-dir <dir>", "state (SQLite) and artifacts directory (default ./.upkeep)")
    .option(
      "--store <url>",
      "keep the state in PostgreSQL (postgres://USER:PASSWORD@HOST:PORT/DB; or UPKEEP_STORE), shared by replicas",
    )
    .option("--config <file>", "server configuration file (YAML, snake_case keys); flags override it")
    .option("--product <name>", "the product this server distributes (default hello)")
    .option("--server-version <version>", "the control plane's version; caps agent targets")
    .option("--cluster-name <name>", "cluster name reported by /webapi/ping (default upkeep)")
    .option("--edition <edition>", "oss, community or ent, as Teleport's (default oss)")
    .option("--fips", "the cluster runs FIPS builds (with --edition ent: -ent-...-fips artifacts)")
    .option("--reconcile-interval <duration>", "how often the rollout reconciler runs (default 30s)")
    .option(
      "--agent-timeout <duration>",
      "an agent not heard from for this long no longer counts in rollout decisions (default 20m)",
    )
    .option(
      "--agent-retention <duration>",
      "an agent not heard from for this long is deleted from the database (default 30d)",
    )
    .option("--tls-cert <file>", "TLS certificate (PEM)")
    .option("--tls-key <file>", "TLS private key (PEM)")
    .option("--public-url <url>", "URL hosts use to reach this server (install.sh, agent enable)")
    .option("--log-format <format>", "text or json (default text)")
    .option(
      "--artifacts-url <url>",
      "where hosts download releases and upkeep (a CDN, nginx, a bucket's web endpoint); uploads then go there, not here",
    )
    .option("--artifacts-dir <dir>", "where uploaded artifacts are kept (default DATA_DIR/artifacts)")
    .option("--artifacts-shared", "the artifacts dir is shared by every replica (NFS, a shared volume)")
    .action(runServe);
  registerMigrate(serve);
}

/** `upkeep serve`: boot, listen (the only Bun.serve), reconcile on a timer, drain on SIGTERM/SIGINT. */
async function runServe(flags: Record<string, unknown>): Promise<void> {
  const { boot } = await import("../server/boot.ts");
  // First: whoever waits for the "listening" line may stop the server at once. Handlers installed
  // after that line, or just before it, were sometimes not in place yet (the process died of the
  // signal, exit 143). A stop that comes during start-up is served once the server is up.
  const signal = new Promise<string>((res) => {
    process.once("SIGTERM", () => res("SIGTERM"));
    process.once("SIGINT", () => res("SIGINT"));
  });
  const b = await boot(flags, process.env);
  const o = b.options;
  const { listenError } = await import("../server/serve_options.ts");
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: o.hostname,
      port: o.port,
      ...(o.tls ? { tls: { cert: Bun.file(o.tls.cert), key: Bun.file(o.tls.key) } } : {}),
      maxRequestBodySize: 4 * 1024 * 1024 * 1024,
      // The hot path (find/ping) bypasses the router; everything else goes through Hono.
      routes: b.hotRoutes,
      fetch: (req) => b.app.fetch(req),
      error: () =>
        new Response('{"error":{"message":"internal error"},"code":"E_INTERNAL"}', {
          status: 500,
          headers: { "content-type": "application/json" },
        }),
    });
  } catch (e) {
    await b.close();
    throw listenError(e, o);
  }
  await b.listening(server.port ?? o.port);
  const host = server.hostname ?? o.hostname;
  const url = `${o.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${server.port}`;
  // The token first: whoever waits for "listening" can then read it.
  if (b.newAdminToken) printFirstStart(b.newAdminToken, o);
  b.log("upkeep serve listening", {
    url,
    data_dir: o.dataDir,
    store: b.store.kind === "postgres" ? b.store.where : `sqlite:${b.store.where}`,
    product: o.product,
    public_url: o.publicUrl,
    ...(o.artifactsUrl ? { artifacts_url: o.artifactsUrl } : {}),
  });
  const { artifactsUrlWarning } = await import("../server/serve_options.ts");
  const insecure = artifactsUrlWarning(o);
  if (insecure) b.log(`warning: ${insecure}`);
  const timer = setInterval(() => {
    b.rollout.reconcile().catch((e) => b.log("reconcile failed", { error: String(e) }));
    // Releases published elsewhere (the CDN, another replica's upload to the shared dir): their manifest is
    // re-read as often (a failed read keeps the last one and is named in the log).
    if (o.artifactsUrl !== undefined || o.artifactsShared) b.rollout.artifactsChanged().catch(() => {});
  }, o.reconcileMs);
  b.log("shutting down: draining in-flight requests", { signal: await signal });
  clearInterval(timer);
  await server.stop(false);
  await b.close();
  b.log("stopped");
}

/** The admin token of a first start (shown once) and what to do next. */
function printFirstStart(token: string, o: { publicUrl: string; product: string }): void {
  print(`Admin token (shown once, only its hash is kept): ${token}`);
  print(
    [
      "Next steps (README.md § Quickstart walks through all of them):",
      `  export UPKEEP_SERVER=${o.publicUrl} UPKEEP_TOKEN=<the token above>`,
      "  upkeep admin publish dist/<product>-v1.2.3-linux-amd64-bin.tar.gz   # publish a signed release",
      "  upkeep admin apply -f version.yaml                                 # set start/target versions",
      `  curl -fsSL ${o.publicUrl}/scripts/install.sh | sh -s -- --product ${o.product} ...  # install an agent`,
    ].join("\n"),
  );
}
