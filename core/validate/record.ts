/** A mapping (a JSON object, a YAML map): not null, not a list. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The keys of `o` that are not in `allowed`, in the document's order (each is reported as unknown). */
export function unknownKeys(o: Record<string, unknown>, allowed: readonly string[]): string[] {
  return Object.keys(o).filter((k) => !allowed.includes(k));
}
