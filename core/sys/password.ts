/**
 * The secret key's password: UPKEEP_KEY_PASSWORD, else a prompt on the terminal (no echo), else a usage
 * error that says how to provide one.
 */
import { UpkeepError, UsageError } from "../errors.ts";

export const PASSWORD_ENV = "UPKEEP_KEY_PASSWORD";
const MAX_PASSWORD = 1023; // minisign's PASSWORDMAXBYTES - 1

export interface PasswordRequest {
  /** Ask twice and compare (for a new key). */
  confirm?: boolean;
  /** What the password is for, in the prompt. */
  label: string;
}

export async function getPassword(req: PasswordRequest): Promise<string> {
  const env = process.env[PASSWORD_ENV];
  if (env !== undefined && env !== "") return check(env);
  if (!process.stdin.isTTY) {
    throw new UsageError(`${req.label} needs a password and there is no terminal to ask on`, {
      code: "E_KEY",
      hint: `set ${PASSWORD_ENV}, or use an unencrypted key (--unencrypted) for automation`,
    });
  }
  const first = await prompt(`Password for ${req.label}: `);
  if (req.confirm) {
    if (first === "")
      throw new UsageError("empty password", { code: "E_KEY", hint: "use --unencrypted for no password" });
    const second = await prompt("Password (again): ");
    if (first !== second) throw new UsageError("the passwords do not match", { code: "E_KEY" });
  }
  return check(first);
}

function check(password: string): string {
  if (Buffer.byteLength(password, "utf8") > MAX_PASSWORD || /[\r\n\0]/.test(password)) {
    throw new UsageError(`the password must be one line of at most ${MAX_PASSWORD} bytes`, { code: "E_KEY" });
  }
  return password;
}

/** Reads one line from the terminal with echo off. Ctrl-C or Ctrl-D abort. */
function prompt(text: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(text);
  return new Promise((resolve, reject) => {
    let line = "";
    const done = (err?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003" || ch === "\u0004")
          return done(new UpkeepError("E_USAGE", "cancelled", { exitCode: 130 }));
        if (ch === "\u007f" || ch === "\b") line = [...line].slice(0, -1).join("");
        else line += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}
