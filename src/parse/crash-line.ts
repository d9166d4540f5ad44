import type { CrashInfo } from "../event.ts";

// The kernel's one-line reports of a user process killed by a fault (x86 show_signal_msg /
// do_trap / show_unhandled_signals), each normally followed by a "Code: …" line:
//   6.x: python3[4215]: segfault at 0 ip 00007f7d17185ad8 sp 00007fffd7a39a08 error 4 in libc.so.6[167ad8,7f7d17044000+156000] likely on CPU 1 (core 1, socket 0)
//   5.x: python3[4215]: segfault at 0 ip 00007f7d17185ad8 sp 00007fffd7a39a08 error 4 in libc-2.31.so[7f7d17044000+1bc000]
//   traps: a.out[1234] trap divide error ip:401136 sp:7ffc8c0f0e40 error:0 in a.out[401000+1000]
//   traps: python3[1234] general protection fault ip:7f… sp:7ffe… error:0 in libfoo.so[7f…+2000]
// The comm is at most 15 characters (TASK_COMM_LEN) and may contain spaces or brackets.

const SEGFAULT = /^(.+)\[(\d+)\]: segfault at ([0-9a-f]+) ip ([0-9a-f]+) sp ([0-9a-f]+) error (\d+)(?: in ([^[\s]+)\[)?/;
const TRAP = /^traps: (.+)\[(\d+)\] (?:trap )?(.+?) ip:([0-9a-f]+) sp:([0-9a-f]+) error:([0-9a-f]+)(?: in ([^[\s]+)\[)?/;
const CODE_LINE = /^Code: (.*)$/;

export function parseCrashLine(message: string): CrashInfo | null {
  let m = SEGFAULT.exec(message);
  if (m) {
    return {
      process: m[1] as string,
      pid: Number(m[2]),
      fault: "segfault",
      object: m[7] ?? null,
      address: m[3] as string,
      ip: m[4] as string,
      code: null,
    };
  }
  m = TRAP.exec(message);
  if (m) {
    return {
      process: m[1] as string,
      pid: Number(m[2]),
      fault: m[3] as string,
      object: m[7] ?? null,
      address: null,
      ip: m[4] as string,
      code: null,
    };
  }
  return null;
}

/** The bytes of a "Code: 0f 1f 44 00 00 <0f> 0b …" line, or null. */
export function parseCodeLine(message: string): string | null {
  const m = CODE_LINE.exec(message);
  return m ? (m[1] as string) : null;
}
