/**
 * Errors that carry a machine-readable code. Callers branch on `code`, never on the text.
 *
 * - `UsageError` (exit 2): the operator typed something wrong (a flag, a version, a file). One line says
 *   what was wrong and what to do.
 * - `UpkeepError` (exit 1 by default): a domain refusal (incompatible, bad signature, no plan...).
 */
export type ErrorCode =
  | "E_USAGE"
  | "E_BAD_VERSION"
  | "E_BAD_RESOURCE"
  | "E_INCOMPATIBLE"
  | "E_NO_PLAN"
  | "E_NOT_NEEDED"
  | "E_CHECKSUM"
  | "E_SIGNATURE"
  | "E_SIZE"
  | "E_NOT_IN_MANIFEST"
  | "E_BELOW_FLOOR"
  | "E_EXPIRED"
  | "E_ROLLBACK"
  | "E_MALFORMED"
  | "E_KEY"
  | "E_IO"
  /** A file or folder is in the way (not a symlink, not ours): upkeep does not replace it. */
  | "E_EXISTS"
  | "E_NETWORK"
  | "E_NOT_FOUND"
  /** The state does not allow it now (HTTP 409): a rollout step, a version in use, a running loop. */
  | "E_CONFLICT"
  /** This host's own configuration (update.yaml: trusted keys, product, artifact template) is unusable. */
  | "E_HOST_CONFIG"
  | "E_UNAUTHORIZED"
  | "E_SERVER"
  | "E_UNSAFE_ARCHIVE"
  | "E_INSECURE_URL"
  | "E_NO_SPACE"
  | "E_LOCKED"
  | "E_LOOP"
  | "E_CANCELLED"
  | "E_SMOKE"
  | "E_UNHEALTHY"
  | "E_MANIFEST"
  | "E_NOT_READY"
  | "E_INTERNAL";

export interface UpkeepErrorOptions {
  cause?: unknown;
  /** What the operator can do about it; printed after the message. */
  hint?: string;
  /** Process exit code when this error reaches main.ts. */
  exitCode?: number;
}

export class UpkeepError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, options: UpkeepErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "UpkeepError";
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Bad usage: exit code 2. */
export class UsageError extends UpkeepError {
  constructor(message: string, options: Omit<UpkeepErrorOptions, "exitCode"> & { code?: ErrorCode } = {}) {
    super(options.code ?? "E_USAGE", message, { ...options, exitCode: 2 });
    this.name = "UsageError";
  }
}

export function isUpkeepError(e: unknown): e is UpkeepError {
  return e instanceof UpkeepError;
}
