import type { CrashInfo, Entry, OomReport } from "../event.ts";
import { parseCodeLine, parseCrashLine } from "../parse/crash-line.ts";
import { OOM_KILLED, OOM_OPENER, parseOomReport } from "../parse/oom-report.ts";

// The kernel writes one report as many log records: an OOM report is 50–500 lines, a
// segfault is two, an Oops is a block ending in "---[ end trace … ]---". journald stores
// each as its own entry, possibly with unrelated entries in between. This state machine
// reads the stream as the kernel wrote it and hands classification whole reports, with no
// second query and no race.

export type Assembled =
  | { kind: "entry"; entry: Entry }
  | { kind: "oom-report"; entries: Entry[]; report: OomReport }
  | { kind: "crash"; entries: Entry[]; crash: CrashInfo }
  | { kind: "kernel-trace"; entries: Entry[]; headline: Entry };

export interface AssembleOptions {
  pageSizeKb: number;
  /** A report with no new line for this long (by the entries' own clocks) is closed as cut off. */
  staleAfterUs?: number;
  /** Bound on lines held for one report, so a runaway report cannot grow memory. */
  maxReportLines?: number;
}

// Lines that belong to a kernel stack dump / Oops / WARNING / lockup block. Seen on 4.x–6.x
// x86_64, plus arm64's "pc : / lr : / x29: " register lines.
const TRACE_CONTINUATION = new RegExp(
  [
    String.raw`^\s`,
    String.raw`^<\/?(?:TASK|IRQ|NMI|EOI)>`,
    String.raw`^\? `,
    String.raw`^#PF: `,
    String.raw`^(?:PGD|P4D|PUD|PMD|PTE) `,
    String.raw`^Oops`,
    String.raw`^CPU: \d+`,
    String.raw`^Hardware name: `,
    String.raw`^(?:RIP|RSP|RAX|RDX|RBP|RSI|RDI|R\d+|FS|CS|CR2|DR\d|PKRU|IP): `,
    String.raw`^RIP\s+\[`,
    String.raw`^Stack:`,
    String.raw`^task: [0-9a-f]+ `,
    String.raw`^Code: `,
    String.raw`^Call [Tt]race:`,
    String.raw`^Modules linked in:`,
    String.raw`^Workqueue: `,
    String.raw`^Tainted: `,
    String.raw`^task:\S+ +state:`,
    String.raw`^irq event stamp:`,
    String.raw`^(?:hard|soft)irqs (?:last|disabled)`,
    String.raw`^Kernel Offset:`,
    String.raw`^Kernel panic`,
    String.raw`^---\[ end `,
    String.raw`^"echo 0 > /proc/sys/kernel/hung_task_timeout_secs"`,
    String.raw`^(?:WARNING|BUG): `,
    String.raw`^note: `,
    String.raw`^NMI backtrace`,
    String.raw`^Sending NMI`,
    String.raw`^(?:pc|lr|sp) : `,
    String.raw`^x\d+ ?: `,
    String.raw`^Internal error: `,
    String.raw`^\[<[0-9a-f]+>\]`,
    String.raw`^\??\s*[\w.]+\+0x[0-9a-f]+\/0x[0-9a-f]+`,
  ].join("|"),
);

// Lines peculiar to the OOM report (on top of the stack dump shapes above).
const OOM_REPORT_LINE = new RegExp(
  [
    String.raw`^Mem-Info:`,
    String.raw`^[a-z_]+:\d+(?:kB)?(?:\s|$)`,
    String.raw`^Node \d+ `,
    String.raw`^lowmem_reserve\[\]`,
    String.raw`^\d+ (?:total pagecache pages|pages)`,
    String.raw`^(?:Free|Total) swap`,
    String.raw`^Swap cache stats`,
    String.raw`^Tasks state`,
    String.raw`^\[\s*(?:pid|\d+)\s*\]`,
    String.raw`^oom-kill:`,
    String.raw`^Memory cgroup `,
    String.raw`^(?:memory|memory\+swap|kmem|swap): usage`,
    String.raw`^Task in \S+ killed`,
    String.raw`^[^:]*[Oo]ut of memory`,
    String.raw`^Killed process`,
    String.raw`^Unreclaimable slab info:`,
    String.raw`^Name\s+Used\s+Total`,
    String.raw`^\S+\s+\d+KB\s+\d+KB$`,
    String.raw`^[\w.-]+ \d+$`,
    String.raw`^mems_allowed=`,
    String.raw`^cpuset=`,
    String.raw`^\S+ cpuset=\S* mems_allowed=`,
    String.raw`^(?:DMA|DMA32|Normal|HighMem|Movable) `,
  ].join("|"),
);

// Openers of a kernel block worth keeping whole: the classifier reads its headline, the
// event keeps the trace.
const TRACE_OPENER =
  /^(?:------------\[ cut here \]------------|BUG: |Oops|WARNING: CPU: |kernel BUG at |general protection fault|(?:divide error|invalid opcode|stack segment|double fault): [0-9a-f]{4} \[#\d+\]|WARNING: at |Kernel panic - not syncing|(?:(?:NMI )?watchdog: )?BUG: soft lockup|(?:NMI watchdog: )?Watchdog detected hard LOCKUP|INFO: task .+ blocked for more than|(?:rcu: )?INFO: rcu_\w+ (?:self-)?detected stall|Unable to handle kernel )/;
/**
 * Every opener above (OOM_OPENER, OOM_MIDWAY, crash lines, TRACE_OPENER) contains one of
 * these. While no report is open, a raw journal line holding none of them (and no rule
 * literal) cannot start one, so the raw prefilter may skip it. Keep in step with the patterns;
 * tests/classify/classifier-public.test.ts checks the outcome is the same without the prefilter.
 */
export const REPORT_OPENER_LITERALS = [
  "invoked oom-killer",
  "Mem-Info:",
  "Tasks state",
  "memory: usage",
  "segfault at",
  "traps: ",
  "cut here",
  "BUG: ",
  "Oops",
  "WARNING: ",
  "kernel BUG at",
  "general protection fault",
  "divide error",
  "invalid opcode",
  "stack segment",
  "double fault",
  "Kernel panic",
  "soft lockup",
  "hard LOCKUP",
  "blocked for more than",
  "detected stall",
  "Unable to handle kernel",
] as const;

const CUT_HERE = "------------[ cut here ]------------";
// Landmarks inside an OOM report, for when its opener was not seen.
const OOM_MIDWAY = /^(?:Mem-Info:|Tasks state \(memory values in pages\):|memory: usage \d+kB, limit \d+kB)/;
const END_TRACE = /^---\[ end /;

const DEFAULT_STALE_US = 30_000_000;
const DEFAULT_MAX_LINES = 4000;
const MAX_TRACE_LINES = 400;

type State =
  | { kind: "idle" }
  | { kind: "oom"; entries: Entry[]; lines: string[]; lastUs: number | null; tentative: boolean }
  | { kind: "crash"; entry: Entry; crash: CrashInfo }
  | { kind: "trace"; entries: Entry[]; lastUs: number | null };

function entryTimeUs(e: Entry): number | null {
  return e.monotonicUs ?? e.realtimeUs;
}

/** A kernel entry's message may hold several lines (printk with "\n"); report lines are per line. */
function messageLines(e: Entry): string[] {
  return e.message.includes("\n") ? e.message.split("\n") : [e.message];
}

export class KernelReportAssembler {
  private state: State = { kind: "idle" };
  private readonly pageSizeKb: number;
  private readonly staleAfterUs: number;
  private readonly maxReportLines: number;

  constructor(options: AssembleOptions) {
    this.pageSizeKb = options.pageSizeKb;
    this.staleAfterUs = options.staleAfterUs ?? DEFAULT_STALE_US;
    this.maxReportLines = options.maxReportLines ?? DEFAULT_MAX_LINES;
  }

  /** True while a report is open: every kernel line may belong to it. */
  get isOpen(): boolean {
    return this.state.kind !== "idle";
  }

  /**
   * The first entry of the open report: nothing from it on may be committed as read,
   * or a restart would lose the report's beginning.
   */
  heldSince(): Entry | null {
    switch (this.state.kind) {
      case "idle":
        return null;
      case "crash":
        return this.state.entry;
      case "oom":
      case "trace":
        return this.state.entries[0] ?? null;
    }
  }

  /** Feed one entry; returns what is complete (in order). */
  push(entry: Entry): Assembled[] {
    if (entry.transport !== "kernel") return [{ kind: "entry", entry }];
    const out: Assembled[] = [];
    this.closeIfStale(entry, out);
    this.step(entry, out);
    return out;
  }

  /** Close whatever is open (end of input, shutdown, or a quiet stream). */
  flush(): Assembled[] {
    const out: Assembled[] = [];
    this.closeOpen(out);
    return out;
  }

  private closeIfStale(entry: Entry, out: Assembled[]): void {
    if (this.state.kind !== "oom" && this.state.kind !== "trace") return;
    const now = entryTimeUs(entry);
    const last = this.state.lastUs;
    if (now !== null && last !== null && (now - last > this.staleAfterUs || now < last)) this.closeOpen(out);
  }

  private closeOpen(out: Assembled[]): void {
    const s = this.state;
    this.state = { kind: "idle" };
    switch (s.kind) {
      case "idle":
        return;
      case "oom": {
        const report = parseOomReport(s.lines, this.pageSizeKb);
        // A report we joined midway that never reached a kill was not an OOM kill (sysrq-m
        // and page allocation failures print Mem-Info too): hand its lines on one by one.
        if (s.tentative && !report.victim) for (const entry of s.entries) out.push({ kind: "entry", entry });
        else out.push({ kind: "oom-report", entries: s.entries, report });
        return;
      }
      case "crash":
        out.push({ kind: "crash", entries: [s.entry], crash: s.crash });
        return;
      case "trace":
        out.push(traceGroup(s.entries));
        return;
    }
  }

  private step(entry: Entry, out: Assembled[]): void {
    const message = entry.message;
    const s = this.state;
    switch (s.kind) {
      case "oom": {
        if (OOM_OPENER.test(message)) {
          // A new report before the last one's kill line: the last one was cut off.
          this.closeOpen(out);
          this.startOom(entry);
          return;
        }
        const lines = messageLines(entry);
        if (!lines.every((l) => OOM_REPORT_LINE.test(l) || TRACE_CONTINUATION.test(l))) {
          // Unrelated kernel line interleaved with the report: it stands on its own (and is
          // classified as a single line), the report stays open.
          out.push({ kind: "entry", entry });
          return;
        }
        s.entries.push(entry);
        s.lines.push(...lines);
        s.lastUs = entryTimeUs(entry) ?? s.lastUs;
        if (OOM_KILLED.test(message) || s.lines.length >= this.maxReportLines) this.closeOpen(out);
        return;
      }
      case "crash": {
        const code = parseCodeLine(message);
        this.state = { kind: "idle" };
        if (code !== null) {
          out.push({ kind: "crash", entries: [s.entry, entry], crash: { ...s.crash, code } });
          return;
        }
        out.push({ kind: "crash", entries: [s.entry], crash: s.crash });
        this.idleStep(entry, out);
        return;
      }
      case "trace": {
        const lines = messageLines(entry);
        if (!lines.every((l) => TRACE_CONTINUATION.test(l))) {
          this.closeOpen(out);
          this.idleStep(entry, out);
          return;
        }
        s.entries.push(entry);
        s.lastUs = entryTimeUs(entry) ?? s.lastUs;
        if (END_TRACE.test(message) || s.entries.length >= MAX_TRACE_LINES) this.closeOpen(out);
        return;
      }
      case "idle":
        this.idleStep(entry, out);
        return;
    }
  }

  private startOom(entry: Entry, tentative = false): void {
    this.state = { kind: "oom", entries: [entry], lines: messageLines(entry), lastUs: entryTimeUs(entry), tentative };
  }

  private idleStep(entry: Entry, out: Assembled[]): void {
    const message = entry.message;
    if (OOM_OPENER.test(message)) {
      if (this.state.kind !== "idle") this.closeOpen(out);
      this.startOom(entry);
      return;
    }
    if (OOM_MIDWAY.test(message)) {
      // Reading began inside a report (daemon start, a pasted excerpt): keep the rest of it.
      if (this.state.kind !== "idle") this.closeOpen(out);
      this.startOom(entry, true);
      return;
    }
    const crash = parseCrashLine(message);
    if (crash) {
      if (this.state.kind !== "idle") this.closeOpen(out);
      this.state = { kind: "crash", entry, crash };
      return;
    }
    if (TRACE_OPENER.test(message)) {
      if (this.state.kind !== "idle") this.closeOpen(out);
      this.state = { kind: "trace", entries: [entry], lastUs: entryTimeUs(entry) };
      return;
    }
    out.push({ kind: "entry", entry });
  }
}

function traceGroup(entries: Entry[]): Assembled {
  const headline = entries.find((e) => e.message !== CUT_HERE) ?? (entries[0] as Entry);
  return { kind: "kernel-trace", entries, headline };
}
