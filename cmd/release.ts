import type { Command } from "commander";

export function register(program: Command): void {
  program.command("release").description("release engineering: signing keys, signatures, release manifests");
}
