import { join } from "node:path";
import type { Severity, Tier } from "../event.ts";
import { dataHome, resolveConfigPath, type EnvVars } from "./paths.ts";
import { parseHttpListen, type Config, type ConfigFile, type CustomRuleConfig, type Detectors, type Role } from "./schema.ts";
import type { NtfyPriority } from "../text/alert.ts";

// Defaults, and the role table that picks detectors per kind of machine (a desktop, a NAS, a
// server each start with the detectors that matter there). An
// explicit value in the file always wins; the role only sets starting points.

export interface RoleDefaults {
  detectors: Detectors;
  smartEnabled: boolean;
  /** Watch every timer: on a server or NAS, timers are the backups and the scrubs. */
  allTimers: boolean;
}

// Every pattern group is on for every role: RAID, ZFS, NFS/Samba, GPU and container lines only
// appear on machines that have them, and a desktop with md RAID or a server with a GPU would
// otherwise lose its events. Roles choose what is polled (SMART, timers); [detectors] still
// turns a group off.
const ALL_DETECTORS: Detectors = { gpu: true, raid: true, fileSharing: true, containers: true, coredumps: true, memoryPressure: true };

export const ROLE_DEFAULTS: Readonly<Record<Role, RoleDefaults>> = {
  desktop: {
    detectors: ALL_DETECTORS,
    smartEnabled: false,
    allTimers: false,
  },
  // A NAS gets SMART polling without any config.
  nas: {
    detectors: ALL_DETECTORS,
    smartEnabled: true,
    allTimers: true,
  },
  server: {
    detectors: ALL_DETECTORS,
    smartEnabled: false,
    allTimers: true,
  },
};

/** A custom rule's severity when it names none. */
export const DEFAULT_SEVERITY: Readonly<Record<Tier, Severity>> = {
  T1: "critical",
  T2: "high",
  T3: "medium",
  T4: "high",
  T5: "warning",
};

export const DEFAULT_PRIORITY_MAP: Readonly<Record<Severity, NtfyPriority>> = {
  critical: 5,
  high: 4,
  medium: 3,
  warning: 2,
};

export interface ResolveContext {
  env: EnvVars;
  hostname: string;
  /** The config file's name, for `~/` and relative paths and for messages. */
  file: string;
}

/** `$XDG_DATA_HOME/logtriage/events.db`, XDG_DATA_HOME defaulting to `~/.local/share`. */
export function defaultDbPath(env: EnvVars): string {
  return join(dataHome(env), "logtriage", "events.db");
}

/** The complete config: file values where given, else role defaults, else built-in ones. */
export function resolveConfig(file: ConfigFile, ctx: ResolveContext): Config {
  const role = file.instance?.role ?? "desktop";
  const roleDefaults = ROLE_DEFAULTS[role];
  const ntfy = file.ntfy ?? {};
  const am = file.alertmanager ?? {};
  const detectors = file.detectors ?? {};
  const rules = file.rules ?? {};
  return {
    instance: { id: file.instance?.id ?? ctx.hostname, role },
    ntfy: {
      url: ntfy.url ?? "",
      priorityMap: { ...DEFAULT_PRIORITY_MAP, ...definedOnly(ntfy.priority_map ?? {}) },
      // Unit failures, restart loops, failed or stale timers and probe outages are T3: a person
      // wants those on the phone; T4 only from high up (warnings, and T5, go to the digest).
      alertTiers: ntfy.alert_tiers ?? ["T1", "T2", "T3", "T4"],
      token: ntfy.token ?? null,
      tokenFile: ntfy.token_file === undefined ? null : resolveConfigPath(ntfy.token_file, ctx.file, ctx.env, "ntfy.token_file"),
      user: ntfy.user ?? null,
      password: ntfy.password ?? null,
      click: ntfy.click ?? null,
      timeoutMs: ntfy.timeout ?? 10_000,
      maxAgeMs: ntfy.max_age ?? 7 * 86_400_000,
      minSeverity: { T4: "high", ...definedOnly(ntfy.min_severity ?? {}) },
      onResolve: ntfy.on_resolve ?? "update",
      controlTopic: ntfy.control_topic ? ntfy.control_topic : null,
      updateIntervalMs: ntfy.update_interval ?? 60_000,
    },
    incidents: {
      ignoreUnits: file.incidents?.ignore_units ?? [],
      quietUnits: file.incidents?.quiet_units ?? [],
      ignorePrograms: file.incidents?.ignore_programs ?? [],
      quietPrograms: file.incidents?.quiet_programs ?? [],
      resolveUnitMs: file.incidents?.resolve_unit ?? 5 * 60_000,
      resolveProgramMs: file.incidents?.resolve_program ?? 24 * 3_600_000,
      resolveDiskMs: file.incidents?.resolve_disk ?? 24 * 3_600_000,
      resolveOtherMs: file.incidents?.resolve_other ?? 3_600_000,
    },
    digest: {
      enabled: file.digest?.enabled ?? true,
      schedule: file.digest?.schedule ?? "Sun 09:00",
      topic: file.digest?.topic ?? "",
    },
    cooldown: {
      windowMs: file.cooldown?.window ?? 5 * 60_000,
      aggregateThreshold: file.cooldown?.aggregate_threshold ?? 3,
    },
    psi: {
      enabled: file.psi?.enabled ?? true,
      pollIntervalMs: file.psi?.poll_interval ?? 5_000,
      warnSomeAvg10: file.psi?.warn_some_avg10 ?? 50,
      warnFullAvg10: file.psi?.warn_full_avg10 ?? 10,
    },
    smart: {
      enabled: file.smart?.enabled ?? roleDefaults.smartEnabled,
      pollIntervalMs: file.smart?.poll_interval ?? 3_600_000,
      devices: file.smart?.devices ?? [],
    },
    services: Object.fromEntries(
      Object.entries(file.services ?? {}).map(([name, s]) => [
        name,
        {
          healthUrl: s.health_url,
          unit: s.unit ?? null,
          intervalMs: s.interval ?? 30_000,
          timeoutMs: s.timeout ?? 5_000,
          expectStatus: s.expect_status ?? 200,
          failuresBeforeAlert: s.failures_before_alert ?? 2,
        },
      ]),
    ),
    http: {
      listen: file.http?.listen ? parseHttpListen(file.http.listen) : null,
      token: file.http?.token || null,
      allowUnauthenticatedLoopback: file.http?.allow_unauthenticated_loopback ?? false,
      publicUrl: file.http?.public_url ? file.http.public_url.replace(/\/+$/, "") : null,
    },
    metrics: { units: file.metrics?.units ?? [] },
    timers: {
      watch: file.timers?.watch ?? [],
      all: file.timers?.all ?? roleDefaults.allTimers,
      pollIntervalMs: file.timers?.poll_interval ?? 300_000,
    },
    sources: { use: file.sources?.use ?? "auto" },
    db: {
      path: file.db?.path === undefined ? defaultDbPath(ctx.env) : resolveConfigPath(file.db.path, ctx.file, ctx.env, "db.path"),
      retentionMs: file.db?.retention ?? 90 * 86_400_000,
    },
    log: { level: file.log?.level ?? "info" },
    redact: { enabled: file.redact?.enabled ?? true, patterns: file.redact?.patterns ?? [] },
    alertmanager: {
      urls: am.urls ?? [],
      bearerToken: am.bearer_token ?? null,
      bearerTokenFile:
        am.bearer_token_file === undefined
          ? null
          : resolveConfigPath(am.bearer_token_file, ctx.file, ctx.env, "alertmanager.bearer_token_file"),
      basicAuth: am.basic_auth ?? null,
      caFile: am.ca_file === undefined ? null : resolveConfigPath(am.ca_file, ctx.file, ctx.env, "alertmanager.ca_file"),
      insecureSkipVerify: am.insecure_skip_verify ?? false,
      timeoutMs: am.timeout ?? 10_000,
      resendIntervalMs: am.resend_interval ?? 60_000,
    },
    detectors: {
      gpu: detectors.gpu ?? roleDefaults.detectors.gpu,
      raid: detectors.raid ?? roleDefaults.detectors.raid,
      fileSharing: detectors.file_sharing ?? roleDefaults.detectors.fileSharing,
      containers: detectors.containers ?? roleDefaults.detectors.containers,
      coredumps: detectors.coredumps ?? roleDefaults.detectors.coredumps,
      memoryPressure: detectors.memory_pressure ?? roleDefaults.detectors.memoryPressure,
    },
    rules: {
      disable: rules.disable ?? [],
      custom: (rules.custom ?? []).map((rule): CustomRuleConfig => ({ ...rule, severity: rule.severity ?? DEFAULT_SEVERITY[rule.tier] })),
    },
  };
}

// valibot's output types optional keys as `key?: T | undefined`; drop the undefined ones
// so they do not overwrite defaults in a spread.
function definedOnly<T extends object>(table: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(table).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
