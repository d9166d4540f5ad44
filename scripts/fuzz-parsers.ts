import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Triage } from "../src/classify/triage.ts";
import { ConfigError } from "../src/config/errors.ts";
import { parseConfig } from "../src/config/load.ts";
import type { Entry } from "../src/event.ts";
import { parseCoredumpInfo, parseCoredumpList, parseStackFrames } from "../src/parse/coredump.ts";
import { parseCrashLine } from "../src/parse/crash-line.ts";
import { parseDmesgLine } from "../src/parse/dmesg.ts";
import { journalRecordToEntry, parseJournalLine, rawStringField } from "../src/parse/journal-json.ts";
import { parseKmsgRecord } from "../src/parse/kmsg.ts";
import { parseKilledProcess, parseOomReport } from "../src/parse/oom-report.ts";
import { parseSmartctlReport, parseSmartctlScan } from "../src/parse/smartctl.ts";
import { parseServiceShow, parseTimerList, parseTimerShow, parseTimespan } from "../src/parse/systemd-show.ts";
import { newStats, readLogStream } from "../src/sources/file.ts";

// A seeded fuzzer over every parser of outside text: journal JSON (lines and already-parsed
// values of every JSON type and depth), kmsg records, dmesg/syslog text, OOM report assembly
// (through Triage, which assembles and classifies), coredumpctl, smartctl JSON, systemctl
// show, and the config file. Inputs are real captured fixtures, mutated (bytes flipped,
// cut, duplicated, control and invalid UTF-8 bytes, odd JSON values swapped in), plus random
// values. A parser may return null or throw its documented error (ConfigError); anything
// else thrown is a finding, reported with the seed and input that reproduce it. The suite
// runs a short pass (tests/parse/fuzz.test.ts); `bun run bench` a long one.

const FIXTURES = join(import.meta.dir, "..", "tests", "fixtures");

/** mulberry32: small, fast, and the same sequence for a seed on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly rand: () => number) {}
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
  /** Text from odd corners: control bytes, escapes, lone surrogates, RTL marks, long digits. */
  weirdText(): string {
    const pieces = [
      "\u0000",
      "\x1b[2J",
      "\x1b]0;title\x07",
      "\r",
      "\t",
      "\n",
      "\u202e",
      "\ud800",
      "\ufffd",
      "é",
      "💥",
      "%s%n",
      "${x}",
      "\\",
      '"',
      "=",
      ";",
      ",",
      "[",
      "]",
      "{",
      "}",
      ":",
      " ",
      "9".repeat(this.int(40) + 1),
      "-1",
      "1e309",
      "NaN",
      "0x",
      "kB",
      "pages",
    ];
    let s = "";
    for (let i = this.int(12); i >= 0; i--) s += this.pick(pieces);
    return s;
  }
  /** Any JSON value, arrays and objects nested up to `depth` levels (and sometimes far deeper). */
  jsonValue(depth = 3): unknown {
    const k = this.int(depth > 0 ? 9 : 6);
    switch (k) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, 255, 256, -0]);
      case 3:
        return this.weirdText();
      case 4:
        return Array.from({ length: this.int(8) }, () => this.int(300) - 20);
      case 5:
        return this.chance(0.1) ? nested(this.int(20_000)) : "";
      case 6:
      case 7:
        return Array.from({ length: this.int(4) }, () => this.jsonValue(depth - 1));
      default:
        return Object.fromEntries(Array.from({ length: this.int(4) }, () => [this.weirdText(), this.jsonValue(depth - 1)]));
    }
  }
  /** `text` with a few random edits. */
  mutate(text: string): string {
    let s = text;
    for (let i = this.int(4) + 1; i > 0; i--) {
      const at = this.int(s.length + 1);
      switch (this.int(6)) {
        case 0:
          s = s.slice(0, at) + this.weirdText() + s.slice(at);
          break;
        case 1:
          s = s.slice(0, at) + s.slice(at + this.int(40));
          break;
        case 2:
          s = s.slice(0, at);
          break;
        case 3:
          s = s.slice(0, at) + s.slice(this.int(s.length + 1));
          break;
        case 4: {
          const digits = /\d+/g;
          s = s.replace(digits, (d) => (this.chance(0.2) ? this.pick(["99999999999999999999999", "-5", "0", "", "1e9"]) : d));
          break;
        }
        default:
          s = s.slice(0, at) + String.fromCharCode(this.int(0x110)) + s.slice(at);
      }
    }
    return s;
  }
}

function nested(depth: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

function readAll(dir: string, filter: (name: string) => boolean): string[] {
  return readdirSync(dir)
    .filter(filter)
    .sort()
    .map((name) => readFileSync(join(dir, name), "utf8"));
}

interface Corpus {
  journalLines: string[];
  kmsg: string[];
  dmesg: string[];
  coredumpInfo: string[];
  coredumpList: string[];
  smartctl: string[];
  systemctlShow: string[];
  config: string[];
}

export function loadCorpus(): Corpus {
  const real = join(FIXTURES, "real");
  const lines = (texts: string[]) => texts.flatMap((t) => t.split("\n")).filter((l) => l.trim() !== "");
  return {
    journalLines: lines(readAll(real, (n) => n.endsWith(".jsonl"))),
    kmsg: readAll(real, (n) => n.endsWith(".kmsg.txt")),
    dmesg: [...readAll(real, (n) => n.endsWith(".dmesg.txt")), ...readAll(join(FIXTURES, "public"), (n) => n.endsWith(".txt"))],
    coredumpInfo: [readFileSync(join(real, "coredumpctl-info.txt"), "utf8")],
    coredumpList: [readFileSync(join(real, "coredumpctl-list.json"), "utf8")],
    smartctl: readAll(join(FIXTURES, "smartctl"), (n) => n.endsWith(".json")),
    systemctlShow: readAll(real, (n) => n.startsWith("systemctl-")),
    config: readAll(join(FIXTURES, "config"), (n) => n.endsWith(".toml")),
  };
}

export interface FuzzFinding {
  parser: string;
  seed: number;
  iteration: number;
  input: string;
  error: string;
}

export interface FuzzResult {
  iterations: number;
  calls: number;
  findings: FuzzFinding[];
}

/** Run `iterations` rounds over every parser; never throws, returns what went wrong. */
export async function fuzzParsers(seed: number, iterations: number, corpus: Corpus = loadCorpus()): Promise<FuzzResult> {
  const g = new Gen(seededRandom(seed));
  const findings: FuzzFinding[] = [];
  let calls = 0;
  let iteration = 0;
  const check = (parser: string, input: string, run: () => unknown, allowed?: (e: unknown) => boolean) => {
    calls++;
    try {
      run();
    } catch (error) {
      if (allowed?.(error)) return;
      findings.push({
        parser,
        seed,
        iteration,
        input: input.slice(0, 2000),
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
    }
  };
  const triage = new Triage({
    pageSizeKb: 4,
    enabledGroups: new Set(["core", "gpu", "raid", "file_sharing", "containers", "coredumps", "memory_pressure"]),
    disabled: [],
    custom: [],
  });
  const nowUs = 1_796_000_000_000_000;
  const env = { env: { HOME: "/home/fuzz" }, hostname: "fuzz" };

  for (iteration = 0; iteration < iterations; iteration++) {
    // Journal JSON: a real line mutated as text, and a real record with a field replaced by any JSON value.
    const line = g.pick(corpus.journalLines);
    const mutated = g.mutate(line);
    check("parseJournalLine", mutated, () => parseJournalLine(mutated));
    check("rawStringField", mutated, () => rawStringField(mutated, g.pick(["MESSAGE", "__CURSOR", "_SYSTEMD_UNIT"])));
    let record: Record<string, unknown> = {};
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      void error; // fixtures are valid JSON; a broken one only weakens this round
    }
    const key = g.pick([...Object.keys(record), g.weirdText(), "MESSAGE", "PRIORITY", "_PID", "__REALTIME_TIMESTAMP", "__proto__"]);
    record[key] = g.jsonValue();
    const recordText = `(record with ${JSON.stringify(key)} replaced)`;
    let entry: Entry | null = null;
    check("journalRecordToEntry", recordText, () => (entry = journalRecordToEntry(record)));
    if (entry) check("Triage.push(journal)", recordText, () => triage.push(entry as Entry, nowUs));

    // kmsg and dmesg text, each mutated, fed line by line into triage (OOM report assembly).
    const kmsgText = g.mutate(g.pick(corpus.kmsg));
    for (const rec of kmsgText.split(/\n(?! )/)) {
      let e: Entry | null = null;
      check("parseKmsgRecord", rec, () => (e = parseKmsgRecord(rec, g.chance(0.5) ? "boot" : null, g.chance(0.5) ? nowUs : null)));
      if (e) check("Triage.push(kmsg)", rec, () => triage.push(e as Entry, nowUs));
    }
    const dmesgText = g.mutate(g.pick(corpus.dmesg));
    const dmesgLines = dmesgText.split("\n");
    for (const l of dmesgLines) {
      let e: Entry | null = null;
      check("parseDmesgLine", l, () => (e = parseDmesgLine(l, { year: 2026 })));
      if (e) check("Triage.push(dmesg)", l, () => triage.push(e as Entry, nowUs));
      check("parseCrashLine", l, () => parseCrashLine(l));
      check("parseKilledProcess", l, () => parseKilledProcess(l));
    }
    check("parseOomReport", dmesgText, () => parseOomReport(dmesgLines, g.pick([4, 16, 64]), 5));
    check("Triage.flush", "", () => triage.flush(nowUs));

    // A whole file through the reader replay uses, in raw bytes with invalid UTF-8 mixed in.
    const bytes = Buffer.from(g.mutate(g.pick([...corpus.journalLines.slice(0, 50), ...corpus.kmsg, ...corpus.dmesg])), "utf8");
    if (bytes.length > 0 && g.chance(0.5)) bytes[g.int(bytes.length)] = g.pick([0xff, 0xc0, 0x80, 0x00, 0xfe]);
    calls++;
    try {
      for await (const e of readLogStream(new Blob([bytes]).stream(), { year: 2026, maxLineChars: 4096 }, newStats())) void e;
    } catch (error) {
      findings.push({ parser: "readLogStream", seed, iteration, input: bytes.toString("latin1").slice(0, 2000), error: String(error) });
    }

    const info = g.mutate(g.pick(corpus.coredumpInfo));
    check("parseCoredumpInfo", info, () => parseCoredumpInfo(info));
    check("parseStackFrames", info, () => parseStackFrames(info));
    const list = g.chance(0.5) ? g.mutate(g.pick(corpus.coredumpList)) : JSON.stringify(g.jsonValue());
    check("parseCoredumpList", list, () => parseCoredumpList(list));

    const smart = g.chance(0.5) ? g.mutate(g.pick(corpus.smartctl)) : JSON.stringify(g.jsonValue(4));
    check("parseSmartctlReport", smart, () => parseSmartctlReport(smart, "/dev/sda", g.pick([null, 0, 4, 255, -1])));
    check("parseSmartctlScan", smart, () => parseSmartctlScan(smart));

    const show = g.mutate(g.pick(corpus.systemctlShow));
    check("parseServiceShow", show, () => parseServiceShow(show));
    check("parseTimerShow", show, () => parseTimerShow(show));
    check("parseTimerList", show, () => parseTimerList(show));
    const span = g.weirdText();
    check("parseTimespan", span, () => parseTimespan(span));

    const config = g.mutate(g.pick(corpus.config));
    check(
      "parseConfig",
      config,
      () => parseConfig(config, "/fuzz/config.toml", env),
      (e) => e instanceof ConfigError,
    );
  }
  return { iterations, calls, findings };
}

if (import.meta.main) {
  const seed = Number(process.env["FUZZ_SEED"] ?? 1);
  const iterations = Number(process.env["FUZZ_ITERATIONS"] ?? 20_000);
  const t0 = performance.now();
  const result = await fuzzParsers(seed, iterations);
  const s = (performance.now() - t0) / 1000;
  console.log(
    `fuzz: seed ${seed}, ${result.iterations} rounds, ${result.calls} parser calls in ${s.toFixed(1)} s, ${result.findings.length} finding(s)`,
  );
  for (const f of result.findings.slice(0, 20))
    console.log(`  ${f.parser} (round ${f.iteration}): ${f.error}\n    input: ${JSON.stringify(f.input.slice(0, 300))}`);
  if (result.findings.length > 0) process.exitCode = 1;
}
