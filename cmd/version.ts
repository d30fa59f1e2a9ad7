import type { Command } from "commander";

export function register(program: Command): void {
  program.command("version").description("version compatibility rules and upgrade plans");
}
