/**
 * A client tool's name: one path segment of 1-64 characters from `A-Z a-z 0-9 . _ -`, starting with a
 * letter or digit (so never `.`/`..`, never a hidden file, never a path). The same rule as the regular
 * expression `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`, written as a loop: it runs on every shim start, where
 * compiling a regular expression costs ~0.07 ms (measured).
 */
export function isToolName(name: string): boolean {
  if (name.length === 0 || name.length > 64) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    if (!alnum && (i === 0 || (c !== 46 && c !== 95 && c !== 45))) return false; // . _ -
  }
  return true;
}
