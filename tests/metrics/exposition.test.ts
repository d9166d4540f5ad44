import { describe, expect, test } from "bun:test";
import { escapeHelp, escapeLabelValue, formatValue, renderExposition, type MetricFamily } from "../../src/metrics/exposition.ts";
import { PROMTOOL, promtoolCheckMetrics, promtoolMissing } from "./_promtool.ts";

// Label values come from outside (unit names, service names, instance ids from config):
// these are the characters the format escapes, and names people do use.
const AWKWARD_VALUES = [
  'say "hi"',
  "back\\slash",
  "two\nlines",
  "C:\\temp\\",
  "getty@tty1.service",
  "Plex Media Server",
  "()",
  "ünïcode ✓",
  "",
];

describe("exposition format", () => {
  test.each([
    ['say "hi"', 'say \\"hi\\"'],
    ["back\\slash", "back\\\\slash"],
    ["two\nlines", "two\\nlines"],
    ["\\n is not a newline", "\\\\n is not a newline"],
    ["plain-unit@1.service", "plain-unit@1.service"],
  ])("label value %j is written %j", (value, written) => {
    expect(escapeLabelValue(value)).toBe(written);
  });

  test("HELP escapes backslash and newline but leaves quotes", () => {
    expect(escapeHelp('a "b"\\c\nd')).toBe('a "b"\\\\c\\nd');
  });

  test("special values as Prometheus spells them", () => {
    expect([NaN, Infinity, -Infinity, 0, 1.5, 1795394052].map(formatValue)).toEqual(["NaN", "+Inf", "-Inf", "0", "1.5", "1795394052"]);
  });

  test("one HELP and one TYPE per family, before its samples, samples kept together", () => {
    const text = renderExposition([
      {
        name: "a_total",
        type: "counter",
        help: "A.",
        samples: [
          { labels: { tier: "T1" }, value: 1 },
          { labels: { tier: "T2" }, value: 2 },
        ],
      },
      { name: "b", type: "gauge", help: "B.", samples: [{ value: 3 }] },
      { name: "c", type: "gauge", help: "Nothing now.", samples: [] },
    ]);
    expect(text).toBe(
      [
        "# HELP a_total A.",
        "# TYPE a_total counter",
        'a_total{tier="T1"} 1',
        'a_total{tier="T2"} 2',
        "# HELP b B.",
        "# TYPE b gauge",
        "b 3",
        "# HELP c Nothing now.",
        "# TYPE c gauge",
        "",
      ].join("\n"),
    );
  });

  test("a family given twice, a counter without _total or a bad name is a bug, not text", () => {
    const f: MetricFamily = { name: "x", type: "gauge", help: "", samples: [] };
    expect(() => renderExposition([f, f])).toThrow("given twice");
    expect(() => renderExposition([{ ...f, name: "x_count", type: "counter" }])).toThrow("_total");
    expect(() => renderExposition([{ ...f, name: "bad-name" }])).toThrow("bad metric name");
    expect(() => renderExposition([{ ...f, samples: [{ labels: { "bad-label": "v" }, value: 1 }] }])).toThrow("bad label name");
  });

  test("awkward label values and help text pass Prometheus's own parser (promtool check metrics)", () => {
    const text = renderExposition([
      {
        name: "logtriage_test_total",
        type: "counter",
        help: 'Help with "quotes", a \\ and\na newline.',
        samples: AWKWARD_VALUES.map((v, i) => ({ labels: { unit: v }, value: i })),
      },
      {
        name: "logtriage_test_seconds",
        type: "gauge",
        help: "Special values.",
        samples: [NaN, Infinity, -Infinity].map((value, i) => ({ labels: { i: String(i) }, value })),
      },
    ]);
    if (!PROMTOOL) return promtoolMissing("escaping");
    const r = promtoolCheckMetrics(text);
    expect(r.output).toBe("");
    expect(r.code).toBe(0);
  });

  test("promtool would notice an unescaped quote (the check above can fail)", () => {
    if (!PROMTOOL) return promtoolMissing("the negative case");
    const broken = '# HELP x_total X.\n# TYPE x_total counter\nx_total{unit="say "hi""} 1\n';
    expect(promtoolCheckMetrics(broken).code).not.toBe(0);
  });
});
