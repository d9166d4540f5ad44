import type { Candidate, Entry, Severity, Tier } from "../event.ts";
import type { Assembled } from "./assemble.ts";
import { BUILTIN_RULES } from "./rules.ts";
import type { Match, RuleGroup, RuleSpec, UnitHistory } from "./rule-spec.ts";
import { UnitHistoryMemory, type UnitStart } from "./unit-history.ts";
import { MESSAGE_ID } from "./systemd-ids.ts";

/** A rule as the classifier runs it (docs/ARCHITECTURE.md, "Where to add a rule"). */
export interface Rule {
  readonly name: string;
  readonly tier: Tier | null;
  readonly severity: Severity;
  match(entry: Entry, group: Assembled, history: UnitHistory): Match | null;
}

/** A user rule from `[[rules.custom]]` in config. */
export interface CustomRule {
  name: string;
  tier: Tier;
  severity: Severity;
  pattern: string;
  identifier?: string | undefined;
  transport?: string | undefined;
  unit?: string | undefined;
  summary?: string | undefined;
}

export interface ClassifierOptions {
  enabledGroups: ReadonlySet<RuleGroup>;
  disabled?: readonly string[];
  custom?: readonly CustomRule[];
}

interface CompiledRule extends Rule {
  readonly messageId: string | null;
  readonly literals: readonly string[] | null;
  /** Runs only on entries at this priority or more severe, after every other rule. */
  readonly maxPriority: number | null;
  /** What a raw `journalctl -o json` line must show for this rule to match it; null: no cheap test. */
  readonly raw: RawNeed | null;
}

/** One rule's cheap raw-line test: one of these must hold (empty lists hold nothing). */
interface RawNeed {
  messageId?: string;
  /** SYSLOG_IDENTIFIER is one of these — and, when `identifierLiterals` is given, MESSAGE holds one of those. */
  identifiers?: readonly string[];
  identifierLiterals?: readonly string[];
  /** Inside MESSAGE, on any entry. */
  anyLiterals?: readonly string[];
  /** Inside MESSAGE, on kernel-transport entries only. */
  kernelLiterals?: readonly string[];
  /** Inside MESSAGE, on kernel-transport entries at `maxPriority` or more severe only. */
  kernelErrLiterals?: readonly string[];
  maxPriority?: number;
}

/**
 * What a raw journal JSON line must show for any rule to match it: one of `messageIds` as
 * its MESSAGE_ID, a SYSLOG_IDENTIFIER in `identifiers` whose literals (null: any message) its
 * MESSAGE holds, one of `anyLiterals` inside
 * its MESSAGE, or — kernel-transport lines only — one of `kernelLiterals` inside its MESSAGE.
 * Most lines are not kernel lines and most rules are kernel rules, so most lines are tested
 * against few literals.
 */
export interface RawPrefilter {
  messageIds: ReadonlySet<string>;
  identifiers: ReadonlyMap<string, readonly string[] | null>;
  anyLiterals: readonly string[];
  kernelLiterals: readonly string[];
  /** Inside MESSAGE, on kernel-transport lines whose PRIORITY is at most `kernelErrMaxPriority`. */
  kernelErrLiterals: readonly string[];
  kernelErrMaxPriority: number;
}

const REGEX_META = /[\\^$.*+?()[\]{}|]/;
const UNIT_EXIT_MEMORY = 1024;
/** Unit starts kept for the incident step between two commits (a burst of starts at boot). */
const UNIT_START_MEMORY = 1024;

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

/** One regex that finds any of `literals` (the prefilters' single scan). */
export function literalScan(literals: readonly string[]): RegExp {
  return new RegExp(literals.map(escapeRegExp).join("|"));
}

function compileBuiltin(spec: RuleSpec): CompiledRule {
  const identifiers = spec.identifiers ? new Set(spec.identifiers) : null;
  return {
    name: spec.name,
    tier: spec.tier,
    severity: spec.severity,
    messageId: spec.messageId ?? null,
    literals: spec.literals ?? null,
    maxPriority: spec.maxPriority ?? null,
    raw:
      spec.maxPriority !== undefined && spec.kernel && spec.literals
        ? { kernelErrLiterals: spec.literals, maxPriority: spec.maxPriority }
        : spec.messageId
          ? { messageId: spec.messageId }
          : spec.identifiers
            ? { identifiers: spec.identifiers, ...(spec.literals ? { identifierLiterals: spec.literals } : {}) }
            : spec.literals
              ? spec.kernel
                ? { kernelLiterals: spec.literals }
                : { anyLiterals: spec.literals }
              : null,
    match(entry, group, history) {
      if (spec.assembled) {
        if (group.kind !== spec.assembled) return null;
        return spec.describe({ entry, group, m: null, history });
      }
      if (group.kind === "oom-report" || group.kind === "crash") return null;
      if (spec.messageId && entry.messageId !== spec.messageId) return null;
      if (spec.kernel && entry.transport !== "kernel") return null;
      if (spec.maxPriority !== undefined && (entry.priority === null || entry.priority > spec.maxPriority)) return null;
      if (identifiers && !identifiers.has(entry.identifier ?? "")) return null;
      let m: RegExpExecArray | null = null;
      if (spec.pattern) {
        m = spec.pattern.exec(entry.message);
        if (!m) return null;
      }
      if (spec.unless?.test(entry.message)) return null;
      return spec.describe({ entry, group, m, history });
    },
  };
}

function fillTemplate(template: string, entry: Entry, m: RegExpExecArray): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const named = m.groups?.[key];
    if (named !== undefined) return named;
    switch (key) {
      case "message":
        return entry.message;
      case "identifier":
        return entry.identifier ?? "";
      case "unit":
        return entry.unit ?? "";
      case "pid":
        return entry.pid === null ? "" : String(entry.pid);
      default:
        return whole;
    }
  });
}

function compileCustom(rule: CustomRule): CompiledRule {
  const pattern = new RegExp(rule.pattern);
  // A fixed identifier can prefilter raw lines; so can a pattern that is a plain string.
  const plain = !REGEX_META.test(rule.pattern) && !/["\\]|[^\x20-\x7e]/.test(rule.pattern);
  const raw: RawNeed | null = rule.identifier
    ? { identifiers: [rule.identifier] }
    : !plain
      ? null
      : rule.transport === "kernel"
        ? { kernelLiterals: [rule.pattern] }
        : { anyLiterals: [rule.pattern] };
  return {
    name: rule.name,
    tier: rule.tier,
    severity: rule.severity,
    messageId: null,
    literals: null,
    maxPriority: null,
    raw,
    match(entry) {
      if (rule.identifier !== undefined && entry.identifier !== rule.identifier) return null;
      if (rule.transport !== undefined && entry.transport !== rule.transport) return null;
      if (rule.unit !== undefined && entry.unit !== rule.unit) return null;
      const m = pattern.exec(entry.message);
      if (!m) return null;
      return {
        summary: rule.summary ? fillTemplate(rule.summary, entry, m) : `${rule.name}: ${entry.message}`,
        process: m.groups?.["process"] ?? entry.comm ?? entry.identifier,
        pid: entry.pid,
        unit: entry.unit,
        facts: { kind: "plain" },
      };
    },
  };
}

export interface ClassifierInfo {
  /** Names in `rules.disable` that no rule has: likely typos, worth a warning. */
  unknownDisabled: string[];
}

/**
 * The classifier: user rules first (they know their machine), then the built-in table.
 * MESSAGE_ID rules are looked up directly; pattern rules run only when the message holds
 * one of their literals. Keeps one small piece of state: the last exit status per unit, so
 * "Failed with result 'exit-code'" can say which status it exited with.
 */
export class Classifier {
  private readonly byMessageId = new Map<string, CompiledRule[]>();
  private readonly literalRules: CompiledRule[] = [];
  /** Rules with a priority bound: tried last, on entries at that priority, when their literals show. */
  private readonly errRules: CompiledRule[] = [];
  private readonly errScan: RegExp | null;
  private readonly errMaxPriority: number;
  private readonly alwaysRules: CompiledRule[] = [];
  private readonly assembledRules: CompiledRule[] = [];
  private readonly literalScan: RegExp | null;
  private readonly lastExit = new Map<string, { code: string | null; status: string | null }>();
  private readonly history = new UnitHistoryMemory();
  /** Units started again, for the incident step (takeUnitStarts); bounded when nobody takes them (replay). */
  private unitStarts: UnitStart[] = [];
  readonly info: ClassifierInfo;
  /** The cheap raw-line test every rule passes; null when some rule needs every line. */
  readonly rawPrefilter: RawPrefilter | null;

  constructor(options: ClassifierOptions) {
    const disabled = new Set(options.disabled ?? []);
    const custom = (options.custom ?? []).map(compileCustom);
    const builtin = BUILTIN_RULES.filter((r) => options.enabledGroups.has(r.group) || r.group === "core");
    const allNames = new Set([...BUILTIN_RULES.map((r) => r.name), ...custom.map((r) => r.name)]);
    const rules = [...custom.filter((r) => !disabled.has(r.name))];
    for (const spec of builtin) {
      if (disabled.has(spec.name)) continue;
      const compiled = compileBuiltin(spec);
      rules.push(compiled);
      if (spec.assembled) this.assembledRules.push(compiled);
    }
    const literals = new Set<string>();
    // Process exits are remembered for the unit failure that follows, so they are wanted too;
    // a unit's starts (and Restart='s scheduled restarts, to tell them apart) end its incident.
    const messageIds = new Set<string>([
      MESSAGE_ID.unitProcessExit,
      MESSAGE_ID.unitStarted,
      MESSAGE_ID.unitRestartScheduled,
      MESSAGE_ID.unitStartFailed,
    ]);
    // identifier → the literals its rules need in MESSAGE; null once a rule needs none
    const identifiers = new Map<string, Set<string> | null>();
    const anyLiterals = new Set<string>();
    const kernelLiterals = new Set<string>();
    const errLiterals = new Set<string>();
    let errMaxPriority = -1;
    let everyLineMatters = false;
    for (const rule of rules) {
      if (this.assembledRules.includes(rule)) continue;
      if (rule.messageId) {
        const list = this.byMessageId.get(rule.messageId) ?? [];
        list.push(rule);
        this.byMessageId.set(rule.messageId, list);
      } else if (rule.maxPriority !== null && rule.literals) {
        this.errRules.push(rule);
        for (const l of rule.literals) errLiterals.add(l);
        errMaxPriority = Math.max(errMaxPriority, rule.maxPriority);
      } else if (rule.literals) {
        this.literalRules.push(rule);
        for (const l of rule.literals) literals.add(l);
      } else {
        this.alwaysRules.push(rule);
      }
      const need = rule.raw;
      if (need === null) everyLineMatters = true;
      else {
        if (need.messageId) messageIds.add(need.messageId);
        for (const i of need.identifiers ?? []) {
          const known = identifiers.get(i);
          if (!need.identifierLiterals || known === null) identifiers.set(i, null);
          else identifiers.set(i, new Set([...(known ?? []), ...need.identifierLiterals]));
        }
        for (const l of need.anyLiterals ?? []) anyLiterals.add(l);
        for (const l of need.kernelLiterals ?? []) kernelLiterals.add(l);
        for (const l of need.kernelErrLiterals ?? []) errLiterals.add(l);
      }
    }
    this.errScan = errLiterals.size ? literalScan([...errLiterals]) : null;
    this.errMaxPriority = errMaxPriority;
    this.literalScan = literals.size ? literalScan([...literals]) : null;
    const identifierNeeds = new Map([...identifiers].map(([i, lits]) => [i, lits === null ? null : [...lits]] as const));
    this.rawPrefilter = everyLineMatters
      ? null
      : {
          messageIds,
          identifiers: identifierNeeds,
          anyLiterals: [...anyLiterals],
          kernelLiterals: [...kernelLiterals],
          kernelErrLiterals: [...errLiterals],
          kernelErrMaxPriority: errMaxPriority,
        };
    this.info = {
      unknownDisabled: [...disabled].filter((n) => !allNames.has(n)),
    };
  }

  /** Classify one assembled unit; null when nothing in it is worth an event. */
  classify(group: Assembled, fallbackTimeUs: number): Candidate | null {
    const entry = headline(group);
    if (entry.messageId === MESSAGE_ID.unitProcessExit) this.rememberExit(entry);
    const started = this.history.observe(entry, fallbackTimeUs);
    const found = this.firstMatch(entry, group);
    // A start is told to the incident step, never stored as an event of its own (unless a rule
    // makes it one: a restart loop driven from outside).
    if (started && (!found || found.rule.tier === null)) this.noteStart(started);
    if (!found) return null;
    const { rule, match } = found;
    const tier = rule.tier;
    if (tier === null) return null;
    const entries = group.kind === "entry" ? [group.entry] : group.entries;
    let facts = match.facts ?? { kind: "plain" as const };
    if (facts.kind === "unit" && facts.exitStatus === null) {
      const exit = this.lastExit.get(facts.unit);
      if (exit) facts = { ...facts, exitCode: exit.code, exitStatus: exit.status };
    }
    return {
      tier,
      severity: match.severity ?? rule.severity,
      rule: rule.name,
      summary: match.summary,
      process: match.process ?? null,
      pid: match.pid ?? null,
      unit: match.unit ?? null,
      timestampUs: entries.find((e) => e.realtimeUs !== null)?.realtimeUs ?? fallbackTimeUs,
      facts,
      entries,
    };
  }

  private firstMatch(entry: Entry, group: Assembled): { rule: CompiledRule; match: Match } | null {
    const candidates: CompiledRule[] = [];
    // User rules come first everywhere, whole reports included (they see the headline).
    candidates.push(...this.alwaysRules);
    if (group.kind === "oom-report" || group.kind === "crash") candidates.push(...this.assembledRules);
    else {
      if (entry.messageId) candidates.push(...(this.byMessageId.get(entry.messageId) ?? []));
      if (this.literalScan?.test(entry.message)) candidates.push(...this.literalRules);
      if (entry.priority !== null && entry.priority <= this.errMaxPriority && this.errScan?.test(entry.message))
        candidates.push(...this.errRules);
    }
    for (const rule of candidates) {
      const match = rule.match(entry, group, this.history);
      if (match) return { rule, match };
    }
    return null;
  }

  /** The unit starts classified since the last call, oldest first. */
  takeUnitStarts(): UnitStart[] {
    const starts = this.unitStarts;
    this.unitStarts = [];
    return starts;
  }

  private noteStart(start: UnitStart): void {
    this.unitStarts.push(start);
    if (this.unitStarts.length > UNIT_START_MEMORY) this.unitStarts.shift();
  }

  private rememberExit(entry: Entry): void {
    const unit = entry.unit;
    if (!unit) return;
    this.lastExit.delete(unit);
    this.lastExit.set(unit, { code: entry.fields["EXIT_CODE"] ?? null, status: entry.fields["EXIT_STATUS"] ?? null });
    if (this.lastExit.size > UNIT_EXIT_MEMORY) {
      const oldest = this.lastExit.keys().next().value;
      if (oldest !== undefined) this.lastExit.delete(oldest);
    }
  }
}

function headline(group: Assembled): Entry {
  switch (group.kind) {
    case "entry":
      return group.entry;
    case "kernel-trace":
      return group.headline;
    case "oom-report":
    case "crash":
      return group.entries[0] as Entry;
  }
}
