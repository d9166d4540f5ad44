import type { Candidate, Entry } from "../event.ts";
import { KernelReportAssembler, REPORT_OPENER_LITERALS } from "./assemble.ts";
import { rawStringField } from "../parse/journal-json.ts";
import { Classifier, type ClassifierOptions, literalScan } from "./classifier.ts";
import type { UnitStart } from "./unit-history.ts";

// assemble → classify, as one stage: entries in, candidates out. Shared by `replay` and the
// daemon so both see exactly the same events for the same input.

export interface TriageOptions extends ClassifierOptions {
  pageSizeKb: number;
}

export class Triage {
  readonly classifier: Classifier;
  readonly assembler: KernelReportAssembler;
  private readonly raw: {
    ids: ReadonlySet<string>;
    identifiers: ReadonlyMap<string, RegExp | null>;
    anyScan: RegExp | null;
    kernelScan: RegExp;
    errScan: RegExp | null;
    errMaxPriority: number;
  } | null;

  constructor(options: TriageOptions) {
    this.classifier = new Classifier(options);
    this.assembler = new KernelReportAssembler({ pageSizeKb: options.pageSizeKb });
    const raw = this.classifier.rawPrefilter;
    this.raw = raw && {
      ids: raw.messageIds,
      identifiers: new Map([...raw.identifiers].map(([i, lits]) => [i, lits === null ? null : literalScan(lits)] as const)),
      anyScan: raw.anyLiterals.length ? literalScan(raw.anyLiterals) : null,
      // Report openers are kernel lines too.
      kernelScan: literalScan([...raw.kernelLiterals, ...REPORT_OPENER_LITERALS]),
      errScan: raw.kernelErrLiterals.length ? literalScan(raw.kernelErrLiterals) : null,
      errMaxPriority: raw.kernelErrMaxPriority,
    };
  }

  /**
   * Cheap test on a raw `journalctl -o json` line, before JSON.parse: false only when the
   * line provably cannot produce or continue an event. Every rule contributes the literals
   * its match needs; while a kernel report is open every kernel line may belong to it.
   * `reportOpen`: a reader that runs ahead of the assembler (the daemon's journal source
   * filters a chunk before the pipeline has pushed the chunk's earlier lines) passes true,
   * keeping every kernel line.
   */
  wantsRawLine(line: string, reportOpen = this.assembler.isOpen): boolean {
    const raw = this.raw;
    if (raw === null) return true;
    const transport = rawStringField(line, "_TRANSPORT");
    const kernel = transport === "kernel" || transport === null;
    if (kernel && reportOpen) return true;
    const id = rawStringField(line, "MESSAGE_ID");
    if (id === null || raw.ids.has(id)) return true;
    // Only the MESSAGE value is scanned: a tenth of the line. A MESSAGE journalctl printed as
    // a byte array (not valid UTF-8) hides its text, so such lines are always parsed.
    const message = rawStringField(line, "MESSAGE");
    if (message === null) return true;
    if (raw.identifiers.size > 0) {
      const identifier = rawStringField(line, "SYSLOG_IDENTIFIER");
      // An escaped or multi-valued identifier cannot be compared raw: parse to be sure.
      if (identifier === null || identifier.includes("\\")) return true;
      const need = raw.identifiers.get(identifier);
      if (need === null || need?.test(message)) return true;
    }
    if (raw.anyScan?.test(message)) return true;
    if (!kernel) return false;
    if (raw.kernelScan.test(message)) return true;
    if (raw.errScan === null) return false;
    // The priority-bound rules (the backstop) want err-or-worse kernel lines only.
    const priority = rawStringField(line, "PRIORITY");
    return priority === null || priority === "" || (/^\d$/.test(priority) && Number(priority) <= raw.errMaxPriority)
      ? raw.errScan.test(message)
      : false;
  }

  push(entry: Entry, fallbackTimeUs: number): Candidate[] {
    return this.classifyAll(this.assembler.push(entry), fallbackTimeUs);
  }

  flush(fallbackTimeUs: number): Candidate[] {
    return this.classifyAll(this.assembler.flush(), fallbackTimeUs);
  }

  /** Units started again since the last call (not events: what may end a unit's incident). */
  takeUnitStarts(): UnitStart[] {
    return this.classifier.takeUnitStarts();
  }

  private classifyAll(groups: ReturnType<KernelReportAssembler["push"]>, fallbackTimeUs: number): Candidate[] {
    const out: Candidate[] = [];
    for (const group of groups) {
      const candidate = this.classifier.classify(group, fallbackTimeUs);
      if (candidate) out.push(candidate);
    }
    return out;
  }
}
