import type { RuleSpec } from "../rule-spec.ts";
import { kernelFacts } from "./_helpers.ts";

// T4: kernel and hardware errors (MCE/EDAC/GHES, lockups, stalls, panics and Oopses, networking hangs,
// network filesystems). Storage and local filesystems are in storage.ts.

export const KERNEL_RULES: readonly RuleSpec[] = [
  // ── T4: kernel and hardware ─────────────────────────────────────────────────────────
  {
    name: "thermal-critical",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "kernel: critical temperature reached / thermal shutdown",
    kernel: true,
    literals: ["critical temperature", "Critical temperature"],
    // The whole line that says so. Anchored at line starts: the unanchored `(.*…)` was tried from
    // every position of every kernel line that reached the rule, the costliest pattern in replay.
    pattern: /^(?<text>.*[Cc]ritical temperature reached.*)$/m,
    describe: ({ group, m }) => ({ summary: `Thermal: ${m?.groups?.["text"] as string}`, facts: kernelFacts(group) }),
  },
  {
    name: "thermal-throttle",
    tier: "T4",
    severity: "warning",
    group: "core",
    doc: "kernel: CPU core/package temperature above threshold, clock throttled",
    kernel: true,
    literals: ["temperature above threshold"],
    pattern: /(?:mce: )?(?<cpu>CPU\d+): (?<where>Core|Package) temperature above threshold, cpu clock throttled/,
    describe: ({ group, m }) => ({
      summary: `Thermal throttling on ${m?.groups?.["cpu"] as string} (${(m?.groups?.["where"] as string).toLowerCase()} temperature)`,
      facts: kernelFacts(group),
    }),
  },
  {
    name: "mce",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "kernel: machine check exception (CPU, cache, memory bus)",
    kernel: true,
    literals: ["Hardware Error", "Machine check", "Machine Check"],
    // arch/x86/kernel/cpu/mce: 3.10 prints "[Hardware Error]: Machine check events logged" without the "mce: " prefix.
    pattern: /mce: \[Hardware Error\]: (?<what>.*)|(?<logged>Machine check events logged)|(?<exc>Machine Check Exception.*)/,
    describe: ({ group, m }) => ({
      summary: `Machine check: ${(m?.groups?.["what"] ?? m?.groups?.["logged"] ?? m?.groups?.["exc"]) as string}`,
      facts: kernelFacts(group),
    }),
  },
  {
    name: "edac-uncorrectable",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "EDAC: uncorrectable memory error (UE), edac_mc/sbridge/skx/i10nm/amd64/ghes_edac and the pre-3.x `UE row …` form",
    kernel: true,
    literals: ["EDAC"],
    // drivers/edac/edac_mc.c edac_mc_handle_error() (3.x+): "EDAC MC0: 1 UE memory read error on …"; ghes_edac
    // "EDAC MC0: 1 UE Uncorrectable ECC error on …"; before 3.5 "EDAC MC0: UE page 0x…, offset … row 2, …".
    pattern: /EDAC (?<mc>\S+): (?:(?<count>\d+) UE (?<what>.*)|UE (?<old>(?:page|row) .*))/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      if (g["count"] === "0") return null;
      return {
        summary: `Uncorrectable memory error (${g["mc"] as string}): ${(g["what"] ?? g["old"]) as string}`,
        facts: kernelFacts(group),
      };
    },
  },
  {
    name: "edac-correctable",
    tier: "T4",
    severity: "warning",
    group: "core",
    doc: "EDAC: corrected memory error (CE) — a DIMM may be failing",
    kernel: true,
    literals: ["EDAC"],
    pattern: /EDAC (?<mc>\S+): (?:(?<count>\d+) CE (?<what>.*)|CE (?<old>(?:page|row) .*))/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      if (g["count"] === "0") return null;
      return {
        summary: `Corrected memory error (${g["mc"] as string}${g["count"] ? `, ${g["count"]}×` : ""}): ${(g["what"] ?? g["old"]) as string}`,
        facts: kernelFacts(group),
      };
    },
  },
  {
    // drivers/acpi/apei/ghes.c + drivers/firmware/efi/cper.c print one record as many lines
    // ("{1}[Hardware Error]: Hardware error from APEI Generic Hardware Error Source: 4", then
    // "event severity: fatal", "section_type: memory error", …). The first line is the event;
    // the rest are its details (next rule), so one record is one event.
    name: "hardware-error",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "APEI/GHES firmware-first hardware error records (`[Hardware Error]: Hardware error from APEI Generic Hardware Error Source: N`), AMD MCE decoder verdicts",
    kernel: true,
    literals: ["[Hardware Error]"],
    // arch/x86/kernel/cpu/mce/amd decoder (drivers/edac/mce_amd.c): "[Hardware Error]: Corrected error, no action required." …
    pattern:
      /^(?:\{\d+\})?\[Hardware Error\]: (?<what>Hardware error from APEI Generic Hardware Error Source: \d+|(?<verdict>Corrected error, no action required|Uncorrected, software (?:restartable|containable) error|Deferred error, no action required|Uncorrected error)\b.*)$/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const corrected = /^(?:Corrected|Deferred)/.test(g["verdict"] ?? "");
      return { summary: `Hardware error: ${g["what"] as string}`, severity: corrected ? "warning" : "critical", facts: kernelFacts(group) };
    },
  },
  {
    name: "hardware-error-detail",
    tier: null,
    severity: "warning",
    group: "core",
    doc: "the detail lines of a GHES/CPER record (`event severity`, `section_type`, …): part of the record's event",
    kernel: true,
    literals: ["[Hardware Error]"],
    pattern: /^(?:\{\d+\})?\[Hardware Error\]: /,
    describe: () => ({ summary: "" }),
  },
  {
    name: "memory-failure",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: hardware-poisoned memory page handled (`Memory failure: 0x…: recovery action for …`)",
    kernel: true,
    literals: ["Memory failure"],
    // mm/memory-failure.c action_result(): "Memory failure: %#lx: recovery action for %s: %s".
    pattern: /Memory failure: (?<pfn>0x[0-9a-f]+): (?<what>.*)/,
    describe: ({ group, m }) => {
      const what = m?.groups?.["what"] as string;
      return {
        summary: `Memory failure at page ${m?.groups?.["pfn"] as string}: ${what}`,
        severity: /: (?:Failed|Ignored)\b/.test(what) ? "critical" : "high",
        facts: kernelFacts(group),
      };
    },
  },
  {
    name: "mcelog-event",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "mcelog: a decoded machine check (`Hardware event. This is not a software error.` opens each record)",
    identifiers: ["mcelog"],
    literals: ["Hardware event"],
    // mcelog.c disclaimer(): every record it decodes starts with this line.
    pattern: /^Hardware event\. This is not a software error\./,
    describe: ({ group }) => ({
      summary: "Machine check decoded by mcelog (see mcelog --client or its log for the record)",
      facts: kernelFacts(group),
    }),
  },
  {
    name: "nmi",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: unknown NMI, PCI SERR / IOCHK NMI",
    kernel: true,
    literals: ["NMI"],
    pattern: /(?<what>Uhhuh\. NMI received for unknown reason .*|NMI: PCI system error.*|NMI: IOCK error.*)/,
    describe: ({ group, m }) => ({ summary: `NMI: ${m?.groups?.["what"] as string}`, facts: kernelFacts(group) }),
  },
  {
    name: "hard-lockup",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "kernel: NMI watchdog detected a hard lockup",
    kernel: true,
    literals: ["hard LOCKUP"],
    pattern: /Watchdog detected hard LOCKUP on cpu (?<cpu>\d+)/,
    describe: ({ group, m }) => ({ summary: `Hard lockup on CPU ${m?.groups?.["cpu"] as string}`, facts: kernelFacts(group) }),
  },
  {
    name: "soft-lockup",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: soft lockup (a CPU stuck in kernel mode)",
    kernel: true,
    literals: ["soft lockup"],
    // kernel/watchdog.c: "BUG: soft lockup - CPU#%d stuck for %us! [%s:%d]" ("NMI watchdog: " prefix before 4.15, "watchdog: " after).
    pattern: /BUG: soft lockup - CPU#(?<cpu>\d+) stuck for (?<secs>\d+)s!(?: \[(?<comm>.+):(?<pid>\d+)\])?/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      return {
        summary: `Soft lockup: CPU ${g["cpu"] as string} stuck for ${g["secs"] as string}s${g["comm"] ? ` in ${g["comm"]}` : ""}`,
        process: g["comm"] ?? null,
        pid: g["pid"] ? Number(g["pid"]) : null,
        facts: kernelFacts(group),
      };
    },
  },
  {
    name: "hung-task",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: a task blocked in uninterruptible sleep (hung_task_timeout_secs)",
    kernel: true,
    literals: ["blocked for more than"],
    pattern: /INFO: task (?<comm>.+):(?<pid>\d+) blocked for more than (?<secs>\d+) seconds/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      return {
        summary: `Hung task: ${g["comm"] as string} (pid ${g["pid"] as string}) blocked for more than ${g["secs"] as string}s`,
        process: g["comm"] ?? null,
        pid: Number(g["pid"]),
        facts: kernelFacts(group),
      };
    },
  },
  {
    name: "rcu-stall",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: RCU stall detected (normal and expedited), RCU grace-period kthread starved",
    kernel: true,
    literals: ["detected stall", "detected expedited stall", "kthread starved for"],
    // kernel/rcu/tree_stall.h: "INFO: rcu_sched self-detected stall on CPU", "INFO: rcu_preempt detected stalls on
    // CPUs/tasks:", "INFO: rcu_sched detected expedited stalls on CPUs/tasks:", "rcu_preempt kthread starved for 11334
    // jiffies! g15153 f0x0 RCU_GP_WAIT_FQS(5) ->state=0x0 ->cpu=0" (4.x+ add the "rcu: " prefix).
    pattern:
      /INFO: (?<flavor>rcu_\w+) (?:self-)?detected (?:expedited )?stall|(?<starved>rcu_\w+) kthread starved for (?<jiffies>\d+) jiffies/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      return {
        summary: g["starved"]
          ? `RCU grace-period kthread ${g["starved"]} starved for ${g["jiffies"] as string} jiffies`
          : `RCU stall (${g["flavor"] as string})`,
        facts: kernelFacts(group),
      };
    },
  },
  {
    name: "kernel-panic",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "kernel: panic",
    kernel: true,
    literals: ["Kernel panic"],
    pattern: /Kernel panic - not syncing: ?(?<why>.*)/,
    describe: ({ group, m }) => ({ summary: `Kernel panic: ${m?.groups?.["why"] as string}`, facts: kernelFacts(group) }),
  },
  {
    name: "kernel-oops",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "kernel: BUG / Oops / kernel-mode general protection fault",
    kernel: true,
    literals: [
      "BUG",
      "Oops",
      "general protection fault",
      "Unable to handle kernel",
      "divide error",
      "invalid opcode",
      "stack segment",
      "double fault",
      "Internal error",
      "Missing ENDBR",
    ],
    // arm/arm64 die(): "Internal error: Oops: 96000004 [#1] PREEMPT SMP" (6.x: 16 hex digits);
    // x86 IBT (arch/x86/kernel/traps.c, 5.18+): "traps: Missing ENDBR: foo+0x0/0x30".
    pattern:
      /^(?<what>BUG: .*|Oops.*|kernel BUG at .*|general protection fault.*|(?:divide error|invalid opcode|stack segment|double fault): [0-9a-f]{4} \[#\d+\].*|Unable to handle kernel .*|Internal error: .*\[#\d+\].*|(?:traps: )?Missing ENDBR: .*)$/,
    describe: ({ group, m }) => ({
      summary: `Kernel ${(m?.groups?.["what"] as string).replace(/^traps: /, "")}`,
      facts: kernelFacts(group),
    }),
  },
  {
    name: "kernel-warning",
    tier: "T4",
    severity: "warning",
    group: "core",
    doc: "kernel: WARNING with a stack trace (a kernel bug that did not crash)",
    kernel: true,
    literals: ["WARNING: "],
    // 3.10 and some vendor 4.4 kernels: "WARNING: at kernel/smp.c:382 smp_call_function_many+0x2d4/0x2e0()"
    pattern: /^WARNING: (?:CPU: \d+ PID: \d+ )?at (?<where>\S+)(?: (?<fn>\S+))?/,
    describe: ({ group, m }) => ({
      summary: `Kernel warning at ${m?.groups?.["where"] as string}${m?.groups?.["fn"] ? ` ${m.groups["fn"]}` : ""}`,
      facts: kernelFacts(group),
    }),
  },
  {
    name: "netdev-watchdog",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: NETDEV WATCHDOG transmit timeout (a NIC stopped sending)",
    kernel: true,
    literals: ["NETDEV WATCHDOG"],
    // net/sched/sch_generic.c dev_watchdog(): 2.6 "NETDEV WATCHDOG: eth0: transmit timed out"; 3.x–6.8
    // "NETDEV WATCHDOG: eth0 (igb): transmit queue 4 timed out"; 6.9+ netdev_crit "… eno2: NETDEV WATCHDOG: CPU: 5: transmit queue 0 timed out 10430 ms".
    // The prefix is tried only where a word starts (the lookbehind): the same matches, without
    // trying every tail of every word of a line that reaches the rule.
    pattern:
      /(?:(?<![^\s:])(?<pre>[^\s:]+): )?NETDEV WATCHDOG: (?:(?<dev>[^\s:(]+)(?: \((?<drv>[^)]+)\))?: |CPU: \d+: )?transmit (?:queue (?<queue>\d+) )?timed out/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const dev = g["dev"] ?? g["pre"] ?? null;
      return {
        summary: `Network transmit timeout${dev ? ` on ${dev}` : ""}${g["drv"] ? ` (${g["drv"]})` : ""}${g["queue"] ? `, queue ${g["queue"]}` : ""}`,
        facts: kernelFacts(group, dev),
      };
    },
  },
  {
    name: "netdev-unregister-hang",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: `unregister_netdevice: waiting for X to become free` (a leaked reference; network namespace teardown hangs)",
    kernel: true,
    literals: ["to become free"],
    // net/core/dev.c netdev_wait_allrefs(): pr_emerg("unregister_netdevice: waiting for %s to become free. Usage count = %d\n").
    pattern: /unregister_netdevice: waiting for (?<dev>\S+) to become free\. Usage count = (?<count>-?\d+)/,
    describe: ({ group, m }) => ({
      summary: `unregister_netdevice: ${m?.groups?.["dev"] as string} stuck (usage count ${m?.groups?.["count"] as string})`,
      facts: kernelFacts(group, m?.groups?.["dev"] ?? null),
    }),
  },
  {
    name: "conntrack-table-full",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: `nf_conntrack: table full, dropping packet` (new connections are being dropped)",
    kernel: true,
    literals: ["table full, dropping packet"],
    // net/netfilter/nf_conntrack_core.c: 3.x "nf_conntrack: table full, dropping packet."; later kernels print the
    // module prefix twice ("nf_conntrack: nf_conntrack: table full, dropping packet").
    pattern: /nf_conntrack: table full, dropping packet/,
    describe: ({ group }) => ({
      summary: "Connection tracking table full: packets are being dropped (raise net.netfilter.nf_conntrack_max)",
      facts: kernelFacts(group),
    }),
  },
  {
    name: "nfs-not-responding",
    tier: "T4",
    severity: "warning",
    group: "file_sharing",
    doc: "kernel: NFS server not responding",
    kernel: true,
    literals: ["not responding"],
    pattern: /^nfs: server (?<server>\S+) not responding/,
    describe: ({ group, m }) => ({ summary: `NFS server ${m?.groups?.["server"] as string} not responding`, facts: kernelFacts(group) }),
  },
  {
    name: "cifs-error",
    tier: "T4",
    severity: "warning",
    group: "file_sharing",
    doc: "kernel: CIFS/SMB client errors",
    kernel: true,
    literals: ["CIFS"],
    pattern: /^CIFS: (?:VFS: )?(?<what>.*(?:error|[Ff]ailed|reconnect|not responding).*)$/,
    describe: ({ group, m }) => ({ summary: `CIFS: ${m?.groups?.["what"] as string}`, facts: kernelFacts(group) }),
  },
];

// The backstop, last in the table: a kernel message at priority err or worse (kmsg prio, journal
// PRIORITY) from a storage, filesystem, memory, PCI or GPU subsystem that no rule above named.
// A new wording of a known failure then still reaches the event log, marked as unrecognized,
// instead of being dropped. Messages without a priority (plain dmesg text) never reach it.
const SUBSYSTEMS: readonly (readonly [string, RegExp])[] = [
  [
    "storage",
    /^(?:sd|sr|st|ses|scsi) \d+:\d+:\d+:\d+: |^scsi(?:\d+)?[: ]|^ata\d+(?:\.\d+)?: |^nvme\S*[: ]|^blk_\w+: |^(?:print_req_error|end_request): |^Buffer I\/O |^(?:ahci|mpt[23]sas|megaraid_sas|aacraid|hpsa|smartpqi|mpi3mr|isci|virtio_blk|xen_blkfront|mmc\d+|mmcblk\d+\S*|nbd\d*|loop\d*|dm-\d+|device-mapper|md|md\/\w+|md\d+|raid\d+|bcache|zram\d*)[: ]/,
  ],
  [
    "filesystem",
    /^(?:EXT[234]-fs|XFS|BTRFS|F2FS-fs|FAT-fs|exFAT-fs|NTFS(?:-fs)?|ntfs3|JBD2?|ZFS|SPL|zfs|overlayfs|SQUASHFS|squashfs|ISOFS|UDF-fs|NFS\w*|nfs\w*|CIFS|ceph|libceph|fuse|ocfs2|gfs2|VFS|Quota error)\b/,
  ],
  ["memory", /^(?:EDAC\b|mce\b|Memory failure|(?:\{\d+\})?\[Hardware Error\]|RAS\b|GHES\b|APEI\b|ERST\b|HEST\b|BERT\b)/],
  ["PCI", /^(?:pci|pcieport) [0-9a-f]{4}:|^(?:PCI|AER|DPC)\b/],
  ["GPU", /^(?:amdgpu|radeon|i915|xe|nouveau|nvidia|ast|mgag200) [0-9a-f]{4}:|^(?:NVRM|nvidia|amdgpu|i915|nouveau)\b|^\[drm\b/],
];

export const BACKSTOP_RULES: readonly RuleSpec[] = [
  {
    // drivers/pci/doe.c prints these with pci_err at every boot on servers whose devices
    // advertise a Data Object Exchange mailbox that does not answer (seen on healthy Supermicro
    // EPYC boards); the device works, so they are known and not events.
    name: "pci-doe-mailbox",
    tier: null,
    severity: "warning",
    group: "core",
    doc: "PCI DOE mailbox setup failures at boot (`DOE: [2c8] failed to create mailbox`): firmware noise on healthy servers",
    kernel: true,
    literals: ["DOE: ["],
    pattern:
      /^pci \S+: DOE: \[[0-9a-f]+\] (?:ABORT timed out|failed to reset mailbox|failed to create mailbox|failed to cache (?:protocols|features))/,
    describe: () => ({ summary: "" }),
  },
  {
    name: "kernel-error-unrecognized",
    tier: "T4",
    severity: "warning",
    group: "core",
    doc: "backstop: a kernel message at priority err or worse from a storage, filesystem, memory, PCI or GPU subsystem that no rule above names",
    kernel: true,
    maxPriority: 3,
    literals: [
      "sd ",
      "sr ",
      "st ",
      "ses ",
      "scsi",
      "ata",
      "nvme",
      "blk_",
      "print_req_error",
      "end_request",
      "Buffer I/O",
      "ahci",
      "mpt",
      "megaraid",
      "aacraid",
      "hpsa",
      "smartpqi",
      "mpi3mr",
      "isci",
      "virtio_blk",
      "blkfront",
      "mmc",
      "nbd",
      "loop",
      "dm-",
      "device-mapper",
      "md",
      "raid",
      "bcache",
      "zram",
      "EXT",
      "XFS",
      "BTRFS",
      "F2FS",
      "FAT-fs",
      "NTFS",
      "ntfs3",
      "JBD",
      "ZFS",
      "SPL",
      "zfs",
      "overlayfs",
      "SQUASHFS",
      "squashfs",
      "ISOFS",
      "UDF-fs",
      "NFS",
      "nfs",
      "CIFS",
      "ceph",
      "fuse",
      "ocfs2",
      "gfs2",
      "VFS",
      "Quota error",
      "EDAC",
      "mce",
      "Memory failure",
      "[Hardware Error]",
      "RAS",
      "GHES",
      "APEI",
      "ERST",
      "HEST",
      "BERT",
      "pci",
      "PCI",
      "AER",
      "DPC",
      "amdgpu",
      "radeon",
      "i915",
      "xe ",
      "nouveau",
      "nvidia",
      "ast ",
      "mgag200",
      "NVRM",
      "[drm",
    ],
    describe: ({ entry, group }) => {
      const found = SUBSYSTEMS.find(([, re]) => re.test(entry.message));
      if (!found) return null;
      return { summary: `Unrecognized kernel error (${found[0]}): ${entry.message}`, facts: kernelFacts(group) };
    },
  },
];
