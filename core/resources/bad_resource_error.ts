import { UpkeepError } from "../errors.ts";
import type { Problem } from "../validate/problem.ts";

/** `path: message`, or just the message for a problem with the document as a whole. */
function line(p: Problem): string {
  return p.path === "" ? p.message : `${p.path}: ${p.message}`;
}

/**
 * A resource failed validation. `code` is `E_BAD_RESOURCE`; `problems` lists every field at fault (the
 * server returns them with its 400), and the one-line message lists them all:
 * `autoupdate_config: spec.agents.schedules.regular[0].start_hour: must be an integer 0..23 (got 24)`.
 * Exit code 2: a bad resource is bad operator input.
 */
export class BadResourceError extends UpkeepError {
  readonly kind: string;
  readonly problems: readonly Problem[];

  constructor(kind: string, problems: readonly Problem[]) {
    const text =
      problems.length === 1
        ? `${kind}: ${line(problems[0] as Problem)}`
        : `${kind} has ${problems.length} problems: ${problems.map(line).join("; ")}`;
    super("E_BAD_RESOURCE", text, { hint: "fix the fields named and apply the resource again", exitCode: 2 });
    this.name = "BadResourceError";
    this.kind = kind;
    this.problems = problems;
  }
}
