import { readdirSync } from "node:fs";
import { join } from "node:path";
import { TIERS, type Candidate, type Entry, type Tier } from "../src/event.ts";
import { Triage } from "../src/classify/triage.ts";
import { parseKmsgRecord } from "../src/parse/kmsg.ts";
import { parseJournalLine } from "../src/parse/journal-json.ts";
import { ALL_GROUPS, FIXTURES } from "./_fixtures.ts";

// The sourced corpus (tests/fixtures/public/corpus/*.jsonl): real lines with the tier and rule
// they must get, run through the same parsers, prefilter, assembler and classifier as the
// daemon. Shared by tests/classify/corpus.test.ts and scripts/corpus-report.ts.

export const CORPUS_DIR = join(FIXTURES, "public", "corpus");
export const KNOWN_MISSES = "known-misses.jsonl";

export const KINDS = ["quoted", "captured", "format", "benign"] as const;
export type CorpusKind = (typeof KINDS)[number];

export interface CorpusRecord {
  text?: string;
  lines?: string[];
  origin: "kernel" | "journal";
  fields?: Record<string, string>;
  tier: Tier | null;
  rule: string | null;
  kind: CorpusKind;
  source: string;
  /** Where it was read: "file.jsonl:line". */
  at: string;
}

export interface RecordResult {
  record: CorpusRecord;
  candidates: Candidate[];
  pass: boolean;
  /** Listed in known-misses.jsonl, with this reason. */
  knownMiss: string | null;
}

// The journal fields a record may carry: who logged it, and the structured fields systemd adds to
// its unit messages (exit code and status, unit and job results, restart counter).
const FIELD_KEYS = new Set([
  "SYSLOG_IDENTIFIER",
  "SYSLOG_FACILITY",
  "SYSLOG_PID",
  "PRIORITY",
  "_TRANSPORT",
  "UNIT",
  "USER_UNIT",
  "MESSAGE_ID",
  "_PID",
  "_COMM",
  "_SYSTEMD_UNIT",
  "EXIT_CODE",
  "EXIT_STATUS",
  "UNIT_RESULT",
  "JOB_TYPE",
  "JOB_RESULT",
  "N_RESTARTS",
]);

function fail(at: string, why: string): never {
  throw new Error(`${at}: ${why}`);
}

/** Check one parsed line against the record format; throws naming the file and line. */
export function checkRecord(raw: unknown, at: string): CorpusRecord {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail(at, "not a JSON object");
  const r = raw as Record<string, unknown>;
  const text = r["text"];
  const lines = r["lines"];
  if ((text === undefined) === (lines === undefined)) fail(at, 'exactly one of "text" and "lines"');
  if (text !== undefined && (typeof text !== "string" || text === "")) fail(at, '"text" must be a non-empty string');
  if (lines !== undefined && (!Array.isArray(lines) || lines.length === 0 || !lines.every((l) => typeof l === "string")))
    fail(at, '"lines" must be a non-empty list of strings');
  if (r["origin"] !== "kernel" && r["origin"] !== "journal") fail(at, '"origin" must be "kernel" or "journal"');
  const tier = r["tier"];
  if (tier !== null && !(TIERS as readonly unknown[]).includes(tier)) fail(at, '"tier" must be T1..T5 or null');
  const rule = r["rule"];
  if (rule !== null && typeof rule !== "string") fail(at, '"rule" must be a string or null');
  if ((tier === null) !== (rule === null)) fail(at, '"tier" and "rule" are both null (benign) or both set');
  const kind = r["kind"];
  if (!(KINDS as readonly unknown[]).includes(kind)) fail(at, `"kind" must be one of ${KINDS.join(", ")}`);
  if ((kind === "benign") !== (tier === null)) fail(at, "benign records, and only they, have tier null");
  if (typeof r["source"] !== "string" || r["source"] === "") fail(at, '"source" must name where the line came from');
  const fields = r["fields"];
  if (fields !== undefined) {
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) fail(at, '"fields" must be an object');
    for (const [k, v] of Object.entries(fields)) {
      if (!FIELD_KEYS.has(k)) fail(at, `unexpected field ${k}`);
      if (typeof v !== "string") fail(at, `field ${k} must be a string`);
    }
  }
  return {
    ...(text !== undefined ? { text: text as string } : {}),
    ...(lines !== undefined ? { lines: lines as string[] } : {}),
    origin: r["origin"] as "kernel" | "journal",
    ...(fields !== undefined ? { fields: fields as Record<string, string> } : {}),
    tier: tier as Tier | null,
    rule: rule as string | null,
    kind: kind as CorpusKind,
    source: r["source"] as string,
    at,
  };
}

export function recordLines(r: Pick<CorpusRecord, "text" | "lines">): string[] {
  return r.lines ?? [r.text as string];
}

/** The key a known miss is listed under: the record's text, or its lines joined. */
export function recordKey(r: Pick<CorpusRecord, "text" | "lines">): string {
  return recordLines(r).join("\n");
}

async function readJsonl(path: string, name: string): Promise<{ value: unknown; at: string }[]> {
  const out: { value: unknown; at: string }[] = [];
  const text = await Bun.file(path).text();
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const at = `${name}:${i + 1}`;
    try {
      out.push({ value: JSON.parse(line), at });
    } catch {
      fail(at, "not valid JSON");
    }
  });
  return out;
}

export async function loadCorpus(dir = CORPUS_DIR): Promise<{ records: CorpusRecord[]; knownMisses: Map<string, string> }> {
  const records: CorpusRecord[] = [];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl") && f !== KNOWN_MISSES)
    .sort();
  for (const f of files) for (const { value, at } of await readJsonl(join(dir, f), f)) records.push(checkRecord(value, at));
  const knownMisses = new Map<string, string>();
  const missPath = join(dir, KNOWN_MISSES);
  if (await Bun.file(missPath).exists()) {
    for (const { value, at } of await readJsonl(missPath, KNOWN_MISSES)) {
      const v = value as Record<string, unknown>;
      if (typeof v["reason"] !== "string" || v["reason"] === "") fail(at, 'a known miss needs a "reason"');
      const key = recordKey(v as Pick<CorpusRecord, "text" | "lines">);
      knownMisses.set(key, v["reason"] as string);
    }
  }
  return { records, knownMisses };
}

const BOOT_ID = "0123456789abcdef0123456789abcdef";
const T0_US = Date.UTC(2026, 0, 15, 12, 0, 0) * 1000;

/**
 * The entries a real source would make of a record. Kernel lines become /dev/kmsg records
 * (facility 0, the given PRIORITY, else 4: most quoted lines do not say their level) read by
 * the kmsg parser; journal lines become `journalctl -o json` lines that must pass the raw
 * prefilter, as in replay and the daemon, before the JSON parser reads them.
 */
export function recordEntries(r: CorpusRecord, triage: Triage): Entry[] {
  const out: Entry[] = [];
  recordLines(r).forEach((line, i) => {
    const usec = 1_000_000 + i * 1000;
    if (r.origin === "kernel") {
      const prio = Number(r.fields?.["PRIORITY"] ?? 4);
      const escaped = line.replace(/[\x00-\x08\x0a-\x1f\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
      const e = parseKmsgRecord(`${prio},${i + 1},${usec},-;${escaped}`, BOOT_ID, T0_US);
      if (e) out.push(e);
      return;
    }
    const json = JSON.stringify({
      __CURSOR: `s=corpus;i=${i + 1}`,
      __REALTIME_TIMESTAMP: String(T0_US + usec),
      __MONOTONIC_TIMESTAMP: String(usec),
      _BOOT_ID: BOOT_ID,
      _TRANSPORT: "syslog",
      PRIORITY: "6",
      ...r.fields,
      MESSAGE: line,
    });
    if (!triage.wantsRawLine(json)) return;
    const e = parseJournalLine(json);
    if (e) out.push(e);
  });
  return out;
}

/** A tiered record passes when one event has its rule and tier and no event has another tier; a benign one when nothing fires. */
export function judge(r: CorpusRecord, candidates: readonly Candidate[]): boolean {
  if (r.tier === null) return candidates.length === 0;
  return candidates.some((c) => c.rule === r.rule && c.tier === r.tier) && candidates.every((c) => c.tier === r.tier);
}

export function runRecord(r: CorpusRecord): Candidate[] {
  // Every pattern group on, as every role has them.
  const triage = new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS });
  const candidates: Candidate[] = [];
  for (const e of recordEntries(r, triage)) candidates.push(...triage.push(e, T0_US));
  candidates.push(...triage.flush(T0_US));
  return candidates;
}

export function runCorpus(records: readonly CorpusRecord[], knownMisses: ReadonlyMap<string, string>): RecordResult[] {
  return records.map((record) => {
    const candidates = runRecord(record);
    return { record, candidates, pass: judge(record, candidates), knownMiss: knownMisses.get(recordKey(record)) ?? null };
  });
}

export interface CorpusFigures {
  perTier: { tier: Tier; count: number; hits: number }[];
  perKind: { kind: CorpusKind; count: number; hits: number }[];
  benign: { count: number; quiet: number };
  /** Records that produced an event, and of those the ones with the expected rule and tier. */
  fired: number;
  firedRight: number;
}

export function figures(results: readonly RecordResult[]): CorpusFigures {
  const perTier = TIERS.map((tier) => {
    const rs = results.filter((x) => x.record.tier === tier);
    return { tier, count: rs.length, hits: rs.filter((x) => x.pass).length };
  });
  const perKind = KINDS.map((kind) => {
    const rs = results.filter((x) => x.record.kind === kind);
    return { kind, count: rs.length, hits: rs.filter((x) => x.pass).length };
  });
  const benign = results.filter((x) => x.record.tier === null);
  const fired = results.filter((x) => x.candidates.length > 0);
  return {
    perTier,
    perKind,
    benign: { count: benign.length, quiet: benign.filter((x) => x.pass).length },
    fired: fired.length,
    firedRight: fired.filter((x) => x.record.tier !== null && x.pass).length,
  };
}

function pct(hits: number, count: number): string {
  return count === 0 ? "n/a" : `${((100 * hits) / count).toFixed(1)} %`;
}

/** The figures as a Markdown table (the docs quote it). */
export function formatFigures(f: CorpusFigures): string {
  const rows = ["| set | records | recall / quiet |", "|---|---:|---:|"];
  for (const t of f.perTier) rows.push(`| ${t.tier} | ${t.count} | ${pct(t.hits, t.count)} |`);
  rows.push(`| benign (no event) | ${f.benign.count} | ${pct(f.benign.quiet, f.benign.count)} |`);
  for (const k of f.perKind) if (k.kind !== "benign") rows.push(`| kind: ${k.kind} | ${k.count} | ${pct(k.hits, k.count)} |`);
  rows.push(
    "",
    `precision: ${pct(f.firedRight, f.fired)} (${f.firedRight} of ${f.fired} records that raised an event raised the expected one)`,
  );
  return rows.join("\n");
}

export function describeResult(x: RecordResult): string {
  const got = x.candidates.length === 0 ? "nothing" : x.candidates.map((c) => `${c.tier}/${c.rule}`).join(", ");
  return `${x.record.at}: expected ${x.record.tier === null ? "nothing" : `${x.record.tier}/${x.record.rule}`}, got ${got}: ${recordLines(x.record)[0]}`;
}
