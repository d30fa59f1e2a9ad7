/**
 * Size limits (issue 12): no source file over 400 lines, no function over 80 lines. Sources are the
 * non-test `.ts` files under cmd/, core/, server/, scripts/ and main.ts. Functions are measured with the
 * TypeScript compiler's own parser (declarations, methods, constructors, accessors, arrow functions and
 * function expressions), from the line of their first token to the line of their last. A table is exempt:
 * a function whose body is mostly one object, array or template literal (data, not logic). A function is
 * named by its declaration, or, when anonymous, by the function around it and the call it is given to
 * (`register>action`: the callback given to `.action(...)` inside `register`).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Node, type SourceFile, SyntaxKind } from "typescript/unstable/ast";
import { API, type Project } from "typescript/unstable/async";
import { ROOT } from "./cli.ts";

const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 80;
/** A function is a table when one literal spans at least this share of its lines. */
const TABLE_SHARE = 0.75;

/**
 * Over the limits today: each is split by another step of issue 12 (updater, wire) and leaves this list when
 * that step is merged; the last four belong to no step yet. `file` entries are whole files; `file:name`
 * entries are functions. The second test fails on an entry that is no longer over a limit: remove it.
 */
const PENDING = new Set<string>([]);

const FUNCTION_KINDS = new Set<SyntaxKind>([
  SyntaxKind.FunctionDeclaration,
  SyntaxKind.FunctionExpression,
  SyntaxKind.ArrowFunction,
  SyntaxKind.MethodDeclaration,
  SyntaxKind.Constructor,
  SyntaxKind.GetAccessor,
  SyntaxKind.SetAccessor,
]);
const LITERAL_KINDS = new Set<SyntaxKind>([
  SyntaxKind.ObjectLiteralExpression,
  SyntaxKind.ArrayLiteralExpression,
  SyntaxKind.TemplateExpression,
  SyntaxKind.NoSubstitutionTemplateLiteral,
]);

/** The source files the limits apply to, relative to the repository root. */
function sources(): string[] {
  const out: string[] = ["main.ts"];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(ROOT, dir)).sort()) {
      const rel = join(dir, name);
      if (statSync(join(ROOT, rel)).isDirectory()) walk(rel);
      else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) out.push(rel);
    }
  };
  for (const dir of ["cmd", "core", "server", "scripts"]) walk(dir);
  return out;
}

const lineCount = (text: string) => text.split("\n").length - (text.endsWith("\n") ? 1 : 0);

function span(sf: SourceFile, node: Node): number {
  const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
  return sf.getLineAndCharacterOfPosition(node.getEnd()).line - first + 1;
}

/** The lines of the largest literal in `node`, not counting nested functions. */
function largestLiteral(sf: SourceFile, node: Node): number {
  let most = 0;
  const visit = (n: Node): void => {
    if (FUNCTION_KINDS.has(n.kind)) return;
    if (LITERAL_KINDS.has(n.kind)) most = Math.max(most, span(sf, n));
    else n.forEachChild(visit);
  };
  node.forEachChild(visit);
  return most;
}

function functionName(sf: SourceFile, node: Node): string {
  const named = node as Node & { name?: Node };
  if (named.name) return named.name.getText(sf);
  if (node.kind === SyntaxKind.Constructor) return "constructor";
  const parent = node.parent as Node & { name?: Node; expression?: Node };
  if (parent.kind === SyntaxKind.VariableDeclaration || parent.kind === SyntaxKind.PropertyAssignment)
    return parent.name?.getText(sf) ?? "(anonymous)";
  const callee = parent.kind === SyntaxKind.CallExpression ? parent.expression : undefined;
  const given = callee ? (callee.getText(sf).split(".").pop() ?? "") : "";
  let outer: Node | undefined = parent;
  while (outer && !FUNCTION_KINDS.has(outer.kind)) outer = outer.parent;
  return `${outer ? functionName(sf, outer) : "(top)"}>${given || "(anonymous)"}`;
}

/** Functions of `sf` over the limit, as `name (N lines)`. */
function longFunctions(sf: SourceFile): { name: string; lines: number }[] {
  const out: { name: string; lines: number }[] = [];
  const visit = (n: Node): void => {
    if (FUNCTION_KINDS.has(n.kind)) {
      const lines = span(sf, n);
      if (lines > MAX_FUNCTION_LINES && largestLiteral(sf, n) < lines * TABLE_SHARE)
        out.push({ name: functionName(sf, n), lines });
    }
    n.forEachChild(visit);
  };
  sf.forEachChild(visit);
  return out;
}

let api: API;
let project: Project;

beforeAll(async () => {
  api = new API({ cwd: ROOT });
  const snapshot = await api.updateSnapshot({ openProjects: [join(ROOT, "tsconfig.json")] });
  const found = snapshot.getProject(join(ROOT, "tsconfig.json"));
  if (!found) throw new Error("tsconfig.json: no project");
  project = found;
});

afterAll(async () => {
  await api?.close();
});

describe("size limits", () => {
  const files = sources();

  test("there are sources to measure", () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files).toContain(join("cmd", "cli.ts"));
  });

  test(`no source file over ${MAX_FILE_LINES} lines, no function over ${MAX_FUNCTION_LINES} (tables aside)`, async () => {
    const over: string[] = [];
    for (const rel of files) {
      const lines = lineCount(readFileSync(join(ROOT, rel), "utf8"));
      if (lines > MAX_FILE_LINES && !PENDING.has(rel)) over.push(`${rel}: ${lines} lines`);
      const sf = await project.program.getSourceFile(join(ROOT, rel));
      if (!sf) throw new Error(`${rel}: not in tsconfig.json's program`);
      for (const f of longFunctions(sf))
        if (!PENDING.has(`${rel}:${f.name}`)) over.push(`${rel}: ${f.name}: ${f.lines} lines`);
    }
    expect(over).toEqual([]);
  });

  test("every pending entry is still over a limit (remove it once split)", async () => {
    const still = new Set<string>();
    for (const rel of files) {
      if (lineCount(readFileSync(join(ROOT, rel), "utf8")) > MAX_FILE_LINES) still.add(rel);
      const sf = await project.program.getSourceFile(join(ROOT, rel));
      for (const f of sf ? longFunctions(sf) : []) still.add(`${rel}:${f.name}`);
    }
    expect([...PENDING].filter((p) => !still.has(p))).toEqual([]);
  });
});
