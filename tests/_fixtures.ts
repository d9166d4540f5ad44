import { join } from "node:path";
import type { Candidate, Entry } from "../src/event.ts";
import { Triage } from "../src/classify/triage.ts";
import type { RuleGroup } from "../src/classify/rules.ts";
import { newStats, readLogStream, type FileReadStats } from "../src/sources/file.ts";

// Shared by the tests: read a captured fixture and run it through the real pipeline.

export const FIXTURES = join(import.meta.dir, "fixtures");

export const ALL_GROUPS: ReadonlySet<RuleGroup> = new Set(["core", "gpu", "raid", "file_sharing", "containers", "coredumps", "memory_pressure"]);

export function fixturePath(name: string): string {
  return join(FIXTURES, name);
}

export function streamOf(text: string): ReadableStream<Uint8Array> {
  return new Blob([text]).stream();
}

export async function readEntries(stream: ReadableStream<Uint8Array>, stats: FileReadStats = newStats()): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const e of readLogStream(stream, { year: 2026 }, stats)) out.push(e);
  return out;
}

export async function fixtureEntries(name: string): Promise<Entry[]> {
  return readEntries(Bun.file(fixturePath(name)).stream());
}

export interface TriageRun {
  candidates: Candidate[];
  stats: FileReadStats;
}

/** Run text through reading (with the raw prefilter), assembly and classification. */
export async function triageStream(stream: ReadableStream<Uint8Array>, groups: ReadonlySet<RuleGroup> = ALL_GROUPS, pageSizeKb = 4): Promise<TriageRun> {
  const triage = new Triage({ pageSizeKb, enabledGroups: groups });
  const stats = newStats();
  const candidates: Candidate[] = [];
  for await (const e of readLogStream(stream, { year: 2026, wantsRawLine: (l) => triage.wantsRawLine(l) }, stats)) {
    candidates.push(...triage.push(e, 0));
  }
  candidates.push(...triage.flush(0));
  return { candidates, stats };
}

export function triageFixture(name: string, groups: ReadonlySet<RuleGroup> = ALL_GROUPS): Promise<TriageRun> {
  return triageStream(Bun.file(fixturePath(name)).stream(), groups);
}

export function triageText(text: string, groups: ReadonlySet<RuleGroup> = ALL_GROUPS): Promise<TriageRun> {
  return triageStream(streamOf(text), groups);
}
