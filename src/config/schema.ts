import * as v from "valibot";
import { LOG_LEVELS, type LogLevel } from "../log.ts";
import { SEVERITIES, TIERS, type Severity, type Tier } from "../event.ts";
import type { CustomRule } from "../classify/classifier.ts";
import { parseDuration } from "./duration.ts";
import { formatDuration } from "../text/format.ts";
import type { NtfyPriority } from "../text/alert.ts";
import { parseNtfyUrl } from "../parse/ntfy-url.ts";

// Two shapes. `ConfigFileSchema` is the TOML file as users write it: snake_case, every key
// optional, values checked and durations already in milliseconds. `Config` is what the
// program reads: camelCase, complete, with defaults and the role table applied
// (defaults.ts). Messages use the file's words, since that is what the user has to fix.

export const ROLES = ["desktop", "nas", "server"] as const;
export type Role = (typeof ROLES)[number];

/** Which kernel/system log the daemon reads: "auto" picks the journal when journald runs and is readable, else /dev/kmsg. */
export const SOURCE_CHOICES = ["auto", "journal", "kmsg"] as const;
export type SourceChoice = (typeof SOURCE_CHOICES)[number];

/** ntfy's priority names, in the order of its numbers 1..5 (docs.ntfy.sh/publish/#message-priority). */
export const NTFY_PRIORITY_NAMES = ["min", "low", "default", "high", "urgent"] as const;

export interface Detectors {
  gpu: boolean;
  raid: boolean;
  fileSharing: boolean;
  containers: boolean;
  coredumps: boolean;
  memoryPressure: boolean;
}

export interface ServiceProbeConfig {
  healthUrl: string;
  /** The systemd unit behind it: its journal goes into the failure snapshot. */
  unit: string | null;
  intervalMs: number;
  timeoutMs: number;
  expectStatus: number;
  failuresBeforeAlert: number;
}

/** A user rule from `[[rules.custom]]`: exactly what the classifier runs. */
export type CustomRuleConfig = CustomRule;

export interface Config {
  instance: { id: string; role: Role };
  ntfy: {
    /** "" when notifications are off. */
    url: string;
    priorityMap: Record<Severity, NtfyPriority>;
    alertTiers: Tier[];
    token: string | null;
    /** Absolute, `~/` expanded. */
    tokenFile: string | null;
    user: string | null;
    password: string | null;
    click: string | null;
    timeoutMs: number;
    /** An alert unsent this long is dropped, counted and shown. */
    maxAgeMs: number;
    /** Per tier, the least severity that alerts (a tier in alertTiers without one alerts at any severity). */
    minSeverity: Partial<Record<Tier, Severity>>;
    onResolve: OnResolve;
    /** The topic the phone's "Mute" button publishes signed messages to; null: no control topic, no mute button. */
    controlTopic: string | null;
    /** Least time between two updates of one incident's notification, unless its severity rises. */
    updateIntervalMs: number;
  };
  /** Incidents: what is never an event (ignore), what is stored but never alerted (quiet), when a quiet incident is over. */
  incidents: {
    ignoreUnits: string[];
    quietUnits: string[];
    ignorePrograms: string[];
    quietPrograms: string[];
    resolveUnitMs: number;
    resolveProgramMs: number;
    resolveDiskMs: number;
    resolveOtherMs: number;
  };
  digest: { enabled: boolean; schedule: string; topic: string };
  cooldown: { windowMs: number; aggregateThreshold: number };
  psi: { enabled: boolean; pollIntervalMs: number; warnSomeAvg10: number; warnFullAvg10: number };
  /** `devices` empty: every disk `smartctl --scan-open` finds. */
  smart: { enabled: boolean; pollIntervalMs: number; devices: string[] };
  /** `[services.NAME]`: HTTP health probes, by name. */
  services: Record<string, ServiceProbeConfig>;
  /** The local HTTP API and /metrics; `listen` null when off. */
  http: {
    listen: HttpListen | null;
    token: string | null;
    allowUnauthenticatedLoopback: boolean;
    /** Where a phone reaches this API (a reverse proxy, a VPN address): alerts then carry a "Details" button. Null: none. */
    publicUrl: string | null;
  };
  /** systemd units exported in /metrics (an allowlist: each costs a query per scrape). */
  metrics: { units: string[] };
  /** Timers to watch (`watch`), or every timer on the system and user managers (`all`). */
  timers: { watch: string[]; all: boolean; pollIntervalMs: number };
  sources: { use: SourceChoice };
  /** `path` is absolute, `~/` expanded. */
  db: { path: string; retentionMs: number };
  log: { level: LogLevel };
  /** The secret-redaction pass over what leaves the machine (alerts, the HTTP API). */
  redact: { enabled: boolean; patterns: string[] };
  /** Prometheus Alertmanager(s) fed with incidents; `urls` empty when off. */
  alertmanager: {
    urls: string[];
    bearerToken: string | null;
    /** Absolute, `~/` expanded. */
    bearerTokenFile: string | null;
    basicAuth: { user: string; password: string } | null;
    /** Absolute, `~/` expanded. */
    caFile: string | null;
    insecureSkipVerify: boolean;
    timeoutMs: number;
    /** How often an open incident's alert is posted again (Alertmanager forgets alerts not refreshed within its resolve_timeout, 5 m by default). */
    resendIntervalMs: number;
  };
  detectors: Detectors;
  rules: { disable: string[]; custom: CustomRuleConfig[] };
}

/** How a value is shown after "got": strings quoted as typed, tables and arrays by kind. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value === undefined || value === null) return "nothing";
  if (value instanceof Date) return "a date";
  if (Array.isArray(value)) return "an array";
  return "a table";
}

/** A valibot message: `expected <what>, got <value>`. */
function expected(what: string): (issue: v.BaseIssue<unknown>) => string {
  return (issue) => `expected ${what}, got ${describeValue(issue.input)}`;
}

function oneOf(values: readonly (string | number)[]): string {
  return `one of ${values.join(", ")}`;
}

const TABLE = expected("a table");

const text = (what = "a string") => v.string(expected(what));
const flag = () => v.boolean(expected("true or false"));

/** A duration string, turned into milliseconds. */
function duration(minMs: number) {
  const what = `a duration like "5m", "1h" or "90d"${minMs > 1 ? ` (at least ${formatDuration(minMs)})` : ""}`;
  return v.pipe(
    v.string(expected(what)),
    v.rawTransform<string, number>(({ dataset, addIssue, NEVER }) => {
      const ms = parseDuration(dataset.value);
      if (ms === null || ms < minMs) {
        addIssue({ message: expected(what) });
        return NEVER;
      }
      return ms;
    }),
  );
}

function percent() {
  const message = expected("a number between 0 and 100");
  return v.pipe(v.number(message), v.minValue(0, message), v.maxValue(100, message));
}

/** The topic is the URL's last path segment (1–64 letters, digits, "_", "-"), as ntfy takes it. */
const PUBLIC_URL_EXPECTED = `the URL a phone reaches this API at, like "https://box.example.net:8485", or "" for none`;
const NTFY_URL_EXPECTED = `an ntfy topic URL like "https://ntfy.sh/my-topic", or "" for no notifications`;

const PRIORITY_EXPECTED = `${oneOf(NTFY_PRIORITY_NAMES)} or a number 1 to 5`;

/** A priority name or number, as its ntfy number. */
export function ntfyPriority(value: unknown): NtfyPriority | null {
  if (typeof value === "number") return Number.isInteger(value) && value >= 1 && value <= 5 ? (value as NtfyPriority) : null;
  if (typeof value !== "string") return null;
  const index = (NTFY_PRIORITY_NAMES as readonly string[]).indexOf(value);
  return index < 0 ? null : ((index + 1) as NtfyPriority);
}

const priority = () =>
  v.pipe(
    v.custom<string | number>((value) => ntfyPriority(value) !== null, expected(PRIORITY_EXPECTED)),
    v.transform((value) => ntfyPriority(value) as NtfyPriority),
  );

const tier = () => v.picklist(TIERS, expected(oneOf(TIERS)));

const severity = () => v.picklist(SEVERITIES, expected(oneOf(SEVERITIES)));

const unitList = () =>
  v.array(
    v.pipe(text("a unit name"), v.regex(/^[\w@:.\\*-]+\.[a-z]+$/, expected(`a unit name like "backup.service"`))),
    expected(`an array of unit names like ["backup.service"]`),
  );

const programList = () =>
  v.array(v.pipe(text("a program name"), v.minLength(1, expected("a program name"))), expected(`an array of program names like ["steam"]`));

const NTFY_TOPIC_NAME = /^[-_A-Za-z0-9]{1,64}$/;
const CONTROL_TOPIC_EXPECTED = `a topic name (1 to 64 letters, digits, "_" or "-") on the [ntfy] url's server, or "" for none`;

/** What happens to an incident's notification when it resolves. */
export const ON_RESOLVE = ["update", "clear", "none"] as const;
export type OnResolve = (typeof ON_RESOLVE)[number];

export const RULE_NAME = /^[a-z0-9][a-z0-9-]*$/;

const SERVICE_NAME = /^[A-Za-z0-9_-]+$/;

const LISTEN_EXPECTED = `an address like "127.0.0.1:9876" or "[::1]:9876", a Unix socket like "unix:/run/user/1000/logtriage.sock", or "" for off`;

/** Where the API listens: a TCP address, or a Unix socket whose file mode (0600) is its access control. */
export type HttpListen = { host: string; port: number } | { unix: string };

/** "host:port" / "[v6]:port" / "unix:/absolute/path" → its parts; null when it is none of these. */
export function parseHttpListen(value: string): HttpListen | null {
  if (value.startsWith("unix:")) {
    const path = value.slice(5);
    // 107 bytes: sun_path's size on Linux (108) less its terminating NUL (unix(7)).
    return path.startsWith("/") && Buffer.byteLength(path) <= 107 && !path.includes("\0") ? { unix: path } : null;
  }
  return parseListen(value);
}

/** "host:port" / "[v6]:port" → its parts; null when it is not one. */
export function parseListen(value: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(value);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: (m[1] ?? m[2]) as string, port };
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The error from compiling a custom rule's pattern, or null when it compiles. */
export function regexError(pattern: string): string | null {
  try {
    new RegExp(pattern);
    return null;
  } catch (error) {
    // Engines prefix their own "Invalid regular expression: /src/:"; the caller names both.
    const message = error instanceof Error ? error.message : String(error);
    return message.replace(/^Invalid regular expression:\s*(?:\/.*\/[a-z]*:\s*)?/, "");
  }
}

const CustomRuleSchema = v.pipe(
  v.strictObject(
    {
      name: v.pipe(text(), v.regex(RULE_NAME, expected(`a rule name of lowercase letters, digits and "-" like "my-rule"`))),
      tier: tier(),
      severity: v.optional(v.picklist(SEVERITIES, expected(oneOf(SEVERITIES)))),
      pattern: text("a regular expression (string)"),
      identifier: v.optional(text()),
      transport: v.optional(text()),
      unit: v.optional(text()),
      summary: v.optional(text("a string template")),
    },
    TABLE,
  ),
  // Checked on the whole rule so the message can name it; a pattern that does not compile
  // would otherwise only fail when the classifier starts.
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const rule = dataset.value;
    const error = regexError(rule.pattern);
    if (error === null) return;
    addIssue({
      message: `rule "${rule.name}": invalid regular expression ${JSON.stringify(rule.pattern)}: ${error}`,
      path: [{ type: "object", origin: "value", input: rule, key: "pattern", value: rule.pattern }],
    });
  }),
);

/** The config file as written. Table schemas are strict: unknown keys are mistakes. */
export const ConfigFileSchema = v.strictObject(
  {
    instance: v.optional(
      v.strictObject(
        {
          // It prefixes every alert title and terminal line: printable characters only, so it
          // cannot carry an escape sequence or a bidi override into them.
          id: v.optional(
            v.pipe(
              text("a non-empty string"),
              v.minLength(1, expected("a non-empty string")),
              v.check(
                (s) => !/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(s),
                expected("printable characters only (no control characters or escape sequences)"),
              ),
            ),
          ),
          role: v.optional(v.picklist(ROLES, expected(oneOf(ROLES)))),
        },
        TABLE,
      ),
    ),
    ntfy: v.optional(
      v.strictObject(
        {
          url: v.optional(
            v.pipe(
              text(NTFY_URL_EXPECTED),
              v.check((s) => s === "" || parseNtfyUrl(s) !== null, expected(NTFY_URL_EXPECTED)),
            ),
          ),
          priority_map: v.optional(
            v.strictObject(
              {
                critical: v.optional(priority()),
                high: v.optional(priority()),
                medium: v.optional(priority()),
                warning: v.optional(priority()),
              },
              TABLE,
            ),
          ),
          alert_tiers: v.optional(v.array(tier(), expected(`an array of tiers like ["T1", "T2"]`))),
          token: v.optional(text()),
          token_file: v.optional(text("a file path")),
          user: v.optional(text()),
          password: v.optional(text()),
          click: v.optional(
            v.pipe(
              text("a URL"),
              v.check((s) => URL.canParse(s), expected("a URL")),
            ),
          ),
          timeout: v.optional(duration(1)),
          max_age: v.optional(duration(60_000)),
          min_severity: v.optional(
            v.strictObject(
              {
                T1: v.optional(severity()),
                T2: v.optional(severity()),
                T3: v.optional(severity()),
                T4: v.optional(severity()),
                T5: v.optional(severity()),
              },
              TABLE,
            ),
          ),
          on_resolve: v.optional(v.picklist(ON_RESOLVE, expected(oneOf(ON_RESOLVE)))),
          control_topic: v.optional(
            v.pipe(
              text(CONTROL_TOPIC_EXPECTED),
              v.check((s) => s === "" || NTFY_TOPIC_NAME.test(s), expected(CONTROL_TOPIC_EXPECTED)),
            ),
          ),
          update_interval: v.optional(duration(0)),
        },
        TABLE,
      ),
    ),
    incidents: v.optional(
      v.strictObject(
        {
          ignore_units: v.optional(unitList()),
          quiet_units: v.optional(unitList()),
          ignore_programs: v.optional(programList()),
          quiet_programs: v.optional(programList()),
          resolve_unit: v.optional(duration(1_000)),
          resolve_program: v.optional(duration(1_000)),
          resolve_disk: v.optional(duration(1_000)),
          resolve_other: v.optional(duration(1_000)),
        },
        TABLE,
      ),
    ),
    digest: v.optional(
      v.strictObject(
        {
          enabled: v.optional(flag()),
          schedule: v.optional(v.pipe(text(`a schedule like "Sun 09:00"`), v.minLength(1, expected(`a schedule like "Sun 09:00"`)))),
          topic: v.optional(text()),
        },
        TABLE,
      ),
    ),
    cooldown: v.optional(
      v.strictObject(
        {
          window: v.optional(duration(0)),
          aggregate_threshold: v.optional(
            v.pipe(
              v.number(expected("a whole number of at least 1")),
              v.integer(expected("a whole number of at least 1")),
              v.minValue(1, expected("a whole number of at least 1")),
            ),
          ),
        },
        TABLE,
      ),
    ),
    psi: v.optional(
      v.strictObject(
        {
          enabled: v.optional(flag()),
          poll_interval: v.optional(duration(100)),
          warn_some_avg10: v.optional(percent()),
          warn_full_avg10: v.optional(percent()),
        },
        TABLE,
      ),
    ),
    sources: v.optional(v.strictObject({ use: v.optional(v.picklist(SOURCE_CHOICES, expected(oneOf(SOURCE_CHOICES)))) }, TABLE)),
    smart: v.optional(
      v.strictObject(
        {
          enabled: v.optional(flag()),
          poll_interval: v.optional(duration(1_000)),
          devices: v.optional(v.array(text("a device path"), expected(`an array of device paths like ["/dev/sda"]`))),
        },
        TABLE,
      ),
    ),
    services: v.optional(
      v.record(
        v.pipe(text(), v.regex(SERVICE_NAME, expected(`a service name of letters, digits, "_" and "-" like "nextcloud"`))),
        v.strictObject(
          {
            health_url: v.pipe(
              text(`an http:// or https:// URL`),
              v.check((s) => /^https?:\/\//.test(s) && URL.canParse(s), expected(`an http:// or https:// URL`)),
            ),
            unit: v.optional(
              v.pipe(text("a unit name"), v.regex(/^[\w@:.\\-]+\.[a-z]+$/, expected(`a unit name like "nextcloud.service"`))),
            ),
            interval: v.optional(duration(1_000)),
            timeout: v.optional(duration(100)),
            expect_status: v.optional(
              v.pipe(
                v.number(expected("an HTTP status 100 to 599")),
                v.integer(expected("an HTTP status 100 to 599")),
                v.minValue(100, expected("an HTTP status 100 to 599")),
                v.maxValue(599, expected("an HTTP status 100 to 599")),
              ),
            ),
            failures_before_alert: v.optional(
              v.pipe(
                v.number(expected("a whole number of at least 1")),
                v.integer(expected("a whole number of at least 1")),
                v.minValue(1, expected("a whole number of at least 1")),
              ),
            ),
          },
          TABLE,
        ),
        TABLE,
      ),
    ),
    http: v.optional(
      v.pipe(
        v.strictObject(
          {
            listen: v.optional(
              v.pipe(
                text(LISTEN_EXPECTED),
                v.check((s) => s === "" || parseHttpListen(s) !== null, expected(LISTEN_EXPECTED)),
              ),
            ),
            token: v.optional(text()),
            allow_unauthenticated_loopback: v.optional(flag()),
            public_url: v.optional(
              v.pipe(
                text(PUBLIC_URL_EXPECTED),
                v.check((s) => s === "" || (/^https?:\/\/[^/]/.test(s) && URL.canParse(s)), expected(PUBLIC_URL_EXPECTED)),
              ),
            ),
          },
          TABLE,
        ),
        // Events and failure snapshots name processes, units and paths, and for a system
        // install hold journal text only root may read: every TCP listener needs the token,
        // since on loopback any local user could otherwise read through the API what the 0600
        // files protect. A Unix socket is protected by its file mode instead.
        v.rawCheck(({ dataset, addIssue }) => {
          if (!dataset.typed) return;
          const listen = dataset.value.listen ? parseHttpListen(dataset.value.listen) : null;
          if (listen === null || "unix" in listen || dataset.value.token) return;
          const loopback = isLoopback(listen.host);
          if (loopback && dataset.value.allow_unauthenticated_loopback === true) return;
          addIssue({
            message: loopback
              ? `listen = ${JSON.stringify(dataset.value.listen)} without a token lets every local user read the API: set [http] token (install.sh writes one; clients send "Authorization: Bearer TOKEN"), or listen = "unix:/run/user/UID/logtriage.sock", or allow_unauthenticated_loopback = true to accept that`
              : `listen = ${JSON.stringify(dataset.value.listen)} is reachable from other machines: set [http] token too (clients then send "Authorization: Bearer TOKEN"), or listen on a Unix socket`,
            path: [{ type: "object", origin: "value", input: dataset.value, key: "listen", value: dataset.value.listen }],
          });
        }),
      ),
    ),
    metrics: v.optional(
      v.strictObject(
        {
          units: v.optional(
            v.array(
              v.pipe(text("a unit name"), v.regex(/^[\w@:.\\-]+\.[a-z]+$/, expected(`a unit name like "nginx.service"`))),
              expected(`an array of unit names like ["nginx.service"]`),
            ),
          ),
        },
        TABLE,
      ),
    ),
    timers: v.optional(
      v.strictObject(
        {
          watch: v.optional(
            v.array(
              v.pipe(text("a timer unit name"), v.regex(/^[\w@:.\\-]+\.timer$/, expected(`a timer unit name like "backup.timer"`))),
              expected(`an array of timer names like ["backup.timer"]`),
            ),
          ),
          all: v.optional(flag()),
          poll_interval: v.optional(duration(1_000)),
        },
        TABLE,
      ),
    ),
    db: v.optional(
      v.strictObject(
        { path: v.optional(v.pipe(text("a file path"), v.minLength(1, expected("a file path")))), retention: v.optional(duration(1)) },
        TABLE,
      ),
    ),
    log: v.optional(v.strictObject({ level: v.optional(v.picklist(LOG_LEVELS, expected(oneOf(LOG_LEVELS)))) }, TABLE)),
    redact: v.optional(
      v.strictObject(
        {
          enabled: v.optional(flag()),
          patterns: v.optional(
            v.array(
              v.pipe(
                text("a regular expression (string)"),
                v.check(
                  (s) => regexError(s) === null,
                  (issue) => `invalid regular expression ${JSON.stringify(issue.input)}: ${regexError(String(issue.input)) ?? ""}`,
                ),
              ),
              expected(`an array of regular expressions like ["CUST-[0-9]{6}"]`),
            ),
          ),
        },
        TABLE,
      ),
    ),
    alertmanager: v.optional(
      v.strictObject(
        {
          urls: v.optional(
            v.array(
              v.pipe(
                text(`an Alertmanager URL like "http://alertmanager:9093"`),
                v.check(
                  (s) => /^https?:\/\/[^/]/.test(s) && URL.canParse(s),
                  expected(`an Alertmanager URL like "http://alertmanager:9093"`),
                ),
              ),
              expected(`an array of Alertmanager URLs like ["http://alertmanager:9093"]`),
            ),
          ),
          bearer_token: v.optional(text()),
          bearer_token_file: v.optional(text("a file path")),
          basic_auth: v.optional(
            v.strictObject({ user: text(), password: text() }, expected(`a table like { user = "…", password = "…" }`)),
          ),
          ca_file: v.optional(text("a file path")),
          insecure_skip_verify: v.optional(flag()),
          timeout: v.optional(duration(1)),
          resend_interval: v.optional(duration(1_000)),
        },
        TABLE,
      ),
    ),
    detectors: v.optional(
      v.strictObject(
        {
          gpu: v.optional(flag()),
          raid: v.optional(flag()),
          file_sharing: v.optional(flag()),
          containers: v.optional(flag()),
          coredumps: v.optional(flag()),
          memory_pressure: v.optional(flag()),
        },
        TABLE,
      ),
    ),
    rules: v.optional(
      v.strictObject(
        {
          disable: v.optional(v.array(text("a rule name"), expected(`an array of rule names like ["kernel-warning"]`))),
          custom: v.optional(v.array(CustomRuleSchema, expected("[[rules.custom]] tables"))),
        },
        TABLE,
      ),
    ),
  },
  TABLE,
);

export type ConfigFile = v.InferOutput<typeof ConfigFileSchema>;
