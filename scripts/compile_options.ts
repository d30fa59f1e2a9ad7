/**
 * How upkeep's executable is compiled, shared by scripts/build.ts and the benchmarks (so a benchmark's
 * baseline program is built exactly as upkeep is, apart from what it runs).
 */

/**
 * `Bun.build` options for a start-up-sensitive, hardened standalone executable. `define`: what the build
 * stamps in (scripts/build.ts: version, release keys; core/sys/self/build_info.ts reads them).
 */
export function compileOptions(
  entry: string,
  outfile: string,
  target?: Bun.Build.CompileTarget,
  define: Record<string, string> = {},
) {
  return {
    entrypoints: [entry],
    define,
    minify: true,
    bytecode: true, // precompiled: start-up ~7 ms instead of ~13 ms
    // Each lazily imported command becomes its own chunk inside the executable, so start-up loads only
    // main.ts and what the path taken needs (--version 7.4 ms -> 5.0 ms, scripts/bench/startup.ts).
    format: "esm",
    splitting: true,
    compile: {
      ...(target ? { target } : {}),
      outfile,
      ...HARDENED,
    },
  } satisfies Bun.BuildConfig;
}

/**
 * An updater must not take configuration or code from whatever directory it is started in: by default a
 * compiled Bun program loads `.env` (which could set UPKEEP_TOOLS_VERSION or UPKEEP_TOOLS_TRUST_KEY) and
 * `bunfig.toml` (whose `preload` runs arbitrary code) from the working directory. Off; this also skips the
 * walk over every directory from / to the working directory that looking for them costs at each start
 * (test/build_hardening.test.ts, scripts/bench/shim.ts).
 */
export const HARDENED = {
  autoloadDotenv: false,
  autoloadBunfig: false,
  autoloadTsconfig: false,
  autoloadPackageJson: false,
} as const;
