/** Bearer tokens: random, shown once, stored only as a sha256 hash, compared in constant time. */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { type Store, TOKEN_KINDS, type TokenKind } from "./store.ts";

export function generateToken(): string {
  return randomBytes(32).toString("base64url");
}

export function hashToken(token: string): string {
  return new Bun.CryptoHasher("sha256").update(token).digest("hex");
}

/** Constant-time comparison of two hashes of equal length. */
function sameHash(x: Buffer, y: Buffer): boolean {
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Extracts the token from `Authorization: Bearer <token>`. */
export function bearer(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/**
 * Token checks, cached in memory (the token tables are tiny and change only through this server).
 * Every candidate hash is compared, so timing does not depend on which one matches.
 */
export class TokenChecker {
  readonly #store: Store;
  /** Every stored hash with its kind (decoded once: a check per request, the tables change rarely). */
  #cache: { kind: TokenKind; hash: Buffer }[] | undefined;

  constructor(store: Store) {
    this.#store = store;
  }

  async #hashes(): Promise<{ kind: TokenKind; hash: Buffer }[]> {
    if (this.#cache === undefined) {
      const all: { kind: TokenKind; hash: Buffer }[] = [];
      for (const kind of TOKEN_KINDS)
        for (const t of await this.#store.listTokens(kind))
          all.push({ kind, hash: Buffer.from(t.hash, "hex") });
      this.#cache = all;
    }
    return this.#cache;
  }

  invalidate(): void {
    this.#cache = undefined;
  }

  /** True when `token` is a valid token of one of `kinds`. */
  async check(token: string | undefined, kinds: TokenKind[]): Promise<boolean> {
    const kind = await this.kindOf(token);
    return kind !== undefined && kinds.includes(kind);
  }

  /** The kind of a valid token, or undefined. Every stored hash of every kind is compared. */
  async kindOf(token: string | undefined): Promise<TokenKind | undefined> {
    if (!token) return undefined;
    const h = new Bun.CryptoHasher("sha256").update(token).digest();
    let found: TokenKind | undefined;
    for (const candidate of await this.#hashes()) if (sameHash(h, candidate.hash)) found ??= candidate.kind;
    return found;
  }
}

/**
 * The tokens the environment presets, at start: `UPKEEP_ADMIN_TOKEN` (then the only admin token: setting a
 * new one revokes the old ones) and `UPKEEP_AGENT_TOKEN`. With no admin token stored or given, a new one is
 * made (`newAdminToken`): shown once, and stored by `keepNewAdmin` only once the server listens, so a start
 * that fails does not keep a token nobody saw.
 */
export async function presetTokens(
  store: Store,
  env: Record<string, string | undefined>,
  now: () => Date,
  log: (msg: string, fields?: Record<string, unknown>) => void,
): Promise<{ newAdminToken?: string; keepNewAdmin: () => Promise<void> }> {
  const ensure = async (kind: "admin" | "agent", token: string, name: string) => {
    const hash = hashToken(token);
    if (!(await store.listTokens(kind)).some((t) => t.hash === hash)) {
      await store.addToken({ id: crypto.randomUUID(), kind, hash, name, created: now().toISOString() });
    }
  };
  let newAdminToken: string | undefined;
  if (env.UPKEEP_ADMIN_TOKEN) {
    await ensure("admin", env.UPKEEP_ADMIN_TOKEN, "UPKEEP_ADMIN_TOKEN");
    const keep = hashToken(env.UPKEEP_ADMIN_TOKEN);
    const others = (await store.listTokens("admin")).filter((t) => t.hash !== keep);
    if (others.length > 0) {
      await store.removeTokens(others.map((t) => t.id));
      log("UPKEEP_ADMIN_TOKEN is set: other admin tokens revoked", { revoked: others.length });
    }
  } else if ((await store.listTokens("admin")).length === 0) newAdminToken = generateToken();
  if (env.UPKEEP_AGENT_TOKEN) await ensure("agent", env.UPKEEP_AGENT_TOKEN, "UPKEEP_AGENT_TOKEN");
  return {
    ...(newAdminToken ? { newAdminToken } : {}),
    keepNewAdmin: async () => {
      if (newAdminToken) await ensure("admin", newAdminToken, "first start");
    },
  };
}
