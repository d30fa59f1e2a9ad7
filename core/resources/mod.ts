/**
 * The operator resources `autoupdate_config` and `autoupdate_version` (DESIGN §2): parse YAML or JSON,
 * validate with full field paths, fill defaults, and format back to the canonical wire form.
 *
 * ```ts
 * const config = parseAutoupdateConfig(yamlText);      // throws BadResourceError (E_BAD_RESOURCE)
 * const r = checkAutoupdateConfig(body);               // { ok: false, problems: [{ path, message }] }
 * formatAutoupdateConfig(config);                      // snake_case object for GET
 * ```
 *
 * @module
 */
export * from "./bad_resource_error.ts";
export * from "./check_autoupdate_config.ts";
export * from "./check_autoupdate_version.ts";
export * from "./default_autoupdate_config.ts";
export * from "./dropped_sections.ts";
export * from "./format_autoupdate_config.ts";
export * from "./format_autoupdate_version.ts";
export * from "./parse_autoupdate_config.ts";
export * from "./parse_autoupdate_version.ts";
export * from "./types.ts";
