/** `NAME.sha256` beside an artifact: one line `<hex>  NAME`, as sha256sum writes it. Pure. */
import { UpkeepError } from "../errors.ts";

export function formatChecksumFile(sha256: string, name: string): string {
  return `${sha256}  ${name}\n`;
}

/**
 * The sha256 in a `.sha256` file for `name` (`file` names the file in messages). Accepts sha256sum's text
 * (`  `) and binary (` *`) markers; refuses another file's line (a path too: `sha256sum -c` beside the file
 * would not find it), a line without a name, bad hex or extra lines (E_MALFORMED).
 */
export function parseChecksumFile(text: string, name: string, file = `${name}.sha256`): string {
  if (text.length > 4096) throw new UpkeepError("E_MALFORMED", `${file}: too long`);
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const m = lines.length === 1 ? /^([0-9a-fA-F]{64}) [ *](.+?)\r?$/.exec(lines[0] ?? "") : null;
  if (!m) throw new UpkeepError("E_MALFORMED", `${file}: expected one line \`<sha256>  ${name}\``);
  if (m[2] !== name) throw new UpkeepError("E_MALFORMED", `${file}: names "${m[2]}", not "${name}"`);
  return (m[1] ?? "").toLowerCase();
}
