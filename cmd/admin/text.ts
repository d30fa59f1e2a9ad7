/** Text views of the admin CLI: the width to wrap to, wrapping, and aligned tables. */
import { isatty } from "node:tty";
import { printable } from "../../core/text/printable.ts";

/** Width to wrap text views to: the terminal's, else COLUMNS, else 100. */
export async function textWidth(): Promise<number> {
  const tty = isatty(1) ? process.stdout.columns : undefined;
  const env = Number(process.env.COLUMNS);
  const w = tty && tty > 0 ? tty : Number.isInteger(env) && env > 0 ? env : 100;
  return Math.max(40, w);
}

/** Splits `text` into lines of at most `width` characters at spaces; a longer word is split, never dropped. */
export function wrap(text: string, width: number): string[] {
  const w = Math.max(10, width);
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/ +/)) {
    let rest = word;
    while (rest.length > 0) {
      const room = line === "" ? w : w - line.length - 1;
      if (rest.length <= room) {
        line = line === "" ? rest : `${line} ${rest}`;
        rest = "";
      } else if (line !== "") {
        lines.push(line);
        line = "";
      } else {
        lines.push(rest.slice(0, w));
        rest = rest.slice(w);
      }
    }
  }
  if (line !== "" || lines.length === 0) lines.push(line);
  return lines;
}

/**
 * Aligned columns; the last column is not padded. Cells (hostnames, errors agents sent) are escaped with
 * `printable`, so they stay in their cell. With `width`, the last column (a reason, an error) is shown whole,
 * never cut: wrapped at spaces in its column when at least 30 characters of it fit beside the others; else
 * under its row (`    reason: ...`, the column's title in lower case), wrapped to the width.
 */
export function table(header: string[], rows: string[][], width?: number): string {
  const all = [header, ...rows].map((r) => r.map(printable));
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const last = header.length - 1;
  const indent = widths.slice(0, last).reduce((a, b) => a + b + 2, 0);
  const line = (r: string[], n: number) =>
    r
      .slice(0, n)
      .map((cell, i) => (i === n - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  if (width === undefined || width - indent >= 30) {
    const room = width === undefined ? Number.POSITIVE_INFINITY : width - indent;
    return all
      .map((r) => {
        const cell = r[last] ?? "";
        const parts = cell.length <= room ? [cell] : wrap(cell, room);
        const first = `${line(r, last).padEnd(indent - 2)}  ${parts[0]}`.trimEnd();
        return [first, ...parts.slice(1).map((p) => " ".repeat(indent) + p)].join("\n");
      })
      .join("\n");
  }
  const label = `    ${(header[last] ?? "").toLowerCase()}: `;
  const pad = " ".repeat(label.length);
  return all
    .map((r, i) => {
      const cell = r[last] ?? "";
      if (i === 0 || cell === "") return line(r, last);
      const parts = wrap(cell, width - label.length);
      return [line(r, last), ...parts.map((p, k) => (k === 0 ? label : pad) + p)].join("\n");
    })
    .join("\n");
}
