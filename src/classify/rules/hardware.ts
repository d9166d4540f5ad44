import type { RuleSpec } from "../rule-spec.ts";
import { kernelFacts } from "./_helpers.ts";

// T4: hardware error records as rasdaemon (github.com/mchehab/rasdaemon) logs them. It listens to
// the kernel's RAS trace events and, run as its unit does (`rasdaemon -f`), prints one line per
// event on stdout, which journald stores under SYSLOG_IDENTIFIER=rasdaemon at PRIORITY 6 whatever
// the event. The line is libtraceevent's header, then the handler's text (ras-events.c
// parse_ras_data):
//   ≤ 0.7.x  "           <...>-42552 [001]     0.007845: mce_record:           2022-02-11 22:34:40 +0100 …"
//            (0.4–0.6.x put "cpu 01:" in front)
//   0.8.0+   "           <...>-761   [002] d.h1.     0.000105 mc_event 2023-11-21 15:48:29 +0800 …"
//   0.8.4+   the handler adds a level first: "mc_event [CRIT] 2025-03-28 13:28:48 +0800 …"
// journald keeps the leading blanks on newer systemd and strips them on older, so no rule anchors
// there. The kernel logs most of these events itself too (EDAC, AER, mce, Memory failure lines);
// rasdaemon's lines still count where the kernel's are rate-limited or switched off
// (edac_mc_log_ce=0).

const TS = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}`;
const HEAD = String.raw`:?\s+(?:\[(?<level>[A-Z]+)\]\s+)?(?<ts>${TS}) `;

// ras-mc-handler.c: "<ts> <count> <Corrected|Uncorrected|Deferred|Fatal|Info> error[s]:[ <msg>][ on <label>] (mc: N …)";
// ras-extlog-handler.c: "<ts> [level ]<seq> <recoverable|fatal|corrected|informational> error: <type> physical addr: 0x…".
const MEMORY = new RegExp(
  String.raw`\bmc_event${HEAD}(?<count>\d+) (?<type>Corrected|Uncorrected|Deferred|Fatal|Info) errors?:(?<what>.*)$` +
    String.raw`|\bextlog_mem_event:?\s+(?<xts>${TS}) (?:\[[A-Z]+\] )?(?<seq>\d+) (?<sev>recoverable|fatal|corrected|informational) error: (?<xwhat>.*)$`,
);

// ras-aer-handler.c: "<ts> <bdf> [(<name> - vendor_id: 0x… device_id: 0x…) ]<status bits>[ TLP Header: …] <severity>";
// 0.4–0.5.x wrote the severity as Corrected/Uncorrected/Fatal, 0.6+ as Corrected/Uncorrected (Non-Fatal)/Uncorrected (Fatal).
const AER = new RegExp(
  String.raw`\baer_event${HEAD}(?:(?<dev>[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) )?(?:\((?<name>.*?) - vendor_id: \S+ device_id: \S+\) )?(?<msg>.*?) ?(?<type>Uncorrected \((?:Non-)?Fatal\)|Uncorrected|Corrected|Fatal|Unknown severity|Info)$`,
);

// ras-memory-failure-handler.c: "<ts> pfn=0x… page_type=<type> action_result=<Ignored|Failed|Delayed|Recovered>".
const MEMORY_FAILURE = new RegExp(
  String.raw`\bmemory_failure_event${HEAD}pfn=(?<pfn>0x[0-9a-f]+) page_type=(?<page>.+?) action_result=(?<result>\w+)`,
);

// ras-mce-handler.c report_mce_event(): "<ts> <bank name or bank=N>, status= …[, <error_msg>][, mci=…][, mca=…] …".
const MCE = new RegExp(String.raw`\bmce_record${HEAD}(?<what>.*)$`);
// The decoders' words for an uncorrected record: mce-amd.c error_msg, mce-intel.c mcistatus_msg, the AMD "UECC" ECC bit.
const MCE_UNCORRECTED = /\bUncorrected\b|System Fatal error|\bUncorrected_error\b|Processor_context_corrupt|mci=(?:\S+ )*UECC\b/;

/** "Unified Memory Controller (bank=17): Corrected error, no action required." from a record's text. */
function mceWhat(what: string): string {
  const m = /^(?<bank>.*?), status= [0-9a-f]+(?:, (?<msg>.*?))?(?:, (?:mci|mca)=|, cpu_type=|$)/.exec(what);
  if (!m?.groups) return what;
  return m.groups["msg"] ? `${m.groups["bank"] as string}: ${m.groups["msg"]}` : (m.groups["bank"] as string);
}

/**
 * What both memory-error rules read from a MEMORY match: the severity word (mc_event's type or
 * extlog's sev) and the summary's tail "(rasdaemon, 3×): <what>". Null for mc_event's "0 … errors",
 * a record that reports nothing.
 */
function readMemoryEvent(m: RegExpExecArray | null): { type: string; detail: string } | null {
  const g = m?.groups ?? {};
  if (g["count"] === "0") return null;
  const what = ((g["what"] ?? g["xwhat"] ?? "").trim().replace(/^on /, "") || "no detail").replace(/\s+/g, " ");
  return { type: g["type"] ?? g["sev"] ?? "", detail: `(rasdaemon${g["count"] ? `, ${g["count"]}×` : ""}): ${what}` };
}

/** What both AER rules read from an AER match: the device (bus:dev.fn) and the summary's tail " on <dev> (<name>): <status bits>". */
function readAerEvent(m: RegExpExecArray | null): { type: string; dev: string | null; detail: string } {
  const g = m?.groups ?? {};
  const dev = g["dev"] ?? null;
  return {
    type: g["type"] as string,
    dev,
    detail: `${dev ? ` on ${dev}` : ""}${g["name"] ? ` (${g["name"]})` : ""}: ${(g["msg"] ?? "").trim() || "no status bits"}`,
  };
}

export const HARDWARE_RULES: readonly RuleSpec[] = [
  {
    name: "rasdaemon-memory-uncorrected",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "rasdaemon: uncorrected, fatal or deferred memory error (`mc_event … Uncorrected error:`, `extlog_mem_event … fatal error:`)",
    identifiers: ["rasdaemon"],
    literals: ["mc_event", "extlog_mem_event"],
    pattern: MEMORY,
    describe: ({ group, m }) => {
      const ev = readMemoryEvent(m);
      if (!ev || !/^(?:Uncorrected|Fatal|Deferred|fatal|recoverable)$/.test(ev.type)) return null;
      const deferred = ev.type === "Deferred";
      return {
        summary: `${deferred ? "Deferred" : "Uncorrected"} memory error ${ev.detail}`,
        severity: deferred ? "high" : "critical",
        facts: kernelFacts(group),
      };
    },
  },
  {
    name: "rasdaemon-memory-corrected",
    tier: "T4",
    severity: "warning",
    group: "core",
    doc: "rasdaemon: corrected memory error (`mc_event … Corrected error:`, `extlog_mem_event … corrected error:`) — a DIMM may be failing",
    identifiers: ["rasdaemon"],
    literals: ["mc_event", "extlog_mem_event"],
    pattern: MEMORY,
    describe: ({ group, m }) => {
      const ev = readMemoryEvent(m);
      if (!ev || !/^[Cc]orrected$/.test(ev.type)) return null;
      return {
        summary: `Corrected memory error ${ev.detail}`,
        facts: kernelFacts(group),
      };
    },
  },
  {
    name: "rasdaemon-aer-uncorrected",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "rasdaemon: PCIe AER uncorrected error (`aer_event … Uncorrected (Non-Fatal)` / `(Fatal)`)",
    identifiers: ["rasdaemon"],
    literals: ["aer_event"],
    pattern: AER,
    describe: ({ group, m }) => {
      const ev = readAerEvent(m);
      if (!/^(?:Uncorrected|Fatal)/.test(ev.type)) return null;
      return {
        summary: `PCIe AER ${ev.type.toLowerCase()} error${ev.detail}`,
        severity: /Fatal\)?$/.test(ev.type) && !/Non-Fatal/.test(ev.type) ? "critical" : "high",
        facts: kernelFacts(group, ev.dev),
      };
    },
  },
  {
    name: "rasdaemon-aer-corrected",
    tier: "T4",
    severity: "warning",
    group: "core",
    doc: "rasdaemon: PCIe AER corrected error (`aer_event … Corrected`): a link or device is degrading",
    identifiers: ["rasdaemon"],
    literals: ["aer_event"],
    pattern: AER,
    describe: ({ group, m }) => {
      const ev = readAerEvent(m);
      if (ev.type !== "Corrected") return null;
      return {
        summary: `PCIe AER corrected error${ev.detail}`,
        facts: kernelFacts(group, ev.dev),
      };
    },
  },
  {
    name: "rasdaemon-memory-failure",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "rasdaemon: the kernel could not recover a poisoned page (`memory_failure_event … action_result=Failed` / `Ignored`)",
    identifiers: ["rasdaemon"],
    literals: ["memory_failure_event"],
    pattern: MEMORY_FAILURE,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      if (g["result"] !== "Failed" && g["result"] !== "Ignored") return null;
      return {
        summary: `Memory failure at pfn ${g["pfn"] as string} (${g["page"] as string}): recovery ${(g["result"] as string).toLowerCase()}`,
        facts: kernelFacts(group),
      };
    },
  },
  {
    // The page was isolated (Recovered) or will be (Delayed): the uncorrected error that poisoned
    // it is the event (mc_event / mce_record / the kernel's lines), this is its good outcome.
    name: "rasdaemon-memory-failure-recovered",
    tier: null,
    severity: "warning",
    group: "core",
    doc: "rasdaemon: poisoned page recovered or delayed (`memory_failure_event … action_result=Recovered`): the error itself is the event",
    identifiers: ["rasdaemon"],
    literals: ["memory_failure_event"],
    pattern: MEMORY_FAILURE,
    describe: () => ({ summary: "" }),
  },
  {
    name: "rasdaemon-mce-uncorrected",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "rasdaemon: machine check record decoded as uncorrected or deferred (`mce_record … Uncorrected`, `Uncorrected_error`, `UECC`, `[CRIT]`)",
    identifiers: ["rasdaemon"],
    literals: ["mce_record"],
    pattern: MCE,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const what = g["what"] as string;
      const deferred = /Deferred error/.test(what);
      const level = g["level"] ?? "";
      if (!deferred && !MCE_UNCORRECTED.test(what) && !/^(?:CRIT|ALERT|EMERG)$/.test(level)) return null;
      return {
        summary: `${deferred ? "Deferred" : "Uncorrected"} machine check (rasdaemon): ${mceWhat(what)}`,
        severity: deferred ? "high" : "critical",
        facts: kernelFacts(group),
      };
    },
  },
  {
    name: "rasdaemon-mce-corrected",
    tier: "T4",
    severity: "warning",
    group: "core",
    doc: "rasdaemon: corrected machine check record (`mce_record … Corrected error`, `Corrected_error`, `CECC`)",
    identifiers: ["rasdaemon"],
    literals: ["mce_record"],
    pattern: MCE,
    describe: ({ group, m }) => ({
      summary: `Corrected machine check (rasdaemon): ${mceWhat(m?.groups?.["what"] as string)}`,
      facts: kernelFacts(group),
    }),
  },
  {
    // ras-events.c: what it says while starting and at every event type it cannot open (a missing
    // tracepoint is a kernel built without that feature, not a failure). With -f every log(ALL, …)
    // line comes twice: through syslog(3) and, prefixed "rasdaemon: ", through stderr.
    name: "rasdaemon-startup",
    tier: null,
    severity: "warning",
    group: "core",
    doc: "rasdaemon start-up chatter (`Listening to events for cpus …`, `Enabled event …`, `Can't get traces from …`): not events",
    identifiers: ["rasdaemon"],
    literals: [
      "Listening to events",
      "Enabled event",
      "event enabled",
      "tracing from config",
      "overriding event",
      "Can't get traces from",
      "Can't write to set_event",
      "traces. Perhaps",
      "wait_access() failed",
    ],
    pattern:
      /^(?:rasdaemon: )?(?:Listening to events (?:for cpus|on cpu)|Enabled event \S+|\S+:\S+ event enabled|Disabled \S+ tracing from config|overriding event \(\d+\) \S+ with new print handler|Can't get traces from \S+|Can't write to set_event|Can't get \S+ traces\. Perhaps|wait_access\(\) failed)/,
    describe: () => ({ summary: "" }),
  },
];
