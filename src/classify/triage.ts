import type { Candidate, Entry } from "../event.ts";
import { KernelReportAssembler } from "./assemble.ts";
import { Classifier, type ClassifierOptions, escapeRegExp } from "./classifier.ts";

// assemble → classify, as one stage: entries in, candidates out. Shared by `replay` and the
// daemon so both see exactly the same events for the same input.

// Literals that open an assembled kernel report. A raw journal line holding none of these
// (and no rule literal) cannot start a report or an event while no report is open.
const REPORT_OPENER_LITERALS = [
  "invoked oom-killer",
  "segfault at",
  "traps: ",
  "cut here",
  "BUG: ",
  "Oops",
  "WARNING: CPU",
  "kernel BUG",
  "general protection fault",
  "Kernel panic",
  "soft lockup",
  "hard LOCKUP",
  "blocked for more than",
  "detected stall",
  "Unable to handle kernel",
  // journalctl prints a MESSAGE that is not valid UTF-8 as an array of bytes: no literal
  // can be seen in it, so such lines are always parsed.
  '"MESSAGE":[',
];
const KERNEL_TRANSPORT = '"_TRANSPORT":"kernel"';

export interface TriageOptions extends ClassifierOptions {
  pageSizeKb: number;
}

export class Triage {
  readonly classifier: Classifier;
  readonly assembler: KernelReportAssembler;
  private readonly rawScan: RegExp | null;

  constructor(options: TriageOptions) {
    this.classifier = new Classifier(options);
    this.assembler = new KernelReportAssembler({ pageSizeKb: options.pageSizeKb });
    const raw = this.classifier.rawLiterals;
    this.rawScan = raw === null ? null : new RegExp([...raw, ...REPORT_OPENER_LITERALS].map(escapeRegExp).join("|"));
  }

  /**
   * Cheap test on a raw `journalctl -o json` line, before JSON.parse: false only when the
   * line provably cannot produce or continue an event. Every rule contributes the literals
   * its match needs; while a kernel report is open every kernel line may belong to it.
   */
  wantsRawLine(line: string): boolean {
    if (this.rawScan === null) return true;
    if (this.assembler.isOpen && line.includes(KERNEL_TRANSPORT)) return true;
    return this.rawScan.test(line);
  }

  push(entry: Entry, fallbackTimeUs: number): Candidate[] {
    return this.classifyAll(this.assembler.push(entry), fallbackTimeUs);
  }

  flush(fallbackTimeUs: number): Candidate[] {
    return this.classifyAll(this.assembler.flush(), fallbackTimeUs);
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
