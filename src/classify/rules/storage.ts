import type { RuleSpec } from "../rule-spec.ts";
import { kernelFacts } from "./_helpers.ts";

// T4: storage and filesystems — block layer, libata, SCSI, NVMe, ext2/3/4 and their journals,
// btrfs, XFS, ZFS, md RAID. Patterns follow the kernel's own format strings; a format that
// changed between versions keeps every form. Device names are anything up to a comma or
// space: sda, dm-3, md127, mmcblk0p2, vda, xvdf, nbd0, nvme0n1p1, "?" for a request without
// a disk.

// block/blk-core.c: blk_errors[] names (3.10–4.12 spell them in blk_update_request's switch)
// that mean the device failed the request. "operation not supported", "nonblocking retry",
// "kernel resource", "device resource" and "dm internal retry" are not device failures.
const BLK_FAILURES =
  "I\\/O|critical medium|critical target|critical nexus|critical space allocation|recoverable transport|timeout|protection|device offline|reservation conflict|duration limit exceeded";

export const STORAGE_RULES: readonly RuleSpec[] = [
  {
    name: "block-io-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: block layer errors (`I/O error`, `critical medium error`, `critical target error`, … `dev X, sector N`), `Buffer I/O error`, `writeback error on inode`",
    kernel: true,
    literals: ["error, dev", "Buffer I/O error", "writeback error on inode"],
    // 3.10: "end_request: I/O error, dev sda, sector 1234"; 4.x: "blk_update_request: critical medium error, dev sda, sector 1234";
    // 4.19–5.x: "print_req_error: …" / "blk_update_request: … op 0x0:(READ) flags …"; 6.x: "I/O error, dev sda, sector 1234 op …";
    // fs/iomap (5.x+): "vdd: writeback error on inode 562692, offset 0, sector 578584".
    pattern: new RegExp(
      `(?:^|: )(?<kind>${BLK_FAILURES}) error, dev (?<device>[^,\\s]+), sector (?<sector>\\d+)|Buffer I\\/O error on dev(?:ice)? (?<bdevice>[^,\\s]+)|^(?<wdevice>[\\w-]+): writeback error on inode \\d+`,
    ),
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const dev = g["device"] ?? g["bdevice"] ?? g["wdevice"] ?? "?";
      const kind = g["wdevice"] ? "writeback error" : g["kind"] && g["kind"] !== "I/O" ? `${g["kind"]} error` : "I/O error";
      return { summary: `Disk ${kind} on /dev/${dev}${g["sector"] ? ` (sector ${g["sector"]})` : ""}`, facts: kernelFacts(group, dev) };
    },
  },
  {
    name: "ata-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: libata command errors (`exception Emask`, `res … Emask … (media error)`, `interface fatal error`) and link resets",
    kernel: true,
    literals: ["Emask", "failed command", "error: {", "status: {", "resetting link", "COMRESET", "SError", "irq_stat"],
    // drivers/ata/libata-eh.c ata_eh_link_report(): "exception Emask …", "failed command: …", and the
    // "cmd …\n res … Emask 0x… (<ata_err_string>)" pair (one record on /dev/kmsg, two lines in dmesg);
    // the description after irq_stat comes from the LLD (ahci: "interface fatal error", "host bus error").
    pattern:
      /^(?<port>ata\d+(?:\.\d+)?): (?<what>exception Emask|failed command|error: \{|status: \{[^}]*ERR|hard resetting link|COMRESET failed|SError: \{|irq_stat 0x[0-9a-f]+, .*(?:fatal|error).*)|(?:^|\n)\s*res [0-9a-f]{2}\/[0-9a-f]{2}:[0-9a-f:/]+ Emask 0x[0-9a-f]+ \((?<emask>[^)]+)\)/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const port = g["port"] ?? /^ata\d+(?:\.\d+)?/.exec(group.kind === "entry" ? group.entry.message : "")?.[0] ?? null;
      const what = g["what"] ?? `command failed (${g["emask"] as string})`;
      return { summary: `Disk controller error${port ? ` on ${port}` : ""}: ${what}`, facts: kernelFacts(group, port) };
    },
  },
  {
    // ata_eh_link_report() prints the whole report at err level; its detail lines (the taskfile
    // "cmd …", "irq_stat …" without a cause, controller DMA status) belong to the event above.
    name: "ata-detail",
    tier: null,
    severity: "warning",
    group: "core",
    doc: "libata error report detail lines (`cmd …`, `irq_stat 0x…`, `BMDMA stat …`): part of the ata-error event",
    kernel: true,
    literals: ["cmd ", "irq_stat", "BMDMA"],
    pattern: /^ata\d+(?:\.\d+)?: (?:cmd [0-9a-f]{2}\/|irq_stat 0x[0-9a-f]+$|\(?BMDMA2? stat )/,
    describe: () => ({ summary: "" }),
  },
  {
    name: "nvme-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: NVMe timeouts, aborts, resets, removals and command errors (`… @ LBA …, I/O Error (sct … / sc …)`)",
    kernel: true,
    literals: ["nvme"],
    // drivers/nvme/host/pci.c nvme_timeout(): 4.x–6.4 "I/O 12 QID 5 timeout, aborting", 6.5+ "I/O tag 12 (0c0c)
    // opcode 0x2 (Read) QID 5 timeout, aborting req_op:READ(0) size:4096"; core.c nvme_log_error() (5.18+):
    // "nvme0n1: Read(0x2) @ LBA 123, 8 blocks, Unrecovered Read Error (sct 0x2 / sc 0x81) DNR".
    pattern:
      /^nvme (?<ctrl>nvme\d+): (?<what>I\/O (?:tag )?\d+ (?:\([^)]*\) )?(?:opcode 0x[0-9a-f]+ (?:\([^)]*\) )?)?QID \d+ timeout.*|controller is down.*|Device not ready.*|Removing after probe failure.*|Abort status.*|frozen state error detected.*|.*[Ff]ailed.*)$|^(?<ns>nvme\d+(?:n\d+)?): (?<cmd>.+?(?:\(0x[0-9a-f]+\)(?: @ LBA \d+, \d+ blocks)?, .*\(sct 0x[0-9a-f]+ \/ sc 0x[0-9a-f]+\).*|I\/O Cmd.*status: .*))$/,
    unless: /failed to (?:get|find) .*(?:firmware|power state)/i,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const dev = (g["ctrl"] ?? g["ns"]) as string;
      return { summary: `NVMe error on ${dev}: ${((g["what"] ?? g["cmd"]) as string).trim()}`, facts: kernelFacts(group, dev) };
    },
  },
  {
    name: "scsi-medium-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: SCSI sense `Medium Error` / `Hardware Error`, `Unrecovered read error` and other medium sense codes",
    kernel: true,
    literals: ["Sense Key", "Add. Sense", "ASC=0x"],
    // drivers/scsi/constants.c: keys by name, or "0x3"/"0x4" when built without the tables
    // (then also "ASC=0x11 ASCQ=0x0": 0x11 unrecovered read error, 0x0c write error, 0x31 medium format corrupted).
    pattern:
      /(?:\[(?<device>[\w-]+)\].*?)?(?:Sense Key : (?<key>Medium Error|Hardware Error|0x3|0x4)\b|Add\. Sense: (?<sense>Unrecovered read error.*|Write error.*|Id CRC or ECC error|L-EC uncorrectable error|Read retries exhausted|Medium format corrupted|Logical unit failure.*)|ASC=(?<asc>0x11|0xc|0x31) ASCQ=)/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const key = g["key"] === "0x3" ? "Medium Error" : g["key"] === "0x4" ? "Hardware Error" : g["key"];
      const what = key ?? g["sense"] ?? `medium error (ASC ${g["asc"] as string})`;
      return { summary: `Disk ${what}${g["device"] ? ` on /dev/${g["device"]}` : ""}`, facts: kernelFacts(group, g["device"] ?? null) };
    },
  },
  {
    name: "scsi-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: SCSI command failures (`FAILED Result: hostbyte=… driverbyte=…`, `Unhandled sense code`), devices taken offline (`rejecting I/O to offline device`, `Device offlined`)",
    kernel: true,
    literals: [
      "Result: hostbyte",
      "offline device",
      "Device offlined",
      "Unhandled sense code",
      "Unhandled error code",
      "SCSI error: return code",
    ],
    // drivers/scsi/scsi_logging.c scsi_print_result() ("[sda] tag#3 FAILED Result: hostbyte=DID_OK
    // driverbyte=DRIVER_SENSE cmd_age=0s"; 3.10 "[sda]  Result: …" after "Unhandled sense code");
    // scsi_lib.c "rejecting I/O to offline device"; scsi_error.c "Device offlined - not ready after error recovery".
    pattern:
      /^(?:(?:sd|sr|st|ses|scsi) (?<addr>[\d:]+): |scsi\d+ \((?<addr2>[\d:]+)\): |scsi: )?(?:\[(?<device>[\w-]+)\] )?(?:tag#\d+ )?(?:(?<what>rejecting I\/O to offline device|Device offlined.*|Unhandled (?:sense|error) code|SCSI error: return code = 0x[0-9a-f]+)|.*?Result: hostbyte=(?<host>\S+) driverbyte=(?<driver>\S+))/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const addr = g["addr"] ?? g["addr2"] ?? null;
      const dev = g["device"] ? `/dev/${g["device"]}` : addr ? `SCSI ${addr}` : "a SCSI device";
      const what = g["what"] ?? `command failed (hostbyte=${g["host"] as string} driverbyte=${g["driver"] as string})`;
      return { summary: `Disk error on ${dev}: ${what}`, facts: kernelFacts(group, g["device"] ?? addr) };
    },
  },
  {
    name: "ext4-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: EXT4-fs errors, warnings that report a failure (I/O error, directory index full), journal load errors and read-only remounts",
    kernel: true,
    literals: ["EXT4-fs"],
    pattern:
      /^EXT4-fs error \(device (?<edev>[^)]+)\): (?<error>.*)|^EXT4-fs \((?<dev>[^)]+)\): (?<what>Remounting filesystem read-only|.*error count since last fsck.*|I\/O error.*|.*failed.*|.*[Dd]ata will be lost.*|previous I\/O error to superblock detected|.*Detected aborted journal.*|error loading journal|.*journal (?:has )?aborted.*)$|^EXT4-fs warning \(device (?<wdev>[^)]+)\): (?<warning>.*(?:I\/O error|Directory index full).*)$/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const dev = (g["edev"] ?? g["dev"] ?? g["wdev"]) as string;
      return { summary: `EXT4 error on ${dev}: ${(g["error"] ?? g["what"] ?? g["warning"]) as string}`, facts: kernelFacts(group, dev) };
    },
  },
  {
    name: "ext3-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: EXT2-fs / EXT3-fs errors and `error: remounting filesystem read-only`",
    kernel: true,
    literals: ["EXT3-fs", "EXT2-fs"],
    // fs/ext3/super.c (3.10) and fs/ext2/super.c: "EXT3-fs error (device sda1): ext3_lookup: …",
    // "EXT3-fs (sda1): error: remounting filesystem read-only", "EXT2-fs (sdb1): error: ext2_check_page: …".
    pattern:
      /^(?<fs>EXT[23])-fs error \(device (?<edev>[^)]+)\): (?<error>.*)|^(?<fs2>EXT[23])-fs \((?<dev>[^)]+)\): (?<what>error: .*|.*I\/O error.*|warning: mounting fs with errors.*)$/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const dev = (g["edev"] ?? g["dev"]) as string;
      return {
        summary: `${(g["fs"] ?? g["fs2"]) as string} error on ${dev}: ${(g["error"] ?? g["what"]) as string}`,
        facts: kernelFacts(group, dev),
      };
    },
  },
  {
    name: "journal-abort",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: JBD/JBD2 journal aborts and journal I/O errors (ext3/ext4/ocfs2)",
    kernel: true,
    literals: ["Aborting journal", "JBD"],
    // fs/jbd2/journal.c: "Aborting journal on device %s.", "JBD2: Error %d detected when updating journal
    // superblock for %s.", 6.x "JBD2: I/O error when updating journal superblock for %s.";
    // fs/jbd2/commit.c "JBD2: Detected IO errors while flushing file data on %s"; fs/jbd (3.10) "JBD: …".
    pattern: /^(?:Aborting journal on device (?<dev>\S+?)\.?$|(?<jbd>JBD2?): (?<what>.*(?:[Ee]rror|IO errors|I\/O error|[Ff]ailed).*))/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const dev = g["dev"] ?? /(?:for|on) (\S+?)\.?$/.exec(g["what"] ?? "")?.[1] ?? null;
      return {
        summary: g["dev"] ? `Filesystem journal aborted on ${g["dev"]}` : `${g["jbd"] as string}: ${g["what"] as string}`,
        facts: kernelFacts(group, dev),
      };
    },
  },
  {
    name: "btrfs-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: BTRFS errors, checksum failures, aborted transactions, forced read-only, non-zero device error counters",
    kernel: true,
    literals: ["BTRFS"],
    // fs/btrfs: "BTRFS: error (device sda1) in …" (≤5.x), "BTRFS error (device sda1 state EA): Transaction
    // aborted (error -5)" (6.x adds the state letters), btrfs_handle_fs_error() "forced readonly" at info level,
    // and "bdev … errs: wr N, rd N, flush N, corrupt N, gen N" (info at mount, error when a counter moves).
    pattern:
      /^BTRFS: (?<aborted>Transaction aborted \(error -?\d+\))|^BTRFS(?: info| error| warning| critical)? \(device (?<sdev>[^):\s]+)[^)]*\): (?<state>forced readonly|bdev \S+ errs: wr (?<wr>\d+), rd (?<rd>\d+), flush (?<fl>\d+), corrupt (?<co>\d+), gen (?<ge>\d+))|^BTRFS(?:: error| error| critical| warning)? \(device (?<dev>[^):]+)[^)]*\):? (?<what>.*(?:error|errno=|errs:|csum failed|checksum|corrupt|read-only|readonly|fail|abort).*)$/i,
    unless: /^BTRFS info \(device [^)]*\): (?!forced readonly|bdev )/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      if (g["wr"] !== undefined && [g["wr"], g["rd"], g["fl"], g["co"], g["ge"]].every((n) => n === "0")) return null;
      const dev = g["sdev"] ?? g["dev"] ?? null;
      return {
        summary: `BTRFS error${dev ? ` on ${dev}` : ""}: ${(g["aborted"] ?? g["state"] ?? g["what"]) as string}`,
        facts: kernelFacts(group, dev),
      };
    },
  },
  {
    name: "xfs-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: XFS corruption, CRC and metadata I/O errors, writeback and log errors, shutdowns",
    kernel: true,
    literals: ["XFS ("],
    pattern:
      /^XFS \((?<dev>[^)]+)\): (?<what>.*(?:[Cc]orrupt|CRC error|I\/O [Ee]rror|[Ss]hut(?:ting)? down|shutdown|xfs_repair|Internal error|writeback error|[Ff]ailing async write|log error|rectify the problem|recovery failed|mount failed).*)$/,
    describe: ({ group, m }) => ({
      summary: `XFS error on ${m?.groups?.["dev"] as string}: ${m?.groups?.["what"] as string}`,
      facts: kernelFacts(group, m?.groups?.["dev"] ?? null),
    }),
  },
  {
    name: "zfs-error",
    tier: "T4",
    severity: "high",
    group: "raid",
    doc: "ZFS: I/O and checksum errors, faulted or degraded vdevs, suspended pools (kernel, SPL and ZED forms)",
    // The kernel module (and the SPL) log as the kernel, the event daemon as "zed": naming both
    // keeps the journal filtered on journald's side.
    identifiers: ["zed", "kernel"],
    literals: ["zio pool=", "pool=", "Pool '"],
    // module/zfs/spa_misc.c / zio.c: "WARNING: Pool 'tank' has encountered an uncorrectable I/O failure and
    // has been suspended." (via the SPL's cmn_err, kernel log); ZED's "eid=N class=… pool=…" lines
    // (all-syslog.sh), for the ereport.fs.zfs.* classes that report a failure.
    pattern:
      /zio pool=(?<zpool>\S+) vdev=(?<vdev>\S+) error=(?<errno>\d+)|class=(?<cls>checksum|io|data|deadman|probe_failure|io_failure|zpool|vdev\.(?:no_replicas|open_failed|corrupt_data|bad_label|bad_guid_sum|too_small|bad_ashift|unknown))\b.*pool=['"]?(?<cpool>[^'" ]+)|class=statechange\b.*pool=['"]?(?<spool>[^'" ]+)['"]?.*vdev_state=(?<state>FAULTED|DEGRADED|REMOVED|UNAVAIL)|Pool '(?<suspended>[^']+)' has encountered an uncorrectable I\/O failure/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const pool = (g["zpool"] ?? g["cpool"] ?? g["spool"] ?? g["suspended"]) as string;
      const what = g["errno"]
        ? `I/O error ${g["errno"]} on ${g["vdev"] as string}`
        : g["cls"]
          ? `${g["cls"]} error`
          : g["state"]
            ? `vdev ${g["state"]}`
            : "pool suspended (uncorrectable I/O failure)";
      return { summary: `ZFS pool ${pool}: ${what}`, facts: kernelFacts(group, pool) };
    },
  },
  {
    name: "md-raid-degraded",
    tier: "T4",
    severity: "critical",
    group: "raid",
    doc: "md RAID: disk failure, degraded array, unrecoverable read errors, superblock write errors, interrupted recovery",
    kernel: true,
    literals: ["md/raid", "md: md", "kicking non-fresh", "gets error="],
    // "not clean -- starting background reconstruction" after an unclean shutdown is routine: not matched.
    pattern:
      /md\/raid\w*:(?<md>md\w+): (?<what>Disk failure on \S+.*|Operation continuing on \d+ devices.*|cannot start.*|not enough operational devices.*|read error not correctable.*|\S+: unrecoverable I\/O read error.*)|md: (?<md2>md\w+): (?<what2>(?:recovery|resync|data-check) interrupted.*)|md: (?<what3>kicking non-fresh \w+ from array.*|\w+ gets error=-?\d+)/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const md = g["md"] ?? g["md2"] ?? "md";
      return { summary: `RAID ${md}: ${(g["what"] ?? g["what2"] ?? g["what3"]) as string}`, facts: kernelFacts(group, md) };
    },
  },
  {
    name: "mdadm-event",
    tier: "T4",
    severity: "critical",
    group: "raid",
    doc: "mdadm --monitor: DegradedArray / Fail / DeviceDisappeared events",
    identifiers: ["mdadm"],
    literals: ["event detected"],
    pattern: /(?<event>DegradedArray|Fail|FailSpare|DeviceDisappeared|SparesMissing) event detected on md device (?<md>\S+)/,
    describe: ({ group, m }) => ({
      summary: `RAID ${m?.groups?.["md"] as string}: ${m?.groups?.["event"] as string}`,
      facts: kernelFacts(group, m?.groups?.["md"] ?? null),
    }),
  },
];
