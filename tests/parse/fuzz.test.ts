import { expect, test } from "bun:test";
import type { Entry } from "../../src/event.ts";
import { Triage } from "../../src/classify/triage.ts";
import { parseDmesgLine } from "../../src/parse/dmesg.ts";
import { parseJournalLine } from "../../src/parse/journal-json.ts";
import { parseKmsgRecord } from "../../src/parse/kmsg.ts";
import { parseOomReport } from "../../src/parse/oom-report.ts";
import { ALL_GROUPS, fixturePath } from "../_fixtures.ts";

// Mutation fuzzing over real captured lines: the parsers and the whole assemble → classify
// stage must never throw, whatever the bytes (the daemon never dies on input). A fixed-seed
// generator makes a failure reproducible.

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

const PIECES = [
  "\\",
  '"',
  "{",
  "}",
  "[",
  "]",
  ":",
  ",",
  "\n",
  "\u0000",
  "\uFFFD",
  "é",
  "0x",
  "-1",
  "99999999999999999999",
  "kB",
  "(",
  ")",
  "=",
  " ",
  "Killed process",
  "invoked oom-killer:",
  "segfault at",
  "Tasks state",
  "[  pid  ]",
];

function mutate(line: string, r: () => number): string {
  let s = line;
  const edits = 1 + Math.floor(r() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(r() * (s.length + 1));
    const op = r();
    if (op < 0.3) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 20));
    else if (op < 0.7) s = s.slice(0, at) + (PIECES[Math.floor(r() * PIECES.length)] as string) + s.slice(at);
    else if (op < 0.85) s = s.slice(0, at);
    else s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 0x3000)) + s.slice(at);
  }
  return s;
}

async function realLines(): Promise<{ json: string[]; text: string[]; kmsg: string[] }> {
  const read = async (f: string) => (await Bun.file(fixturePath(f)).text()).split("\n").filter(Boolean);
  return {
    json: [
      ...(await read("real/oom-memcg-v1-kernel6.jsonl")),
      ...(await read("real/coredump-python.jsonl")),
      ...(await read("real/unit-fail-restart-limit.jsonl")),
    ],
    text: [
      ...(await read("real/oom-memcg-v1-kernel6.dmesg.txt")),
      ...(await read("public/hardware-errors.txt")),
      ...(await read("public/oom-global-kernel4.9.dmesg.txt")),
    ],
    kmsg: await read("real/oom-memcg-v1-kernel6.kmsg.txt"),
  };
}

test("20,000 mutated real lines: parsers and triage never throw", async () => {
  const r = rng(0x10c7_a9e);
  const { json, text, kmsg } = await realLines();
  const triage = new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS });
  let entries = 0;
  for (let i = 0; i < 20_000; i++) {
    const pick = r();
    let entry: Entry | null;
    if (pick < 0.4) {
      const line = mutate(json[Math.floor(r() * json.length)] as string, r);
      triage.wantsRawLine(line);
      entry = parseJournalLine(line);
    } else if (pick < 0.8) entry = parseDmesgLine(mutate(text[Math.floor(r() * text.length)] as string, r), { year: 2026 });
    else entry = parseKmsgRecord(mutate(kmsg[Math.floor(r() * kmsg.length)] as string, r), "boot");
    if (entry) {
      entries++;
      triage.push(entry, 0);
    }
  }
  triage.flush(0);
  // most mutations still parse as something: the loop exercised triage, not just rejections
  expect(entries).toBeGreaterThan(10_000);
});

test("the OOM report parser survives any subset and order of a real report's lines", async () => {
  const r = rng(42);
  const lines = (await Bun.file(fixturePath("real/oom-memcg-v1-kernel6.dmesg.txt")).text())
    .split("\n")
    .filter(Boolean)
    .map((l) => l.replace(/^\[[^\]]*\] /, ""));
  for (let i = 0; i < 2000; i++) {
    const subset = lines
      .filter(() => r() < 0.5)
      .sort(() => r() - 0.5)
      .map((l) => (r() < 0.2 ? mutate(l, r) : l));
    const report = parseOomReport(subset, 4);
    expect(report.topTasks.length).toBeLessThanOrEqual(5);
  }
});
