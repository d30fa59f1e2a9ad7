/**
 * Text from the network or from a file someone else can write, made safe to print: control characters
 * escaped, so a server's `reason` cannot move the cursor, recolour the terminal, set its title, or forge a
 * second log line. Pure.
 *
 * Escaped: C0 controls (`\n`, `\r`, `\t` by name, the others as `\xNN`), DEL and the C1 controls (0x80-0x9f:
 * 0x9b is CSI on some terminals), the Unicode line and paragraph separators and the bidirectional overrides
 * and isolates (which reorder what a reader sees) as `\uXXXX`. The `\u` form is also a valid JSON escape, and
 * C0 controls never appear raw in `JSON.stringify` output, so escaping a JSON text keeps it valid JSON with
 * the same value.
 */

function escapeChar(c: number): string {
  if (c === 0x0a) return "\\n";
  if (c === 0x0d) return "\\r";
  if (c === 0x09) return "\\t";
  if (c < 0x20) return `\\x${c.toString(16).padStart(2, "0")}`;
  return `\\u${c.toString(16).padStart(4, "0")}`;
}

function isUnsafe(c: number, keepNewlines: boolean): boolean {
  if (c < 0x20) return !(keepNewlines && (c === 0x0a || c === 0x09));
  if (c < 0x7f) return false;
  if (c <= 0x9f) return true; // DEL, C1
  return c === 0x2028 || c === 0x2029 || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

function escapeUnsafe(s: string, keepNewlines: boolean): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isUnsafe(c, keepNewlines)) continue;
    out += s.slice(from, i) + escapeChar(c);
    from = i + 1;
  }
  return from === 0 ? s : out + s.slice(from);
}

/** One line: every control character escaped, newlines included (log lines, error messages, field values). */
export function printable(s: string): string {
  return escapeUnsafe(s, false);
}

/**
 * Text of several lines that upkeep composed (a table, a status): the same, but `\n` and `\t` kept. A value
 * from outside that must stay on its own line goes through `printable` first.
 */
export function printableText(s: string): string {
  return escapeUnsafe(s, true);
}
