/**
 * The path of `key` inside the value at `path`: `spec` + `agents` is `spec.agents`, `groups` + `0` is
 * `groups[0]`, and a key at the top (`path` `""`) is the key alone.
 */
export function fieldPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}
