// Renders run.ts's results as a markdown table: one row per metric, one column per broker
// (median over the runs, with the number of runs that produced a value when it is not all of
// them), then each broker's ratio to mosquitto. Pure: no I/O.
import { type Metrics, type Row, scenarios } from "./scenarios.ts";

const BASELINE = "mosquitto";

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function format(value: number | null): string {
  if (value === null) return "n/a";
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** All values of `label` over a broker's results (one Metrics per scenario run). */
function valuesOf(results: Metrics[], label: string): { values: number[]; attempts: number } {
  const values: number[] = [];
  let attempts = 0;
  for (const m of results) {
    if (!(label in m)) continue;
    attempts++;
    const v = m[label];
    if (v !== null && v !== undefined) values.push(v);
  }
  return { values, attempts };
}

export function renderTable(brokers: string[], results: Map<string, Metrics[]>): string {
  const rows: Row[] = scenarios
    .flatMap((s) => s.rows)
    .filter((row) => brokers.some((b) => valuesOf(results.get(b) ?? [], row.label).attempts > 0));
  const others = brokers.includes(BASELINE) ? brokers.filter((b) => b !== BASELINE) : [];
  const header = ["metric", ...brokers, ...others.map((b) => `${b} / ${BASELINE}`)];
  const lines = [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
  ];
  for (const row of rows) {
    const medians = new Map<string, number | null>();
    const cells = brokers.map((b) => {
      const { values, attempts } = valuesOf(results.get(b) ?? [], row.label);
      const m = median(values);
      medians.set(b, m);
      const partial =
        values.length > 0 && values.length < attempts ? ` (${values.length}/${attempts})` : "";
      return format(m) + partial;
    });
    const base = medians.get(BASELINE) ?? null;
    const ratios = others.map((b) => {
      const m = medians.get(b) ?? null;
      return m === null || base === null || base === 0 ? "n/a" : `${(m / base).toFixed(2)}x`;
    });
    const arrow = row.better === "higher" ? "↑" : "↓";
    lines.push(`| ${row.label} ${arrow} | ${[...cells, ...ratios].join(" | ")} |`);
  }
  return lines.join("\n");
}
