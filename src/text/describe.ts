import type { BlindnessFacts, Candidate, Facts, OomReport, PressureFacts, ProbeFacts } from "../event.ts";
import { formatElapsed, formatKb } from "./format.ts";
import { explainExit } from "./exit-status.ts";
import { describeExitStatus, describeSmartSummary, nameDisk } from "../parse/smartctl.ts";
import { victimRssKb } from "../parse/oom-report.ts";

// Event → human text. The same words go to `logtriage show`, the DB's detail column and
// (with the daemon) the ntfy body, so a phone alert and the terminal never disagree.

function constraintWords(c: string | null): string {
  switch (c) {
    case "CONSTRAINT_MEMCG":
      return "memory cgroup limit";
    case "CONSTRAINT_NONE":
      return "system-wide (all RAM in use)";
    case "CONSTRAINT_CPUSET":
      return "cpuset's memory nodes";
    case "CONSTRAINT_MEMORY_POLICY":
      return "memory policy (mbind/NUMA)";
    default:
      return "unknown";
  }
}

function describeOom(oom: OomReport): string[] {
  const lines: string[] = [];
  const v = oom.victim;
  if (v) {
    const rss = victimRssKb(v);
    lines.push(`${v.name} (pid ${v.pid}${v.uid === null ? "" : `, uid ${v.uid}`}) was killed by the kernel OOM killer.`);
    lines.push(
      `RSS at kill: ${formatKb(rss)} (anon ${formatKb(v.anonRssKb)}, file ${formatKb(v.fileRssKb)}, shmem ${formatKb(v.shmemRssKb)})${v.oomScoreAdj === null ? "" : `, oom_score_adj ${v.oomScoreAdj}`}`,
    );
  } else {
    lines.push("The OOM killer was invoked but the report was cut off before it named a victim.");
  }
  if (oom.trigger) {
    lines.push(
      `Triggered by: ${oom.trigger.name}${oom.trigger.pid === null ? "" : ` (pid ${oom.trigger.pid})`} allocating${oom.trigger.gfpMask ? ` ${oom.trigger.gfpMask}` : ""}${oom.trigger.order === null ? "" : ` order ${oom.trigger.order}`}`,
    );
  }
  lines.push(`Constraint: ${constraintWords(oom.constraint)}`);
  if (oom.constraint === "CONSTRAINT_MEMCG") {
    lines.push(
      `cgroup ${oom.memcg ?? "?"} hit its own limit${oom.memcgLimitKb === null ? "" : ` of ${formatKb(oom.memcgLimitKb)} (usage ${formatKb(oom.memcgUsageKb)})`} — not a system-wide shortage.`,
    );
  }
  if (oom.taskMemcg && oom.taskMemcg !== oom.memcg) lines.push(`Victim's cgroup: ${oom.taskMemcg}`);
  if (oom.memTotalKb !== null) lines.push(`Memory: ${formatKb(oom.memTotalKb)} total, ${formatKb(oom.memFreeKb)} free at the time`);
  if (oom.topTasks.length) {
    lines.push("", "Top tasks by RSS at the time of the kill:");
    oom.topTasks.forEach((t, i) => {
      const killed = v && t.pid === v.pid ? " (killed)" : "";
      lines.push(`  ${i + 1}. ${t.name.padEnd(16)} ${formatKb(t.rssKb).padStart(9)}  pid ${t.pid}${killed}`);
    });
  }
  return lines;
}

function describeFacts(facts: Facts): string[] {
  switch (facts.kind) {
    case "oom-kill":
      return describeOom(facts.oom);
    case "userspace-oom-kill":
      return [
        `${facts.killer} killed ${facts.victim ?? "a process"}${facts.pid === null ? "" : ` (pid ${facts.pid})`}${facts.cgroup ? ` in ${facts.cgroup}` : ""}.`,
      ];
    case "crash": {
      const c = facts.crash;
      const lines = [`${c.process}${c.pid === null ? "" : ` (pid ${c.pid})`} crashed: ${c.fault}${c.object ? ` in ${c.object}` : ""}.`];
      if (c.address) lines.push(`Faulting address: 0x${c.address}`);
      if (c.ip) lines.push(`Instruction pointer: 0x${c.ip}`);
      if (c.code) lines.push(`Code: ${c.code}`);
      return lines;
    }
    case "unit": {
      const lines = [`${facts.unit} failed${facts.result ? ` with result '${facts.result}'` : ""}.`];
      if (facts.exitCode || facts.exitStatus) {
        const words = explainExit(facts.exitCode, facts.exitStatus);
        lines.push(
          words
            ? `Main process ${facts.exitCode ?? "ended"}: ${words}`
            : `Main process: code=${facts.exitCode ?? "?"}, status=${facts.exitStatus ?? "?"}`,
        );
      }
      return lines;
    }
    case "kernel":
      return facts.device ? [`Device: ${facts.device}`] : [];
    case "probe":
      return describeProbe(facts.probe);
    case "memory-pressure":
      return describePressure(facts.pressure);
    case "smart": {
      const lines = [
        `Disk ${nameDisk(facts.disk)}, ${facts.disk.protocol}:`,
        ...facts.changes.map((c) => `  ${c}`),
        `Now: ${describeSmartSummary(facts.disk)}`,
      ];
      const bits = describeExitStatus(facts.disk.exitStatus & ~0b11);
      if (bits.length) lines.push(`smartctl says: ${bits.join("; ")}`);
      return lines;
    }
    case "blindness":
      return describeBlindness(facts.blindness);
    case "previous-boot": {
      const b = facts.boot;
      const lines = [`The previous boot (${b.bootId}) ended without a shutdown.`];
      for (const p of b.pstore) lines.push(`Kept by pstore: ${p.headline ?? p.kind} (${p.path})`);
      if (b.lastEvents.length) lines.push("Last events before the end:", ...b.lastEvents.map((e) => `  ${e}`));
      if (b.lastLines.length) lines.push("Last lines in its journal:", ...b.lastLines.map((l) => `  ${l}`));
      return lines;
    }
    case "plain":
      return [];
  }
}

function describeBlindness(b: BlindnessFacts): string[] {
  const lines = [`${b.state === "sees-again" ? "Was blind because" : "Cause"}: ${b.cause}`];
  if (b.blindForMs !== null) lines.push(`Blind for ${formatElapsed(Math.max(1000, b.blindForMs))}.`);
  if (b.reread) lines.push(b.state === "lost-records" ? `Lost: ${b.reread}` : `Read again: ${b.reread}`);
  if (b.fix) lines.push(`Fix: ${b.fix}`);
  return lines;
}

function describePressure(p: PressureFacts): string[] {
  const lasted = formatElapsed(Math.max(1000, Math.round((p.endUs - p.startUs) / 1000)));
  const lines = [
    `Memory pressure ${p.ended ? "lasted" : "had lasted"} ${lasted}${p.ended ? "" : " and was still going when logtriage stopped"} (${p.readings} readings).`,
    `Peak PSI: some avg10 ${p.peakSomeAvg10.toFixed(1)}%${p.peakFullAvg10 === null ? "" : `, full avg10 ${p.peakFullAvg10.toFixed(1)}%`} (warning at some ${p.warnSomeAvg10}% / full ${p.warnFullAvg10}%).`,
  ];
  if (p.lowestMemAvailableKb !== null)
    lines.push(`Lowest MemAvailable: ${formatKb(p.lowestMemAvailableKb)}${p.memTotalKb ? ` of ${formatKb(p.memTotalKb)}` : ""}.`);
  if (p.highestSwapUsedKb) lines.push(`Swap in use at most: ${formatKb(p.highestSwapUsedKb)}.`);
  if (p.topAtPeak.length) {
    lines.push("Largest processes at the peak:");
    p.topAtPeak.forEach((t, i) => lines.push(`  ${i + 1}. ${t.comm} (pid ${t.pid}${t.owner ? `, ${t.owner}` : ""})  ${formatKb(t.rssKb)}`));
  }
  return lines;
}

function describeProbe(p: ProbeFacts): string[] {
  if (p.state === "healthy") {
    const lines = [`${p.service} answers again (${p.check}) at ${p.healthUrl}.`];
    if (p.downForMs !== null) lines.push(`Unhealthy for ${formatElapsed(p.downForMs)}.`);
    if (p.snapshotPath) lines.push(`Failure snapshot of the outage: ${p.snapshotPath}`);
    return lines;
  }
  const lines = [
    `${p.service} failed ${p.failedChecks} health check${p.failedChecks === 1 ? "" : "s"} in a row: ${p.check} at ${p.healthUrl}.`,
    `System: ${p.systemSummary}`,
  ];
  lines.push(p.snapshotPath ? `Failure snapshot: ${p.snapshotPath}` : `No failure snapshot: ${p.snapshotProblem ?? "not written"}`);
  return lines;
}

/** The multi-line detail stored with an event. */
export function describeCandidate(c: Candidate): string {
  return describeFacts(c.facts).join("\n");
}
