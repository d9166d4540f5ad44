import type { Candidate, Entry } from "../event.ts";
import { KernelReportAssembler, REPORT_OPENER_LITERALS } from "./assemble.ts";
import { rawMessageId, rawMessageSlice } from "../parse/journal-json.ts";
import { Classifier, type ClassifierOptions, escapeRegExp, type RawPrefilter } from "./classifier.ts";

// assemble → classify, as one stage: entries in, candidates out. Shared by `replay` and the
// daemon so both see exactly the same events for the same input.

const KERNEL_TRANSPORT = '"_TRANSPORT":"kernel"';

export interface TriageOptions extends ClassifierOptions {
  pageSizeKb: number;
}

export class Triage {
  readonly classifier: Classifier;
  readonly assembler: KernelReportAssembler;
  private readonly raw: (RawPrefilter & { messageScan: RegExp }) | null;

  constructor(options: TriageOptions) {
    this.classifier = new Classifier(options);
    this.assembler = new KernelReportAssembler({ pageSizeKb: options.pageSizeKb });
    const raw = this.classifier.rawPrefilter;
    this.raw = raw && { ...raw, messageScan: new RegExp([...raw.messageLiterals, ...REPORT_OPENER_LITERALS].map(escapeRegExp).join("|")) };
  }

  /**
   * Cheap test on a raw `journalctl -o json` line, before JSON.parse: false only when the
   * line provably cannot produce or continue an event. Every rule contributes the literals
   * its match needs; while a kernel report is open every kernel line may belong to it.
   */
  wantsRawLine(line: string): boolean {
    const raw = this.raw;
    if (raw === null) return true;
    if (this.assembler.isOpen && line.includes(KERNEL_TRANSPORT)) return true;
    const id = rawMessageId(line);
    if (id !== null && raw.messageIds.has(id)) return true;
    for (const literal of raw.fieldLiterals) if (line.includes(literal)) return true;
    // Scan only the MESSAGE value: a tenth of the line. A MESSAGE journalctl printed as a
    // byte array (not valid UTF-8) hides its text, so such lines are always parsed.
    const message = rawMessageSlice(line);
    return message === null || raw.messageScan.test(message);
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
