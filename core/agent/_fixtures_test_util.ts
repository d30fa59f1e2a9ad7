// Shared builders for the agent's decision tests (not part of the API; not re-exported from mod.ts).
import type { FindAnswer } from "../wire/parse_find.ts";

/** A find answer naming 17.0.1 (the server's own version), nothing else set; `o` overrides. */
export const findAnswer = (o: Partial<FindAnswer> = {}): FindAnswer => ({
  serverVersion: "17.0.1",
  agentVersion: "17.0.1",
  autoUpdate: false,
  jitterSeconds: 60,
  edition: "oss",
  fips: false,
  artifact: "",
  critical: false,
  groupState: "active",
  reason: "",
  ...o,
});

/** An enabled, unpinned host. */
export const ON = { enabled: true, pinned: false };
