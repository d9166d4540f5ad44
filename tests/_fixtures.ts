import { join } from "node:path";
import type { Candidate, Entry } from "../src/event.ts";
import { Triage } from "../src/classify/triage.ts";
import type { UnitStart } from "../src/classify/unit-history.ts";
import type { RuleGroup } from "../src/classify/rule-spec.ts";
import { newStats, readLogStream, type FileReadStats } from "../src/sources/file.ts";
import { parseDmesgLine } from "../src/parse/dmesg.ts";

// Shared by the tests: read a captured fixture and run it through the real pipeline.

export const FIXTURES = join(import.meta.dir, "fixtures");

export const ALL_GROUPS: ReadonlySet<RuleGroup> = new Set([
  "core",
  "gpu",
  "raid",
  "file_sharing",
  "containers",
  "coredumps",
  "memory_pressure",
]);

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
  /** Units started again (not events): what the incident step is told after each commit. */
  starts: UnitStart[];
  stats: FileReadStats;
}

/** Run text through reading (with the raw prefilter), assembly and classification. */
export async function triageStream(
  stream: ReadableStream<Uint8Array>,
  groups: ReadonlySet<RuleGroup> = ALL_GROUPS,
  pageSizeKb = 4,
): Promise<TriageRun> {
  const triage = new Triage({ pageSizeKb, enabledGroups: groups });
  const stats = newStats();
  const candidates: Candidate[] = [];
  const starts: UnitStart[] = [];
  for await (const e of readLogStream(stream, { year: 2026, wantsRawLine: (l) => triage.wantsRawLine(l) }, stats)) {
    candidates.push(...triage.push(e, 0));
    starts.push(...triage.takeUnitStarts());
  }
  candidates.push(...triage.flush(0));
  starts.push(...triage.takeUnitStarts());
  return { candidates, starts, stats };
}

export function triageFixture(name: string, groups: ReadonlySet<RuleGroup> = ALL_GROUPS): Promise<TriageRun> {
  return triageStream(Bun.file(fixturePath(name)).stream(), groups);
}

export function triageText(text: string, groups: ReadonlySet<RuleGroup> = ALL_GROUPS): Promise<TriageRun> {
  return triageStream(streamOf(text), groups);
}

export interface FixtureSection {
  title: string;
  /** From a "# SYSLOG_IDENTIFIER=name" header: the lines were logged by that program. */
  identifier: string | null;
  lines: string[];
}

/**
 * The public fixtures are grouped under "# title (source …)" headers; "# constructed from …"
 * lines annotate the line below them and are not headers.
 */
export async function fixtureSections(name: string): Promise<FixtureSection[]> {
  const sections: FixtureSection[] = [];
  for (const line of (await Bun.file(fixturePath(name)).text()).split("\n")) {
    if (line.startsWith("# ")) {
      if (line.startsWith("# constructed")) continue;
      const id = /SYSLOG_IDENTIFIER=([\w.-]+)/.exec(line);
      sections.push({ title: line.slice(2), identifier: id ? (id[1] as string) : null, lines: [] });
    } else if (line.trim() !== "" && sections.length > 0) {
      sections[sections.length - 1]?.lines.push(line);
    }
  }
  return sections;
}

/** Triage one section: kernel lines as kmsg text; lines of a named program as that program's journal entries. */
export function triageSection(section: FixtureSection, groups: ReadonlySet<RuleGroup> = ALL_GROUPS): Candidate[] {
  const triage = new Triage({ pageSizeKb: 4, enabledGroups: groups });
  const out: Candidate[] = [];
  for (const line of section.lines) {
    const entry = parseDmesgLine(line, { year: 2026 });
    if (!entry) continue;
    if (section.identifier) {
      entry.identifier = section.identifier;
      entry.transport = "journal";
    }
    out.push(...triage.push(entry, 0));
  }
  out.push(...triage.flush(0));
  return out;
}

export async function sectionNamed(file: string, titleStart: string): Promise<FixtureSection> {
  const found = (await fixtureSections(file)).find((s) => s.title.startsWith(titleStart));
  if (!found) throw new Error(`${file}: no section starting "${titleStart}"`);
  return found;
}
