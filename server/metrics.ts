/** A small Prometheus text-format registry: counters and gauges with labels. */

type Labels = Record<string, string>;

interface Family {
  help: string;
  type: "counter" | "gauge";
  values: Map<string, { labels: Labels; value: number }>;
}

function escapeLabel(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

function key(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k] ?? "")}"`)
    .join(",");
}

export class Metrics {
  readonly #families = new Map<string, Family>();

  #family(name: string, help: string, type: "counter" | "gauge"): Family {
    let f = this.#families.get(name);
    if (!f) {
      f = { help, type, values: new Map() };
      this.#families.set(name, f);
    }
    return f;
  }

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const f = this.#family(name, help, "counter");
    const k = key(labels);
    const cur = f.values.get(k);
    if (cur) cur.value += by;
    else f.values.set(k, { labels, value: by });
  }

  /** A counter's cell for hot paths: `cell.value++` instead of `inc` (no per-call label key). */
  counter(name: string, help: string, labels: Labels = {}): { value: number } {
    const f = this.#family(name, help, "counter");
    const k = key(labels);
    let cell = f.values.get(k);
    if (!cell) {
      cell = { labels, value: 0 };
      f.values.set(k, cell);
    }
    return cell;
  }

  /** Replaces every value of a gauge family (for gauges computed from state). */
  setGauge(name: string, help: string, rows: { labels: Labels; value: number }[]): void {
    const f = this.#family(name, help, "gauge");
    f.values.clear();
    for (const r of rows) f.values.set(key(r.labels), { labels: r.labels, value: r.value });
  }

  render(): string {
    const out: string[] = [];
    for (const [name, f] of this.#families) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      for (const [k, v] of f.values) out.push(`${name}${k ? `{${k}}` : ""} ${v.value}`);
    }
    return `${out.join("\n")}\n`;
  }
}
