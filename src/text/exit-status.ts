// A unit's exit in words. The journal gives EXIT_CODE (exited, killed, dumped) and EXIT_STATUS
// (the exit status, or the signal's number); systemd's own codes 200+, the LSB codes 1-7 and
// the BSD sysexits 64-78 are named as in systemd.exec(5) "Process Exit Codes" and
// src/shared/exit-status.c (systemd 252; 245/BPF from v254), the signals as on
// x86_64/arm64 Linux. Pure: used by the event's detail, so `show`, the alert and the digest say
// "the executable could not be run" rather than "status=203".

const EXIT_WORDS: Readonly<Record<number, [name: string, words: string]>> = {
  1: ["FAILURE", "a generic failure; the program's last log lines say why"],
  2: ["INVALIDARGUMENT", "invalid or excess arguments"],
  3: ["NOTIMPLEMENTED", "an unimplemented feature was asked for"],
  4: ["NOPERMISSION", "insufficient privileges"],
  5: ["NOTINSTALLED", "the program is not installed"],
  6: ["NOTCONFIGURED", "the program is not configured"],
  7: ["NOTRUNNING", "the program is not running"],
  64: ["USAGE", "command line usage error (sysexits EX_USAGE)"],
  65: ["DATAERR", "data format error (EX_DATAERR)"],
  66: ["NOINPUT", "cannot open input (EX_NOINPUT)"],
  67: ["NOUSER", "addressee unknown (EX_NOUSER)"],
  68: ["NOHOST", "host name unknown (EX_NOHOST)"],
  69: ["UNAVAILABLE", "service unavailable (EX_UNAVAILABLE)"],
  70: ["SOFTWARE", "internal software error (EX_SOFTWARE)"],
  71: ["OSERR", "system error, e.g. cannot fork (EX_OSERR)"],
  72: ["OSFILE", "critical OS file missing (EX_OSFILE)"],
  73: ["CANTCREAT", "cannot create an output file (EX_CANTCREAT)"],
  74: ["IOERR", "input/output error (EX_IOERR)"],
  75: ["TEMPFAIL", "temporary failure, retry later (EX_TEMPFAIL)"],
  76: ["PROTOCOL", "remote error in protocol (EX_PROTOCOL)"],
  77: ["NOPERM", "permission denied (EX_NOPERM)"],
  78: ["CONFIG", "configuration error (EX_CONFIG)"],
  126: ["", "the command was found but could not be executed (shell convention)"],
  127: ["", "command not found (shell convention)"],
  200: ["CHDIR", "could not change to WorkingDirectory="],
  201: ["NICE", "could not set the Nice= level"],
  202: ["FDS", "could not close or pass on file descriptors"],
  203: ["EXEC", "the executable could not be run: missing, not executable, or a bad #! interpreter"],
  204: ["MEMORY", "out of memory while setting up the process"],
  205: ["LIMITS", "could not apply a Limit*= resource limit"],
  206: ["OOM_ADJUST", "could not apply OOMScoreAdjust="],
  207: ["SIGNAL_MASK", "could not set the signal mask"],
  208: ["STDIN", "could not set up standard input"],
  209: ["STDOUT", "could not set up standard output"],
  210: ["CHROOT", "could not change root (RootDirectory=)"],
  211: ["IOPRIO", "could not set the IO priority (IOSchedulingClass=)"],
  212: ["TIMERSLACK", "could not set TimerSlackNSec="],
  213: ["SECUREBITS", "could not set SecureBits="],
  214: ["SETSCHEDULER", "could not set the CPU scheduling policy"],
  215: ["CPUAFFINITY", "could not set CPUAffinity="],
  216: ["GROUP", "Group= does not exist or could not be set"],
  217: ["USER", "User= does not exist or could not be switched to"],
  218: ["CAPABILITIES", "could not set the capabilities"],
  219: ["CGROUP", "could not set up the unit's control group"],
  220: ["SETSID", "could not create a new session"],
  221: ["CONFIRM", "execution was cancelled at the confirmation prompt (confirm_spawn)"],
  222: ["STDERR", "could not set up standard error"],
  224: ["PAM", "the PAM session could not be set up"],
  225: ["NETWORK", "could not set up the network namespace (PrivateNetwork=)"],
  226: ["NAMESPACE", "could not set up the mount namespace (a missing path in ReadWritePaths=, ProtectSystem=, PrivateTmp=…)"],
  227: ["NO_NEW_PRIVILEGES", "could not disable new privileges"],
  228: ["SECCOMP", "could not apply the system call filter (SystemCallFilter=)"],
  229: ["SELINUX_CONTEXT", "could not set the SELinux context (SELinuxContext=)"],
  230: ["PERSONALITY", "could not set the execution domain (Personality=)"],
  231: ["APPARMOR", "could not apply the AppArmor profile"],
  232: ["ADDRESS_FAMILIES", "could not apply RestrictAddressFamilies="],
  233: ["RUNTIME_DIRECTORY", "could not create RuntimeDirectory="],
  235: ["CHOWN", "could not change the owner of a socket or directory"],
  236: ["SMACK_PROCESS_LABEL", "could not set the SMACK label (SmackProcessLabel=)"],
  237: ["KEYRING", "could not set up the kernel keyring"],
  238: ["STATE_DIRECTORY", "could not create StateDirectory="],
  239: ["CACHE_DIRECTORY", "could not create CacheDirectory="],
  240: ["LOGS_DIRECTORY", "could not create LogsDirectory="],
  241: ["CONFIGURATION_DIRECTORY", "could not create ConfigurationDirectory="],
  242: ["NUMA_POLICY", "could not set the NUMA policy (NUMAPolicy=)"],
  243: ["CREDENTIALS", "could not load a credential (LoadCredential=)"],
  245: ["BPF", "could not load the BPF programs (BPFProgram=, socket filters)"],
  255: ["EXCEPTION", "exited with 255: a propagated signal or an error with no better code"],
};

const SIGNALS: Readonly<Record<number, [name: string, words: string]>> = {
  1: ["HUP", "hang-up"],
  2: ["INT", "interrupted"],
  3: ["QUIT", "quit"],
  4: ["ILL", "an illegal instruction"],
  5: ["TRAP", "a breakpoint or trace trap"],
  6: ["ABRT", "aborted (abort(), often a failed assertion)"],
  7: ["BUS", "a bus error (bad memory access, e.g. a truncated mapped file)"],
  8: ["FPE", "an arithmetic error (e.g. division by zero)"],
  9: ["KILL", "killed with SIGKILL: by the OOM killer, a stop timeout, or a kill -9"],
  11: ["SEGV", "a segmentation fault (invalid memory access)"],
  13: ["PIPE", "a write to a closed pipe"],
  14: ["ALRM", "an alarm timer"],
  15: ["TERM", "asked to terminate"],
  24: ["XCPU", "the CPU time limit"],
  25: ["XFSZ", "the file size limit"],
  31: ["SYS", "a forbidden system call (seccomp)"],
};

function signalEntry(status: string): [name: string, words: string] | undefined {
  const n = Number(status);
  return Number.isInteger(n) ? SIGNALS[n] : Object.values(SIGNALS).find(([name]) => name === status.replace(/^SIG/, ""));
}

/** "SIGSEGV" for a signal given as its number ("11") or name ("SEGV", "SIGSEGV"); null when unknown. */
export function signalName(status: string): string | null {
  const entry = signalEntry(status);
  return entry ? `SIG${entry[0]}` : null;
}

/**
 * "status=203/EXEC — the executable could not be run: …", "signal SEGV — a segmentation fault
 * (…), core dumped"; null when there is nothing to explain. Status may be a number or, on
 * some journals, already a name ("SEGV").
 */
export function explainExit(code: string | null, status: string | null): string | null {
  if (status === null) return null;
  const n = Number(status);
  if (code === "killed" || code === "dumped") {
    const entry = signalEntry(status);
    const name = entry ? `SIG${entry[0]}` : Number.isInteger(n) ? `signal ${n}` : status;
    const dumped = code === "dumped" ? ", core dumped" : "";
    return entry ? `${name} — ${entry[1]}${dumped}` : `${name}${dumped}`;
  }
  if (!Number.isInteger(n)) return null;
  if (n === 0) return "status=0 — success";
  const entry = EXIT_WORDS[n];
  if (entry) return `status=${n}${entry[0] ? `/${entry[0]}` : ""} — ${entry[1]}`;
  if (n > 128 && n < 160 && SIGNALS[n - 128])
    return `status=${n} — 128+${n - 128}: a shell reporting its child died of SIG${SIGNALS[n - 128]?.[0]}`;
  return `status=${n}`;
}
