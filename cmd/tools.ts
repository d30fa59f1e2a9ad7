/**
 * `upkeep tools`: client tools follow the cluster. `tools exec` and the shims are dispatched by main.ts before
 * this file loads (the fast path); the definitions here give `--help` and the other subcommands.
 */
import type { Command } from "commander";
import { printable } from "../core/text/printable.ts";

type Env = Record<string, string | undefined>;

async function io() {
  const { isatty } = await import("node:tty");
  const tty = isatty(0) && isatty(2);
  return { tty: () => tty, warn: (l: string) => console.error(printable(l)), now: () => new Date() };
}

async function ask(question: string): Promise<boolean> {
  const { writeFd } = await import("./output.ts");
  writeFd(2, question);
  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: process.stdin });
  const line: string = await new Promise((res) => rl.once("line", res).once("close", () => res("")));
  rl.close();
  return !/^\s*n(o)?\s*$/i.test(line);
}

/** `(3m ago; fresh for 5m, as the server says)`, or why and when the answer is asked for again. */
function cacheAge(s: {
  cache_age_seconds: number | null;
  cache_seconds: number | null;
  cache_seconds_from: string | null;
  cache_stale: boolean | null;
}): string {
  if (s.cache_age_seconds === null || s.cache_seconds === null) return "";
  const span = (sec: number) =>
    sec < 60
      ? `${sec}s`
      : sec < 7200
        ? `${Math.floor(sec / 60)}m`
        : sec < 172800
          ? `${Math.floor(sec / 3600)}h`
          : `${Math.floor(sec / 86400)}d`;
  const life = `${span(s.cache_seconds)}${s.cache_seconds_from === "server" ? ", as the server says" : " (the server does not say)"}`;
  return s.cache_stale
    ? `(${span(s.cache_age_seconds)} ago: STALE, older than ${life}; the next tool run asks again, or \`upkeep tools update\` now)`
    : `(${span(s.cache_age_seconds)} ago; kept for ${life})`;
}

export function register(program: Command): void {
  const tools = program
    .command("tools")
    .description("keep client tools in this shell in step with the cluster");
  registerLogin(tools);
  registerExec(tools);
  registerInstallShims(tools);
  registerStatus(tools);
  registerUpdate(tools);
  registerPin(tools);
  registerUnpin(tools);
  registerClean(tools);
}

const env = process.env as Env;

function registerLogin(tools: Command): void {
  tools
    .command("login")
    .description("remember the server for this user; the first time, ask to enroll into automatic updates")
    .requiredOption("--server <url>", "the upkeep (or Teleport) server")
    .requiredOption("--product <name>", "the product whose client tools to run")
    .option(
      "--base-url <url>",
      "where artifacts are downloaded from (default: where the server says, serve --artifacts-url, else <server>/artifacts)",
    )
    .option(
      "--trust-key <pubfile...>",
      "trusted minisign public key(s); default: UPKEEP_TOOLS_TRUST_KEY, else the key published at <base-url>/<product>.pub, pinned on first use",
    )
    .option("--insecure", "allow plain http to a host that is not loopback")
    .option("--json", "print the saved configuration as JSON")
    .action(
      async (o: {
        server: string;
        product: string;
        baseUrl?: string;
        trustKey?: string[];
        insecure?: boolean;
        json?: boolean;
      }) => {
        const { login } = await import("../core/sys/tools/login.ts");
        const { report } = await import("./output.ts");
        const s = await login({ ...o, ask }, env, await io());
        report(
          o,
          {
            server: s.server,
            product: s.product,
            base_url: s.baseUrl,
            enrolled: s.enrolled,
            tools_version: s.cache?.toolsVersion,
            pinned: s.pinned ?? null,
          },
          (d) =>
            `logged in to ${d.server} (${d.product}); client tools ${d.enrolled ? "follow the cluster automatically" : "are not enrolled"}; ${d.tools_version ? `the cluster wants v${d.tools_version}` : "the cluster names no version yet"}${d.pinned ? `; pinned to v${d.pinned} (\`upkeep tools unpin\` to follow the cluster)` : ""}`,
        );
      },
    );
}

function registerExec(tools: Command): void {
  tools
    .command("exec <tool> [args...]")
    .description("run TOOL at the version the cluster wants (downloaded once), with the same arguments")
    .allowUnknownOption()
    .action(() => {
      // Reached only for unusual argument shapes (main.ts handles `tools exec TOOL ...` directly).
      throw new Error("unreachable: tools exec is dispatched by main.ts");
    });
}

function registerInstallShims(tools: Command): void {
  tools
    .command("install-shims <tool...>")
    .description("make DIR/TOOL a link to upkeep; invoked as TOOL, upkeep acts as `tools exec TOOL`")
    .option("--dir <dir>", "where to put the links (default ~/.upkeep/bin); put it first in PATH")
    .option("--json", "print the links made as JSON")
    .action(async (names: string[], o: { dir?: string; json?: boolean }) => {
      const { installShims } = await import("../core/sys/tools/install_shims.ts");
      const { join } = await import("node:path");
      const { homedir } = await import("node:os");
      const { report } = await import("./output.ts");
      const dir = o.dir ?? join(env.HOME || homedir(), ".upkeep", "bin");
      const made = await installShims(names, dir, process.execPath);
      report(o, { shims: made }, (d) => `${d.shims.join("\n")}\nadd ${dir} to the front of PATH`);
    });
}

function registerStatus(tools: Command): void {
  tools
    .command("status")
    .description("which version runs, and why")
    .option("--json", "print as JSON")
    .action(async (o: { json?: boolean }) => {
      const { status } = await import("../core/sys/tools/status.ts");
      const { report } = await import("./output.ts");
      report(o, await status(env, await io()), (s) =>
        [
          `server:    ${s.server ?? "(none: run upkeep tools login)"}${s.product ? ` (${s.product})` : ""}`,
          `enrolled:  ${s.enrolled ? "yes" : "no"}${s.pinned ? `, pinned to v${s.pinned}` : ""}`,
          `cluster:   ${s.server_version ? `v${s.server_version}${s.server_auto_update ? "" : " (auto update off)"}, checked ${s.checked_at} ${cacheAge(s)}` : "unknown"}`,
          `runs:      ${s.version ? `v${s.version}` : "nothing"} (from ${s.source}${s.refused_choice ? `; v${s.refused_choice} is refused here` : ""})`,
          `installed: ${s.installed.map((i) => `v${i.version}`).join(", ") || "none"}  in ${s.tools_dir}`,
          // One line each, whatever the archive's publisher put in the reason.
          ...s.refused.map((r) => printable(`refused:   v${r.version} (${r.code}: ${r.reason}); ${r.retry}`)),
        ].join("\n"),
      );
    });
}

function registerUpdate(tools: Command): void {
  tools
    .command("update")
    .description("ask the server now and install the version it names")
    .option("--json", "print as JSON")
    .action(async (o: { json?: boolean }) => {
      const { update } = await import("../core/sys/tools/update.ts");
      const { jsonFailure, report } = await import("./output.ts");
      const r = await jsonFailure(o, async () => update(env, await io()));
      report(o, r, (d) => {
        const got = d.download
          ? ` (${d.download.kind === "delta" ? `patch from v${d.download.from}` : "full download"}: ${d.download.bytes} of ${d.download.full_bytes} bytes)`
          : "";
        const done = `client tools v${d.version} ${d.newly_installed ? "installed" : "already installed"}${got}`;
        if (d.runs === d.version || d.runs === null) return done;
        const why =
          d.source === "pin"
            ? "pinned (`upkeep tools unpin` to follow the cluster)"
            : d.source === "env"
              ? "UPKEEP_TOOLS_VERSION is set"
              : `automatic updates are off for you or the cluster (\`upkeep tools pin ${d.version}\` runs it)`;
        return `${done}; v${d.runs} still runs: ${why}`;
      });
    });
}

function registerPin(tools: Command): void {
  tools
    .command("pin <version>")
    .description("always run this version (overrides the server; UPKEEP_TOOLS_VERSION overrides the pin)")
    .option("--json", "print as JSON")
    .action(async (version: string, o: { json?: boolean }) => {
      const { pin } = await import("../core/sys/tools/pin.ts");
      const { report } = await import("./output.ts");
      const r = await pin(version, env, await io());
      report(
        o,
        { pinned: r.state.pinned ?? null, checked: r.checked },
        (d) =>
          `client tools pinned to v${d.pinned}${d.checked === "manifest" ? " (published in the release manifest)" : d.checked === "installed" ? " (installed here)" : ""}`,
      );
    });
}

function registerUnpin(tools: Command): void {
  tools
    .command("unpin")
    .description("follow the server again")
    .option("--json", "print as JSON")
    .action(async (o: { json?: boolean }) => {
      const { pin } = await import("../core/sys/tools/pin.ts");
      const { report } = await import("./output.ts");
      await pin(undefined, env);
      report(o, { pinned: null }, () => "client tools unpinned: following the cluster");
    });
}

function registerClean(tools: Command): void {
  tools
    .command("clean")
    .description("remove every installed client-tools version (keeps the login)")
    .option("--json", "print as JSON")
    .action(async (o: { json?: boolean }) => {
      const { clean } = await import("../core/sys/tools/clean.ts");
      const { report } = await import("./output.ts");
      report(o, { removed: await clean(env, await io()) }, (d) =>
        d.removed.length ? `removed ${d.removed.join(", ")}` : "nothing to remove",
      );
    });
}
