// Generate a realistic `journalctl -o json` stream for benchmarks: mostly benign traffic
// from the services a desktop or NAS runs, about 1% tiered entries (segfaults with their
// Code: line, unit failures, disk errors, GPU Xids) and some whole kernel OOM reports.
// The OOM report is the real one captured on this machine (tests/fixtures/real), re-stamped
// with new cursors, times and pids; the other records copy the field layout of real ones.
//
//   bun scripts/gen-journal.ts OUT.jsonl [ENTRIES]

import { join } from "node:path";

const BOOT = "fbab4f0ccbf945e1805b9ef1c3915417";
const MACHINE = "3d1219c7c4c5404aaa1f6d2a48adfda4";
const SEQNUM_ID = "b74a8fa2dd5c4f4bbc7cce8e9480cbe0";

interface Service {
  identifier: string;
  unit: string;
  exe: string;
  priority: number;
  messages: string[];
}

const SERVICES: Service[] = [
  {
    identifier: "NetworkManager",
    unit: "NetworkManager.service",
    exe: "/usr/sbin/NetworkManager",
    priority: 6,
    messages: [
      "<info>  [1763836800.1234] device (wlp3s0): state change: activated -> activated (reason 'none', sys-iface-state: 'managed')",
      "<info>  [1763836801.0042] dhcp4 (wlp3s0): state changed new lease, address=192.168.1.23",
      "<info>  [1763836802.5531] manager: NetworkManager state is now CONNECTED_GLOBAL",
    ],
  },
  {
    identifier: "sshd",
    unit: "ssh.service",
    exe: "/usr/sbin/sshd",
    priority: 6,
    messages: [
      "Accepted publickey for alice from 192.168.1.10 port 51234 ssh2: ED25519 SHA256:Zm9vYmFyYmF6",
      "pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)",
      "Received disconnect from 192.168.1.10 port 51234:11: disconnected by user",
    ],
  },
  {
    identifier: "CRON",
    unit: "cron.service",
    exe: "/usr/sbin/cron",
    priority: 6,
    messages: ["(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)", "pam_unix(cron:session): session closed for user root"],
  },
  {
    identifier: "systemd-logind",
    unit: "systemd-logind.service",
    exe: "/lib/systemd/systemd-logind",
    priority: 6,
    messages: ["New session 42 of user alice.", "Session 42 logged out. Waiting for processes to exit.", "Removed session 42."],
  },
  {
    identifier: "gnome-shell",
    unit: "user@1000.service",
    exe: "/usr/bin/gnome-shell",
    priority: 4,
    messages: [
      "Window manager warning: Buggy client sent a _NET_ACTIVE_WINDOW message with a timestamp of 0 for 0x3a00007",
      "JS ERROR: TypeError: this._button is null",
      "meta_window_set_stack_position_no_sync: assertion 'window->stack_position >= 0' failed",
    ],
  },
  {
    identifier: "dbus-daemon",
    unit: "dbus.service",
    exe: "/usr/bin/dbus-daemon",
    priority: 5,
    messages: [
      "[system] Activating via systemd: service name='org.freedesktop.hostname1' unit='dbus-org.freedesktop.hostname1.service' requested by ':1.42' (uid=1000 pid=2012 comm=\"gnome-shell\")",
      "[system] Successfully activated service 'org.freedesktop.hostname1'",
    ],
  },
  {
    identifier: "smbd",
    unit: "smbd.service",
    exe: "/usr/sbin/smbd",
    priority: 5,
    messages: [
      "  Copyright Andrew Tridgell and the Samba Team 1992-2022",
      "[2026/11/22 18:00:00.123456,  0] ../../source3/smbd/server.c:1741(main)",
    ],
  },
  {
    identifier: "dockerd",
    unit: "docker.service",
    exe: "/usr/bin/dockerd",
    priority: 6,
    messages: [
      'time="2026-11-22T18:00:00.000000000Z" level=info msg="ignoring event" container=3f2a1b module=libcontainerd namespace=moby topic=/tasks/delete type="*events.TaskDelete"',
      'time="2026-11-22T18:00:01.000000000Z" level=warning msg="Health check for container 3f2a1b error: context deadline exceeded"',
    ],
  },
  {
    identifier: "systemd",
    unit: "init.scope",
    exe: "/usr/lib/systemd/systemd",
    priority: 6,
    messages: [
      "Starting apt-daily.service - Daily apt download activities...",
      "Finished apt-daily.service - Daily apt download activities.",
      "Started session-42.scope - Session 42 of User alice.",
    ],
  },
];

const KERNEL_BENIGN = [
  'audit: type=1400 audit(1763836800.123:42): apparmor="DENIED" operation="open" profile="snap.firefox.firefox" name="/proc/1/cmdline" pid=2012 comm="firefox" requested_mask="r" denied_mask="r" fsuid=1000 ouid=0',
  "usb 1-1: new high-speed USB device number 5 using xhci_hcd",
  "e1000e 0000:00:1f.6 eno1: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx",
  "wlp3s0: associated",
  "EXT4-fs (sda1): mounted filesystem 3f2a1b4c-0000-4000-8000-000000000000 r/w with ordered data mode. Quota mode: none.",
];

type Record = { [key: string]: string | number[] };

class Clock {
  seq = 0x1000;
  realtimeUs = 1_795_373_192_000_000;
  monotonicUs = 4_000_000_000;
  tick(): void {
    this.seq++;
    const step = 200 + (this.seq % 7) * 150;
    this.realtimeUs += step;
    this.monotonicUs += step;
  }
  stamp(): Record {
    const x = (this.seq * 2654435761).toString(16).padStart(16, "0").slice(-16);
    return {
      __CURSOR: `s=${SEQNUM_ID};i=${this.seq.toString(16)};b=${BOOT};m=${this.monotonicUs.toString(16)};t=${this.realtimeUs.toString(16)};x=${x}`,
      __REALTIME_TIMESTAMP: String(this.realtimeUs),
      __MONOTONIC_TIMESTAMP: String(this.monotonicUs),
      _BOOT_ID: BOOT,
    };
  }
}

function serviceRecord(clock: Clock, s: Service, message: string, pid: number, extra: Record = {}, priority = s.priority): Record {
  return {
    ...clock.stamp(),
    _TRANSPORT: "journal",
    PRIORITY: String(priority),
    SYSLOG_FACILITY: "3",
    SYSLOG_IDENTIFIER: s.identifier,
    _PID: String(pid),
    _UID: "0",
    _GID: "0",
    _COMM: s.identifier.slice(0, 15),
    _EXE: s.exe,
    _CMDLINE: s.exe,
    _CAP_EFFECTIVE: "1ffffffffff",
    _SYSTEMD_CGROUP: `/system.slice/${s.unit}`,
    _SYSTEMD_UNIT: s.unit,
    _SYSTEMD_SLICE: "system.slice",
    _SYSTEMD_INVOCATION_ID: "287f2012a0954037b0fd3bb49962420f",
    _MACHINE_ID: MACHINE,
    _HOSTNAME: "workstation",
    _SOURCE_REALTIME_TIMESTAMP: String(clock.realtimeUs - 40),
    MESSAGE: message,
    ...extra,
  };
}

function kernelRecord(clock: Clock, message: string, priority: number): Record {
  return {
    ...clock.stamp(),
    _TRANSPORT: "kernel",
    PRIORITY: String(priority),
    SYSLOG_FACILITY: "0",
    SYSLOG_IDENTIFIER: "kernel",
    _MACHINE_ID: MACHINE,
    _HOSTNAME: "workstation",
    _SOURCE_MONOTONIC_TIMESTAMP: String(clock.monotonicUs - 100),
    MESSAGE: message,
  };
}

async function realOomReport(): Promise<{ message: string; priority: number }[]> {
  const path = join(import.meta.dir, "..", "tests", "fixtures", "real", "oom-memcg-v1-kernel6.jsonl");
  const lines = (await Bun.file(path).text()).split("\n").filter(Boolean);
  const kernel = lines.map((l) => JSON.parse(l) as { [k: string]: string }).filter((r) => r["_TRANSPORT"] === "kernel");
  const start = kernel.findIndex((r) => (r["MESSAGE"] ?? "").includes("invoked oom-killer"));
  return kernel.slice(start).map((r) => ({ message: r["MESSAGE"] ?? "", priority: Number(r["PRIORITY"] ?? 6) }));
}

/** The tiered scenarios, each a function writing one or more records. */
function scenarios(oom: { message: string; priority: number }[]) {
  return {
    oom(clock: Clock, emit: (r: Record) => void, n: number) {
      const pid = String(20000 + (n % 40000));
      for (const line of oom) {
        clock.tick();
        emit(kernelRecord(clock, line.message.replaceAll("3546", pid), line.priority));
      }
    },
    segfault(clock: Clock, emit: (r: Record) => void, n: number) {
      clock.tick();
      emit(
        kernelRecord(
          clock,
          `vlc[${3000 + (n % 5000)}]: segfault at 0 ip 00007f7d17185ad8 sp 00007fffd7a39a08 error 4 in libavcodec.so.59[167ad8,7f7d17044000+156000] likely on CPU 1 (core 1, socket 0)`,
          6,
        ),
      );
      clock.tick();
      emit(
        kernelRecord(
          clock,
          "Code: e1 ff ff ff c3 66 2e 0f 1f 84 00 00 00 00 00 0f 1f 00 89 f8 62 a1 fd 00 ef c0 25 ff 0f 00 00 3d e0 0f 00 00 0f 87 38 01 00 00 <62> f3 7d 20 3f 07 00",
          6,
        ),
      );
    },
    unitFailure(clock: Clock, emit: (r: Record) => void, n: number) {
      const systemd = SERVICES[SERVICES.length - 1] as Service;
      const unit = `backup-${n % 13}.service`;
      clock.tick();
      emit(
        serviceRecord(
          clock,
          systemd,
          `${unit}: Main process exited, code=exited, status=1/FAILURE`,
          1,
          { MESSAGE_ID: "98e322203f7a4ed290d09fe03c09fe15", UNIT: unit, EXIT_CODE: "exited", EXIT_STATUS: "1" },
          6,
        ),
      );
      clock.tick();
      emit(
        serviceRecord(
          clock,
          systemd,
          `${unit}: Failed with result 'exit-code'.`,
          1,
          { MESSAGE_ID: "d9b373ed55a64feb8242e02dbe79a49c", UNIT: unit, UNIT_RESULT: "exit-code" },
          4,
        ),
      );
    },
    ioError(clock: Clock, emit: (r: Record) => void, n: number) {
      clock.tick();
      emit(kernelRecord(clock, `I/O error, dev sdc, sector ${123456 + n} op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0`, 3));
    },
    xid(clock: Clock, emit: (r: Record) => void, n: number) {
      clock.tick();
      emit(
        kernelRecord(
          clock,
          `NVRM: Xid (PCI:0000:01:00): 13, pid=${4000 + (n % 100)}, name=blender, Graphics Exception: ESR 0x404600=0x80000002`,
          3,
        ),
      );
    },
  };
}

export async function generateJournal(outPath: string, entries: number): Promise<{ entries: number; tiered: number; oomReports: number }> {
  const clock = new Clock();
  const oom = await realOomReport();
  const s = scenarios(oom);
  const writer = Bun.file(outPath).writer({ highWaterMark: 1 << 20 });
  let written = 0;
  let tiered = 0;
  let oomReports = 0;
  const emit = (r: Record) => {
    writer.write(`${JSON.stringify(r)}\n`);
    written++;
  };
  // Deterministic mix per 10,000 entries: 1 OOM report (~79 lines), 40 segfaults (2 lines),
  // 20 unit failures (2 lines), 10 I/O errors, 5 Xids; the rest benign.
  let n = 0;
  while (written < entries) {
    n++;
    const slot = n % 10_000;
    if (slot === 5000) {
      s.oom(clock, emit, n);
      tiered++;
      oomReports++;
    } else if (slot % 250 === 7) {
      s.segfault(clock, emit, n);
      tiered++;
    } else if (slot % 500 === 11) {
      s.unitFailure(clock, emit, n);
      tiered++;
    } else if (slot % 1000 === 13) {
      s.ioError(clock, emit, n);
      tiered++;
    } else if (slot % 2000 === 17) {
      s.xid(clock, emit, n);
      tiered++;
    } else if (slot % 9 === 0) {
      clock.tick();
      emit(kernelRecord(clock, KERNEL_BENIGN[n % KERNEL_BENIGN.length] as string, 6));
    } else {
      const svc = SERVICES[n % SERVICES.length] as Service;
      clock.tick();
      emit(serviceRecord(clock, svc, svc.messages[n % svc.messages.length] as string, 800 + (n % 300)));
    }
  }
  await writer.end();
  return { entries: written, tiered, oomReports };
}

if (import.meta.main) {
  const out = process.argv[2];
  if (!out) {
    console.error("usage: bun scripts/gen-journal.ts OUT.jsonl [ENTRIES]");
    process.exit(2);
  }
  const result = await generateJournal(out, Number(process.argv[3] ?? 1_000_000));
  console.log(JSON.stringify(result));
}
