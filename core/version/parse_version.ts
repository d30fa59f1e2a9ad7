import type { SemVer } from "./types.ts";

// MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], semver 2.0 grammar, with one optional leading `v` or `V`.
// Plain strings (not String.raw): module start-up stays free of built-in calls, for the shim.
const NUMERIC = "0|[1-9]\\d*";
const PRE_IDENT = "(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)";
const BUILD_IDENT = "[0-9a-zA-Z-]+";
let full: RegExp | undefined;
/** Built on first use: the client-tools shim only ever sees plain versions (see parsePlain). */
function fullPattern(): RegExp {
  full ??= new RegExp(
    `^[vV]?(${NUMERIC})\\.(${NUMERIC})\\.(${NUMERIC})` +
      `(?:-(${PRE_IDENT}(?:\\.${PRE_IDENT})*))?` +
      `(?:\\+(${BUILD_IDENT}(?:\\.${BUILD_IDENT})*))?$`,
  );
  return full;
}
const NEAR_MISS = /^[vV]?(\d+)\.(\d+)\.(\d+)(?:-([^+]*))?/;
const ZERO_PADDED = /^0\d+$/;

/**
 * Parses a semver 2.0 version; a leading `v` is accepted (`v6.1.0`), surrounding whitespace ignored.
 *
 * @throws {TypeError} when `s` is not a string.
 * @throws {SyntaxError} when `s` is not a valid version; the message names the input.
 */
export function parseVersion(s: string): SemVer {
  if (typeof s !== "string") {
    throw new TypeError(`invalid version: expected a string, got ${s === null ? "null" : typeof s}`);
  }
  const text = s.trim();
  const plain = parsePlain(text);
  if (plain) return plain;
  const m = fullPattern().exec(text);
  if (!m) {
    if (hasLeadingZero(text)) {
      throw new SyntaxError(
        `invalid version "${s}": numeric identifiers must not have leading zeros (semver 2.0)`,
      );
    }
    throw new SyntaxError(`invalid version "${s}": expected MAJOR.MINOR.PATCH (semver 2.0)`);
  }
  const [major, minor, patch] = [m[1], m[2], m[3]].map((n) => Number(n));
  if (!Number.isSafeInteger(major) || !Number.isSafeInteger(minor) || !Number.isSafeInteger(patch)) {
    throw new SyntaxError(`invalid version "${s}": a number is too large`);
  }
  return {
    major: major as number,
    minor: minor as number,
    patch: patch as number,
    prerelease: m[4] === undefined ? [] : m[4].split(".").map(preIdentifier),
    build: m[5] === undefined ? [] : m[5].split("."),
  };
}

/**
 * The common case, `[v]MAJOR.MINOR.PATCH` with no pre-release or build, without a regular expression: the
 * first use of the full pattern compiles it (~0.4 ms measured), which the client-tools shim path cannot afford.
 * Answers undefined for anything else (the full pattern then decides, with its error messages).
 */
function parsePlain(text: string): SemVer | undefined {
  let i = text.charCodeAt(0) === 118 || text.charCodeAt(0) === 86 ? 1 : 0; // v, V
  const parts: number[] = [];
  for (let k = 0; k < 3; k++) {
    const start = i;
    while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    const len = i - start;
    if (len === 0 || len > 15 || (len > 1 && text.charCodeAt(start) === 48)) return undefined;
    parts.push(Number(text.slice(start, i)));
    if (k < 2) {
      if (text.charCodeAt(i) !== 46) return undefined; // .
      i++;
    }
  }
  if (i !== text.length) return undefined;
  return {
    major: parts[0] as number,
    minor: parts[1] as number,
    patch: parts[2] as number,
    prerelease: [],
    build: [],
  };
}

/** `01.2.3` or `1.2.3-rc.01`: close to a version, but semver 2.0 forbids the padding. */
function hasLeadingZero(text: string): boolean {
  const m = NEAR_MISS.exec(text);
  if (!m) return false;
  const ids = [m[1], m[2], m[3], ...(m[4] === undefined ? [] : m[4].split("."))];
  return ids.some((id) => id !== undefined && ZERO_PADDED.test(id));
}

function preIdentifier(id: string): string | number {
  if (!/^\d+$/.test(id)) return id;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : id;
}
