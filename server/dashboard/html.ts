/**
 * HTML from template literals, escaped by default: `html\`<td>${hostname}</td>\`` escapes the hostname;
 * a nested `html` fragment (or `raw`) is kept as it is; arrays are joined; null, undefined and false render
 * nothing. Every value from outside (hostnames, errors, reasons) goes through here. Synchronous and typed
 * (hono/html's `html` may answer a Promise).
 */
import { printableText } from "../../core/text/printable.ts";

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type Child = Html | string | number | boolean | null | undefined | readonly Child[];

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

function render(v: Child): string {
  if (v === null || v === undefined || v === false || v === true) return "";
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join("");
  // Control characters and bidirectional overrides (which reorder what a reader sees) are shown escaped.
  return escapeHtml(printableText(String(v)));
}

export function html(strings: TemplateStringsArray, ...values: Child[]): Html {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? "");
  return new Html(out);
}

/** Markup that is already safe (built here, never from outside). */
export const raw = (s: string) => new Html(s);
