// A unit's exit in words. The journal gives EXIT_CODE (exited, killed, dumped) and EXIT_STATUS
// (the exit status, or the signal's number); systemd's own codes 200+ and the LSB codes 1-7
// are named as in systemd.exec(5) "Process Exit Codes" (systemd 252), the signals as on
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
  126: ["", "the command was found but could not be executed (shell convention)"],
  127: ["", "command not found (shell convention)"],
  200: ["CHDIR", "could not change to WorkingDirectory="],
  201: ["NICE", "could not set the Nice= level"],
  203: ["EXEC", "the executable could not be run: missing, not executable, or a bad #! interpreter"],
  204: ["MEMORY", "out of memory while setting up the process"],
  205: ["LIMITS", "could not apply a Limit*= resource limit"],
  206: ["OOM_ADJUST", "could not apply OOMScoreAdjust="],
  208: ["STDIN", "could not set up standard input"],
  209: ["STDOUT", "could not set up standard output"],
  210: ["CHROOT", "could not change root (RootDirectory=)"],
  214: ["SETSCHEDULER", "could not set the CPU scheduling policy"],
  216: ["GROUP", "Group= does not exist or could not be set"],
  217: ["USER", "User= does not exist or could not be switched to"],
  218: ["CAPABILITIES", "could not set the capabilities"],
  219: ["CGROUP", "could not set up the unit's control group"],
  220: ["SETSID", "could not create a new session"],
  222: ["STDERR", "could not set up standard error"],
  224: ["PAM", "the PAM session could not be set up"],
  225: ["NETWORK", "could not set up the network namespace (PrivateNetwork=)"],
  226: ["NAMESPACE", "could not set up the mount namespace (a missing path in ReadWritePaths=, ProtectSystem=, PrivateTmp=…)"],
  227: ["NO_NEW_PRIVILEGES", "could not disable new privileges"],
  228: ["SECCOMP", "could not apply the system call filter (SystemCallFilter=)"],
  231: ["APPARMOR", "could not apply the AppArmor profile"],
  233: ["RUNTIME_DIRECTORY", "could not create RuntimeDirectory="],
  235: ["CHOWN", "could not change the owner of a socket or directory"],
  238: ["STATE_DIRECTORY", "could not create StateDirectory="],
  239: ["CACHE_DIRECTORY", "could not create CacheDirectory="],
  240: ["LOGS_DIRECTORY", "could not create LogsDirectory="],
  241: ["CONFIGURATION_DIRECTORY", "could not create ConfigurationDirectory="],
  243: ["CREDENTIALS", "could not load a credential (LoadCredential=)"],
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
  if (n > 128 && n < 160 && SIGNALS[n - 128]) return `status=${n} — 128+${n - 128}: a shell reporting its child died of SIG${SIGNALS[n - 128]?.[0]}`;
  return `status=${n}`;
}
