/**
 * The validation kit every strict reader shares (resources, update.yaml, the release manifest, report
 * bodies): a `Problem` names a field by its full path and says what is wrong; `fieldPath` builds the paths,
 * `isRecord` and `unknownKeys` check the shape. Each reader keeps its own words. Pure.
 */
export * from "./field_path.ts";
export * from "./problem.ts";
export * from "./record.ts";
