import { describe, expect, test } from "bun:test";
import type { ReleasesView } from "../wire/views.ts";
import { group, HOUR, iso, NOW, view } from "./_fixtures_test_util.ts";
import { eventRows, NO_MANIFEST, rolloutSummary } from "./summary.ts";

const releases = (extra: Partial<ReleasesView> = {}): ReleasesView => ({
  product: "hello",
  critical: [],
  manifest: null,
  artifacts: [],
  ...extra,
});

describe("rolloutSummary", () => {
  test("no rollout: says so; no manifest: says what that means", () => {
    const s = rolloutSummary(
      view([], { target_version: null, start_version: null, started_at: null }),
      releases(),
      NOW,
    );
    expect([s.exists, s.startedAgo, s.manifest, s.noManifest]).toEqual([false, null, null, NO_MANIFEST]);
  });

  test("server version not set: the note says what that means; set: the cap, and what it changed", () => {
    const unset = rolloutSummary(view([group("prod")]), releases(), NOW);
    expect([unset.serverVersion, unset.serverNote]).toEqual([null, "none: server_version is not set"]);
    const capped = rolloutSummary(
      view([group("prod")], {
        server_version: "1.0.5",
        effective_target_version: "1.0.5",
        server_cap: "agents are capped at server_version 1.0.5",
        adjusted: [
          {
            field: "spec.agents.target_version",
            kind: "capped",
            from: "1.1.0",
            to: "1.0.5",
            why: "newer than the server",
          },
        ],
      }),
      releases(),
      NOW,
    );
    expect([capped.serverVersion, capped.effectiveTarget, capped.adjusted]).toEqual([
      "1.0.5",
      "1.0.5",
      ["capped: spec.agents.target_version 1.1.0 -> 1.0.5: newer than the server"],
    ]);
    expect(unset.effectiveTarget).toBeNull();
  });

  test("the manifest: serial, floor, expiry in words, its warning; critical releases and the target's", () => {
    const m = {
      serial: 7,
      expires: iso(NOW + 3 * 24 * HOUR),
      floor: "1.0.0",
      versions: ["1.0.0", "1.1.0"],
      warning: "expires in 3 days",
    };
    const s = rolloutSummary(view([group("prod")]), releases({ manifest: m, critical: ["1.1.0"] }), NOW);
    expect(s.manifest).toEqual({ ...m, expiresIn: "in 3 days", expired: false });
    expect([s.critical, s.targetCritical, s.startedAgo]).toEqual([["1.1.0"], true, "2h ago"]);
    const old = rolloutSummary(
      view([group("prod")]),
      releases({ manifest: { ...m, expires: iso(NOW - HOUR) } }),
      NOW,
    );
    expect([old.manifest?.expired, old.manifest?.expiresIn]).toEqual([true, "60 minutes ago"]);
  });
});

test("eventRows: newest first, the change when there is one", () => {
  const v = view([], {
    events: [
      { time: iso(NOW - 2 * HOUR), group: "", from: "", to: "", reason: "new rollout" },
      { time: iso(NOW - HOUR), group: "prod", from: "unstarted", to: "active", reason: "group prod: go" },
    ],
  });
  expect(eventRows(v, NOW)).toEqual([
    {
      time: iso(NOW - HOUR),
      ago: "1h ago",
      group: "prod",
      change: "unstarted -> active",
      text: "group prod: go",
    },
    { time: iso(NOW - 2 * HOUR), ago: "2h ago", group: "", change: "", text: "new rollout" },
  ]);
});
