// The Prometheus text exposition format (version 0.0.4), the one every scraper reads
// (Prometheus, VictoriaMetrics, Grafana Agent). Pure: families in, text out.
//
// What the format requires, and what promtool `check metrics` enforces:
// - one `# HELP` and one `# TYPE` line per family, before its samples, and all of a family's
//   samples together (a family split in two is rejected by the parser);
// - label values in double quotes with `\`, `"` and newline escaped; HELP text with `\` and
//   newline escaped (quotes stay as they are there);
// - counters named `_total`; values as Go's strconv prints them, with NaN, +Inf and -Inf.
// https://prometheus.io/docs/instrumenting/exposition_formats/

export type MetricType = "counter" | "gauge";

export interface Sample {
  labels?: Readonly<Record<string, string>>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: readonly Sample[];
}

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatLabels(labels: Readonly<Record<string, string>> | undefined, family: string): string {
  if (!labels) return "";
  const names = Object.keys(labels);
  if (names.length === 0) return "";
  const parts = names.map((name) => {
    // Names are ours (code, not data): a bad one is a bug, caught by the tests.
    if (!LABEL_NAME.test(name) || name.startsWith("__")) throw new Error(`bad label name ${JSON.stringify(name)} in ${family}`);
    return `${name}="${escapeLabelValue(labels[name] as string)}"`;
  });
  return `{${parts.join(",")}}`;
}

/**
 * The exposition text for these families. Families with no samples still get HELP and TYPE
 * (a scraper then knows the metric exists and has nothing now). Two families of one name are
 * a bug and throw: the format allows each name once.
 */
export function renderExposition(families: readonly MetricFamily[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new Error(`bad metric name ${JSON.stringify(f.name)}`);
    if (seen.has(f.name)) throw new Error(`metric family ${f.name} given twice`);
    if (f.type === "counter" && !f.name.endsWith("_total")) throw new Error(`counter ${f.name} must end in _total`);
    seen.add(f.name);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) out.push(`${f.name}${formatLabels(s.labels, f.name)} ${formatValue(s.value)}`);
  }
  return out.length ? out.join("\n") + "\n" : "";
}
