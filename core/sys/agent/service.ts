/** How the agent restarts the daemon and watches it: the service backends share this interface. */
import type { ServiceKind } from "../../agent/types.ts";

export interface DaemonSample {
  /** PID of the running daemon, 0 when none. */
  pid: number;
  /** Restarts since the last `restart()` (crashes the supervisor or systemd recovered from). */
  restarts: number;
}

export interface ServiceBackend {
  readonly kind: ServiceKind;
  /** False when nothing runs the daemon right now (supervise without an `agent run` loop). */
  readonly manages: boolean;
  /** Restarts the daemon on what `current` points at (starts it when it is not running). */
  restart(): Promise<void>;
  sample(): Promise<DaemonSample>;
  /** Is the daemon healthy right now, as far as the backend can tell (undefined: cannot tell)? */
  healthyNow(): Promise<boolean | undefined>;
}

/** The backend of a one-shot command when no `agent run` loop supervises the daemon. */
export class DetachedBackend implements ServiceBackend {
  readonly kind = "supervise" as const;
  readonly manages = false;
  async restart(): Promise<void> {}
  async sample(): Promise<DaemonSample> {
    return { pid: 0, restarts: 0 };
  }
  async healthyNow(): Promise<boolean | undefined> {
    return undefined;
  }
}
