import { afterAll, describe, expect, test } from "bun:test";
import { copyForOtherUsers } from "../_other-user.ts";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/errors.ts";
import { defaultConfigPath, loadConfig, parseConfig, type ConfigEnv } from "../../src/config/load.ts";
import { FIXTURES } from "../_fixtures.ts";

const HOME = "/home/alice";
const ctx: ConfigEnv = { env: { HOME }, hostname: "box" };

function parse(text: string, env: ConfigEnv = ctx) {
  return parseConfig(text, "config.toml", env);
}

/** The ConfigError that parsing `text` throws; fails the test when it parses. */
function configError(text: string): ConfigError {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for:\n${text}`);
}

const tmp = mkdtempSync(join(tmpdir(), "logtriage-config-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("defaults", () => {
  test("an empty file gives the built-in defaults, instance id = hostname", () => {
    const config = parse("");
    expect(config.instance).toEqual({ id: "box", role: "desktop" });
    expect(config.ntfy.url).toBe("");
    // Unit failures, restart loops, timers and probe outages (T3) alert on defaults; T4 only high or critical.
    expect(config.ntfy.alertTiers).toEqual(["T1", "T2", "T3", "T4"]);
    expect(config.ntfy.minSeverity).toEqual({ T4: "high" });
    expect(config.ntfy.onResolve).toBe("update");
    expect(config.ntfy.updateIntervalMs).toBe(60_000);
    expect(config.ntfy.controlTopic).toBeNull();
    expect(config.incidents).toEqual({
      ignoreUnits: [],
      quietUnits: [],
      ignorePrograms: [],
      quietPrograms: [],
      resolveUnitMs: 300_000,
      resolveProgramMs: 86_400_000,
      resolveDiskMs: 86_400_000,
      resolveOtherMs: 3_600_000,
    });
    expect(config.ntfy.priorityMap).toEqual({ critical: 5, high: 4, medium: 3, warning: 2 });
    expect(config.ntfy.timeoutMs).toBe(10_000);
    expect(config.ntfy.token).toBeNull();
    expect(config.digest).toEqual({ enabled: true, schedule: "Sun 09:00", topic: "" });
    expect(config.cooldown).toEqual({ windowMs: 300_000, aggregateThreshold: 3 });
    expect(config.sources).toEqual({ use: "auto" });
    expect(config.psi).toEqual({ enabled: true, pollIntervalMs: 5_000, warnSomeAvg10: 50, warnFullAvg10: 10 });
    expect(config.smart).toEqual({ enabled: false, pollIntervalMs: 3_600_000, devices: [] });
    expect(config.timers).toEqual({ watch: [], all: false, pollIntervalMs: 300_000 });
    expect(config.db).toEqual({ path: `${HOME}/.local/share/logtriage/events.db`, retentionMs: 90 * 86_400_000 });
    expect(config.log.level).toBe("info");
    expect(config.rules).toEqual({ disable: [], custom: [] });
  });

  test.each([
    ["desktop", { gpu: true, raid: true, fileSharing: true, containers: true, coredumps: true, memoryPressure: true }, false],
    ["nas", { gpu: true, raid: true, fileSharing: true, containers: true, coredumps: true, memoryPressure: true }, true],
    ["server", { gpu: true, raid: true, fileSharing: true, containers: true, coredumps: true, memoryPressure: true }, false],
  ])("role %s sets detector defaults", (role, detectors, smart) => {
    const config = parse(`[instance]\nrole = "${role}"\n`);
    expect(config.detectors).toEqual(detectors);
    expect(config.smart.enabled).toBe(smart);
    expect(config.psi.enabled).toBe(true);
  });

  test("explicit values beat role defaults", () => {
    const config = parse(`
[instance]
role = "nas"
[smart]
enabled = false
[detectors]
raid = false
gpu = false
`);
    expect(config.smart.enabled).toBe(false);
    expect(config.detectors.raid).toBe(false);
    expect(config.detectors.gpu).toBe(false);
    expect(config.detectors.fileSharing).toBe(true); // not given: still the default
  });

  test("custom rule severity defaults by tier", () => {
    const rules = ["T1", "T2", "T3", "T4", "T5"]
      .map((tier, i) => `[[rules.custom]]\nname = "r${i}"\ntier = "${tier}"\npattern = "x"\n`)
      .join("");
    const severities = parse(rules).rules.custom.map((r) => r.severity);
    expect(severities).toEqual(["critical", "high", "medium", "high", "warning"]);
    expect(parse(`[[rules.custom]]\nname = "a"\ntier = "T1"\nseverity = "warning"\npattern = "x"\n`).rules.custom[0]?.severity).toBe(
      "warning",
    );
  });
});

describe("values", () => {
  test("the documented example config parses", () => {
    const text = readFileSync(join(FIXTURES, "config", "design-example.toml"), "utf8");
    const config = parseConfig(text, "design-example.toml", ctx);
    expect(config.instance).toEqual({ id: "workstation", role: "desktop" });
    expect(config.ntfy.url).toBe("https://ntfy.sh/my-logtriage-topic");
    // warning is not in the example's priority_map: it keeps its default.
    expect(config.ntfy.priorityMap).toEqual({ critical: 5, high: 4, medium: 3, warning: 2 });
    expect(config.cooldown.windowMs).toBe(300_000);
    expect(config.psi.warnFullAvg10).toBe(10);
    expect(config.smart.enabled).toBe(false);
    expect(config.db.path).toBe(`${HOME}/.local/share/logtriage/events.db`);
    expect(config.db.retentionMs).toBe(7_776_000_000);
  });

  test("durations become milliseconds", () => {
    const config = parse(`
[ntfy]
timeout = "1m30s"
[cooldown]
window = "0s"
[psi]
poll_interval = "500ms"
[smart]
poll_interval = "2w"
[db]
retention = "30d"
`);
    expect(config.ntfy.timeoutMs).toBe(90_000);
    expect(config.cooldown.windowMs).toBe(0);
    expect(config.psi.pollIntervalMs).toBe(500);
    expect(config.smart.pollIntervalMs).toBe(14 * 86_400_000);
    expect(config.db.retentionMs).toBe(30 * 86_400_000);
  });

  test("inline tables and dotted keys say the same thing", () => {
    const inline = parse(`[ntfy]\npriority_map = { critical = "high", warning = 1 }\n`);
    const dotted = parse(`ntfy.priority_map.critical = "high"\nntfy.priority_map.warning = 1\n`);
    const section = parse(`[ntfy.priority_map]\ncritical = "high"\nwarning = 1\n`);
    for (const config of [inline, dotted, section]) {
      expect(config.ntfy.priorityMap).toEqual({ critical: 4, high: 4, medium: 3, warning: 1 });
    }
  });

  test("ntfy options and custom rules come through with camelCase names", () => {
    const config = parse(`
[ntfy]
url = "http://localhost:8080/alerts"
token_file = "~/.config/logtriage/ntfy-token"
click = "https://grafana.example/d/host"
alert_tiers = ["T1", "T2", "T3"]
[rules]
disable = ["gpu-xid"]
[[rules.custom]]
name = "backup-failed"
tier = "T3"
pattern = "backup (?<job>\\\\S+) failed"
identifier = "restic"
summary = "backup {job} failed"
`);
    expect(config.ntfy.url).toBe("http://localhost:8080/alerts");
    expect(config.ntfy.tokenFile).toBe(`${HOME}/.config/logtriage/ntfy-token`);
    expect(config.ntfy.click).toBe("https://grafana.example/d/host");
    expect(config.ntfy.alertTiers).toEqual(["T1", "T2", "T3"]);
    expect(config.rules.disable).toEqual(["gpu-xid"]);
    expect(config.rules.custom).toEqual([
      {
        name: "backup-failed",
        tier: "T3",
        severity: "medium",
        pattern: "backup (?<job>\\S+) failed",
        identifier: "restic",
        summary: "backup {job} failed",
      },
    ]);
  });

  test("the alert policy and incident windows come through", () => {
    const config = parse(`
[ntfy]
min_severity = { T3 = "high", T4 = "critical" }
on_resolve = "clear"
update_interval = "2m"
control_topic = "lt-control_7f3a"
[incidents]
ignore_units = ["flaky@*.service"]
quiet_units = ["backup.service"]
ignore_programs = ["steam"]
quiet_programs = ["chrome"]
resolve_unit = "10m"
resolve_program = "12h"
resolve_disk = "2d"
resolve_other = "30m"
`);
    expect(config.ntfy.minSeverity).toEqual({ T3: "high", T4: "critical" });
    expect(config.ntfy.onResolve).toBe("clear");
    expect(config.ntfy.updateIntervalMs).toBe(120_000);
    expect(config.ntfy.controlTopic).toBe("lt-control_7f3a");
    expect(config.incidents).toEqual({
      ignoreUnits: ["flaky@*.service"],
      quietUnits: ["backup.service"],
      ignorePrograms: ["steam"],
      quietPrograms: ["chrome"],
      resolveUnitMs: 600_000,
      resolveProgramMs: 43_200_000,
      resolveDiskMs: 172_800_000,
      resolveOtherMs: 1_800_000,
    });
  });

  test.each([
    ["on_resolve", `[ntfy]\non_resolve = "dismiss"`, `config.toml:2: ntfy.on_resolve: expected one of update, clear, none, got "dismiss"`],
    [
      "min_severity",
      `[ntfy]\nmin_severity = { T4 = "urgent" }`,
      `config.toml:2: ntfy.min_severity.T4: expected one of critical, high, medium, warning, got "urgent"`,
    ],
    [
      "control_topic",
      `[ntfy]\ncontrol_topic = "my topic"`,
      `config.toml:2: ntfy.control_topic: expected a topic name (1 to 64 letters, digits, "_" or "-") on the [ntfy] url's server, or "" for none, got "my topic"`,
    ],
    [
      "quiet_units",
      `[incidents]\nquiet_units = ["backup"]`,
      `config.toml:2: incidents.quiet_units[0]: expected a unit name like "backup.service", got "backup"`,
    ],
  ])("alert policy, wrong value: %s", (_key, text, message) => {
    expect(configError(text).message).toBe(message);
  });
});

describe("paths", () => {
  test("default config path follows XDG_CONFIG_HOME, else HOME/.config", () => {
    expect(defaultConfigPath({ HOME, XDG_CONFIG_HOME: "/xdg/config" })).toBe("/xdg/config/logtriage/config.toml");
    expect(defaultConfigPath({ HOME })).toBe(`${HOME}/.config/logtriage/config.toml`);
    expect(defaultConfigPath({ HOME, XDG_CONFIG_HOME: "" })).toBe(`${HOME}/.config/logtriage/config.toml`);
    // The XDG spec: a relative value is invalid and ignored.
    expect(defaultConfigPath({ HOME, XDG_CONFIG_HOME: "relative/dir" })).toBe(`${HOME}/.config/logtriage/config.toml`);
  });

  test("default db path follows XDG_DATA_HOME, else HOME/.local/share", () => {
    expect(parse("", { env: { HOME, XDG_DATA_HOME: "/xdg/data" }, hostname: "h" }).db.path).toBe("/xdg/data/logtriage/events.db");
    expect(parse("", { env: { HOME }, hostname: "h" }).db.path).toBe(`${HOME}/.local/share/logtriage/events.db`);
  });

  test("~/ expands to HOME; relative paths are taken from the config file's folder", () => {
    expect(parse(`[db]\npath = "~/data/events.db"\n`).db.path).toBe(`${HOME}/data/events.db`);
    expect(parse(`[db]\npath = "/var/lib/logtriage/events.db"\n`).db.path).toBe("/var/lib/logtriage/events.db");
    expect(parseConfig(`[db]\npath = "events.db"\n`, "/etc/logtriage/config.toml", ctx).db.path).toBe("/etc/logtriage/events.db");
  });

  test("~/ without HOME is a config error naming the key", () => {
    const error = (() => {
      try {
        parse(`[db]\npath = "~/events.db"\n`, { env: {}, hostname: "h" });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain("db.path");
    expect((error as ConfigError).message).toContain("HOME is not set");
  });
});

describe("errors", () => {
  test("a TOML syntax error names file:line:column (1-based) and the reason", () => {
    const error = configError(`[ntfy]\nurl = "https://ntfy.sh/x"\nalert_tiers ["T1"]\n`);
    expect(error.message).toBe(`config.toml:3:13: invalid TOML: Invalid character, expected "="`);
    expect(error.line).toBe(3);
    expect(error.column).toBe(13);
    expect(error.file).toBe("config.toml");
    expect(error.exitCode).toBe(2);
    expect(error.message).not.toContain("\n");
  });

  test("an unterminated string", () => {
    const error = configError(`[instance]\nid = "box\n`);
    expect(error.message).toStartWith("config.toml:2:");
    expect(error.message).toContain("invalid TOML: Unterminated string");
  });

  test("unknown key: nearest valid key of that table, with its line", () => {
    const error = configError(`[ntfy]\nurl = "https://ntfy.sh/x"\n\npriorty_map = { critical = "urgent" }\n`);
    expect(error.message).toBe(`config.toml:4: unknown key "ntfy.priorty_map" — did you mean "priority_map"?`);
    expect(error.keyPath).toBe("ntfy.priorty_map");
    expect(error.line).toBe(4);
    expect(error.exitCode).toBe(2);
  });

  test("unknown section: nearest section", () => {
    const error = configError(`[instance]\nid = "a"\n[ntfyy]\nurl = "https://ntfy.sh/x"\n`);
    expect(error.message).toBe(`config.toml:3: unknown section [ntfyy] — did you mean [ntfy]?`);
    expect(error.keyPath).toBe("ntfyy");
  });

  test("unknown key inside an inline table and a [[rules.custom]] entry", () => {
    expect(configError(`[ntfy]\npriority_map = { critcal = "urgent" }\n`).message).toBe(
      `config.toml:2: unknown key "ntfy.priority_map.critcal" — did you mean "critical"?`,
    );
    const rules = `[[rules.custom]]\nname = "a"\ntier = "T3"\npattern = "x"\n\n[[rules.custom]]\nname = "b"\ntier = "T3"\npatern = "y"\n`;
    expect(configError(rules).message).toBe(`config.toml:9: unknown key "rules.custom[1].patern" — did you mean "pattern"?`);
  });

  test("no suggestion when nothing is close; a key in the wrong section says where it belongs", () => {
    expect(configError(`[ntfy]\ncolour = "red"\n`).message).toBe(`config.toml:2: unknown key "ntfy.colour"`);
    expect(configError(`[ntfy]\naggregate_threshold = 2\n`).message).toBe(
      `config.toml:2: unknown key "ntfy.aggregate_threshold" — "aggregate_threshold" belongs in [cooldown]`,
    );
    expect(configError(`role = "nas"\n`).message).toBe(`config.toml:1: unknown key "role" — "role" belongs in [instance]`);
  });

  test.each([
    [
      "alert_tiers",
      `[ntfy]\nalert_tiers = ["T1", "T9"]`,
      `config.toml:2: ntfy.alert_tiers[1]: expected one of T1, T2, T3, T4, T5, got "T9"`,
    ],
    [
      "window",
      `[cooldown]\nwindow = "5 minutes"`,
      `config.toml:2: cooldown.window: expected a duration like "5m", "1h" or "90d", got "5 minutes"`,
    ],
    ["window", `[cooldown]\nwindow = 300`, `config.toml:2: cooldown.window: expected a duration like "5m", "1h" or "90d", got 300`],
    [
      "warn_some_avg10",
      `[psi]\nwarn_some_avg10 = "high"`,
      `config.toml:2: psi.warn_some_avg10: expected a number between 0 and 100, got "high"`,
    ],
    [
      "warn_full_avg10",
      `[psi]\nwarn_full_avg10 = 101.5`,
      `config.toml:2: psi.warn_full_avg10: expected a number between 0 and 100, got 101.5`,
    ],
    [
      "aggregate_threshold",
      `[cooldown]\naggregate_threshold = 0`,
      `config.toml:2: cooldown.aggregate_threshold: expected a whole number of at least 1, got 0`,
    ],
    ["role", `[instance]\nrole = "laptop"`, `config.toml:2: instance.role: expected one of desktop, nas, server, got "laptop"`],
    ["gpu", `[detectors]\ngpu = "yes"`, `config.toml:2: detectors.gpu: expected true or false, got "yes"`],
    [
      "url",
      `[ntfy]\nurl = "ntfy.sh/topic"`,
      `config.toml:2: ntfy.url: expected an ntfy topic URL like "https://ntfy.sh/my-topic", or "" for no notifications, got "ntfy.sh/topic"`,
    ],
    [
      "url",
      `[ntfy]\nurl = "https://ntfy.sh/"`,
      `config.toml:2: ntfy.url: expected an ntfy topic URL like "https://ntfy.sh/my-topic", or "" for no notifications, got "https://ntfy.sh/"`,
    ],
    [
      "priority_map",
      `[ntfy]\npriority_map = { high = "loud" }`,
      `config.toml:2: ntfy.priority_map.high: expected one of min, low, default, high, urgent or a number 1 to 5, got "loud"`,
    ],
    ["priority_map", `[ntfy]\npriority_map = "urgent"`, `config.toml:2: ntfy.priority_map: expected a table, got "urgent"`],
    ["ntfy", `ntfy = ["x"]`, `config.toml:1: ntfy: expected a table, got an array`],
    ["use", `[sources]\nuse = "syslog"`, `config.toml:2: sources.use: expected one of auto, journal, kmsg, got "syslog"`],
    ["level", `[log]\nlevel = "verbose"`, `config.toml:2: log.level: expected one of debug, info, warn, error, got "verbose"`],
  ])("wrong type: %s", (_key, text, message) => {
    const error = configError(text);
    expect(error.message).toBe(message);
    expect(error.exitCode).toBe(2);
  });

  test("several wrong values: one line each, fields from the first", () => {
    const error = configError(`[cooldown]\nwindow = "soon"\n[psi]\nwarn_some_avg10 = -1\n`);
    expect(error.message.split("\n")).toEqual([
      `config.toml:2: cooldown.window: expected a duration like "5m", "1h" or "90d", got "soon"`,
      `config.toml:4: psi.warn_some_avg10: expected a number between 0 and 100, got -1`,
    ]);
    expect(error.keyPath).toBe("cooldown.window");
    expect(error.line).toBe(2);
  });

  test("a custom rule whose regex does not compile names the rule and the regex error", () => {
    const error = configError(`[[rules.custom]]\nname = "disk-full"\ntier = "T4"\npattern = "No space (left"\n`);
    expect(error.message).toStartWith(
      `config.toml:4: rules.custom[0].pattern: rule "disk-full": invalid regular expression "No space (left": `,
    );
    expect(error.message).not.toContain("Invalid regular expression");
    expect(error.keyPath).toBe("rules.custom[0].pattern");
  });

  test("custom rule: required keys and name format", () => {
    expect(configError(`[[rules.custom]]\nname = "x"\ntier = "T2"\n`).message).toBe(
      `config.toml:1: rules.custom[0].pattern: required key is missing`,
    );
    expect(configError(`[[rules.custom]]\nname = "My Rule"\ntier = "T2"\npattern = "x"\n`).message).toBe(
      `config.toml:2: rules.custom[0].name: expected a rule name of lowercase letters, digits and "-" like "my-rule", got "My Rule"`,
    );
  });

  test("token and token_file together are refused", () => {
    expect(configError(`[ntfy]\ntoken = "tk_x"\ntoken_file = "/run/secrets/ntfy"\n`).message).toBe(
      `config.toml:3: ntfy.token_file: set token or token_file, not both`,
    );
  });
});

describe("loadConfig", () => {
  const dir = (name: string): ConfigEnv => {
    const home = join(tmp, name);
    mkdirSync(home, { recursive: true });
    return { env: { HOME: home }, hostname: "box" };
  };

  test("zero config: no --config and no default file gives defaults", () => {
    const env = dir("zero");
    const loaded = loadConfig(undefined, env);
    expect(loaded.path).toBeNull();
    expect(loaded.config.instance.id).toBe("box");
    expect(loaded.config.db.path).toBe(join(tmp, "zero", ".local/share/logtriage/events.db"));
  });

  test("the default file under XDG_CONFIG_HOME is read", () => {
    const env = dir("xdg");
    const configDir = join(tmp, "xdg", "cfg", "logtriage");
    mkdirSync(configDir, { recursive: true });
    writeFileSync(join(configDir, "config.toml"), `[instance]\nid = "from-xdg"\n`);
    const loaded = loadConfig(undefined, { ...env, env: { ...env.env, XDG_CONFIG_HOME: join(tmp, "xdg", "cfg") } });
    expect(loaded.path).toBe(join(configDir, "config.toml"));
    expect(loaded.config.instance.id).toBe("from-xdg");
  });

  test("an explicit file is read, and its errors name it", () => {
    const env = dir("explicit");
    const file = join(tmp, "explicit", "my.toml");
    writeFileSync(file, `[instance]\nrole = "server"\n[cooldown]\nwindow = "forever"\n`);
    expect(() => loadConfig(file, env)).toThrow(`${file}:4: cooldown.window: expected a duration`);
    writeFileSync(file, `[instance]\nrole = "server"\n`);
    expect(loadConfig(file, env).config.timers.all).toBe(true); // the server role watches every timer
  });

  test("a missing explicit path is an error naming the path and the fix", () => {
    const env = dir("missing");
    const file = join(tmp, "missing", "nope.toml");
    let error: unknown = null;
    try {
      loadConfig(file, env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.message).toBe(
      `${file}: config file not found (check the --config path, or leave --config out to use the default file or built-in defaults)`,
    );
    expect(e.file).toBe(file);
    expect(e.exitCode).toBe(2);
  });

  test("a directory as config path is an error", () => {
    const env = dir("isdir");
    const path = join(tmp, "isdir", "conf.d");
    mkdirSync(path);
    expect(() => loadConfig(path, env)).toThrow(
      `${path}: is a directory, not a config file (point --config at a TOML file, such as ${path}/config.toml)`,
    );
  });

  test("a directory where the default file should be is an error too, not zero config", () => {
    const env = dir("defaultdir");
    mkdirSync(join(tmp, "defaultdir", ".config", "logtriage", "config.toml"), { recursive: true });
    expect(() => loadConfig(undefined, env)).toThrow("is a directory, not a config file");
  });

  // root reads any file whatever its mode, so the check runs the compiled binary as the
  // unprivileged user "nobody" (setpriv, util-linux) when the tests run as root, as CI does.
  test("an unreadable file is an error naming it", () => {
    const base = mkdtempSync(join(tmpdir(), "logtriage-unreadable-"));
    chmodSync(base, 0o755);
    const file = join(base, "config.toml");
    writeFileSync(file, "");
    chmodSync(file, 0o000);
    const bin = join(import.meta.dir, "..", "..", "dist", "logtriage");
    const asNobody = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] : [];
    // A copy of the binary nobody can reach: the clone may sit in a 0700 folder.
    const proc = Bun.spawnSync([...asNobody, asNobody.length ? copyForOtherUsers(bin) : bin, "status", "--config", file], {
      cwd: "/",
      env: { HOME: base, PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
      stderr: "pipe",
      stdout: "pipe",
    });
    rmSync(base, { recursive: true, force: true });
    expect(proc.exitCode).toBe(2);
    expect(proc.stderr.toString()).toBe(`logtriage: ${file}: cannot read config file: permission denied (check its owner and mode)\n`);
  });
});

describe("services, http and metrics (health probes and the local API)", () => {
  test("a [services.NAME] table gets its defaults; http is off; metrics lists no units", () => {
    const config = parse(`
[services.nextcloud]
health_url = "https://127.0.0.1:8443/status.php"
unit = "nextcloud.service"

[services.grafana]
health_url = "http://localhost:3000/api/health"
interval = "10s"
timeout = "2s"
expect_status = 204
failures_before_alert = 3
`);
    expect(config.services).toEqual({
      nextcloud: {
        healthUrl: "https://127.0.0.1:8443/status.php",
        unit: "nextcloud.service",
        intervalMs: 30_000,
        timeoutMs: 5_000,
        expectStatus: 200,
        failuresBeforeAlert: 2,
      },
      grafana: {
        healthUrl: "http://localhost:3000/api/health",
        unit: null,
        intervalMs: 10_000,
        timeoutMs: 2_000,
        expectStatus: 204,
        failuresBeforeAlert: 3,
      },
    });
    expect(config.http).toEqual({ listen: null, token: null, allowUnauthenticatedLoopback: false, publicUrl: null });
    expect(config.metrics).toEqual({ units: [] });
  });

  test("a misspelt key inside a service names the service and suggests the key", () => {
    const error = configError(`[services.web]\nhealth_url = "http://127.0.0.1/"\nintervall = "5s"\n`);
    expect(error.message).toContain("config.toml:3");
    expect(error.message).toContain(`unknown key "services.web.intervall" — did you mean "interval"?`);
  });

  test("a service without health_url, or with a non-HTTP one, is refused", () => {
    expect(configError(`[services.web]\nunit = "web.service"\n`).message).toContain("services.web.health_url");
    expect(configError(`[services.web]\nhealth_url = "ftp://x/"\n`).message).toContain("expected an http:// or https:// URL");
  });

  test("every TCP listener needs a token unless open loopback is asked for by name; a Unix socket needs none", () => {
    const loopback = configError(`[http]\nlisten = "127.0.0.1:9876"\n`);
    expect(loopback.message).toContain("http.listen");
    expect(loopback.message).toContain("lets every local user read the API");
    expect(parse(`[http]\nlisten = "127.0.0.1:9876"\ntoken = "s3cret"\n`).http).toEqual({
      listen: { host: "127.0.0.1", port: 9876 },
      token: "s3cret",
      allowUnauthenticatedLoopback: false,
      publicUrl: null,
    });
    expect(parse(`[http]\nlisten = "127.0.0.1:9876"\nallow_unauthenticated_loopback = true\n`).http).toEqual({
      listen: { host: "127.0.0.1", port: 9876 },
      token: null,
      allowUnauthenticatedLoopback: true,
      publicUrl: null,
    });
    expect(parse(`[http]\nlisten = "[::1]:9876"\nallow_unauthenticated_loopback = true\n`).http.listen).toEqual({
      host: "::1",
      port: 9876,
    });
    expect(parse(`[http]\nlisten = "unix:/run/user/1000/logtriage.sock"\n`).http.listen).toEqual({ unix: "/run/user/1000/logtriage.sock" });
    expect(configError(`[http]\nlisten = "unix:relative.sock"\n`).message).toContain("a Unix socket like");
    // Open loopback is only loopback: the flag does not open another address.
    expect(configError(`[http]\nlisten = "0.0.0.0:9876"\nallow_unauthenticated_loopback = true\n`).message).toContain(
      "set [http] token too",
    );
    expect(parse(`[http]\nlisten = "0.0.0.0:9876"\ntoken = "s3cret"\n`).http).toEqual({
      listen: { host: "0.0.0.0", port: 9876 },
      token: "s3cret",
      allowUnauthenticatedLoopback: false,
      publicUrl: null,
    });
    // Where a phone reaches the API, for the alerts' "Details" button: a URL, its trailing slash dropped.
    expect(
      parse(`[http]\nlisten = "127.0.0.1:9876"\ntoken = "s3cret"\npublic_url = "https://box.example.net:8485/"\n`).http.publicUrl,
    ).toBe("https://box.example.net:8485");
    expect(configError(`[http]\npublic_url = "box.example.net"\n`).message).toContain("the URL a phone reaches this API at");
    const error = configError(`[http]\nlisten = "0.0.0.0:9876"\n`);
    expect(error.message).toContain("http.listen");
    expect(error.message).toContain("set [http] token too");
    expect(configError(`[http]\nlisten = "9876"\n`).message).toContain(`expected an address like "127.0.0.1:9876"`);
  });

  test("metrics units are unit names", () => {
    expect(parse(`[metrics]\nunits = ["nginx.service", "backup.timer"]\n`).metrics.units).toEqual(["nginx.service", "backup.timer"]);
    expect(configError(`[metrics]\nunits = ["nginx"]\n`).message).toContain(`expected a unit name like "nginx.service"`);
  });
});

describe("what the config file holds is reported as written", () => {
  const dir = mkdtempSync(join(tmpdir(), "logtriage-config-bytes-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const load = (name: string, bytes: Uint8Array | string) => {
    const file = join(dir, name);
    writeFileSync(file, bytes);
    try {
      loadConfig(file, { env: { HOME: dir }, hostname: "h" });
      return null;
    } catch (error) {
      return error as ConfigError;
    }
  };

  test("a config that is not UTF-8 is refused at its line and column", () => {
    const error = load(
      "latin1.toml",
      Buffer.concat([Buffer.from('[instance]\nrole = "nas"\nid = "caf'), Buffer.from([0xe9]), Buffer.from('"\n')]),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.message).toBe(`${join(dir, "latin1.toml")}:3:10: not UTF-8 (byte 0xe9): save the config as UTF-8 text`);
    expect(error?.line).toBe(3);
  });

  test("an instance id with a control character or escape sequence is refused", () => {
    const error = load("esc.toml", `[instance]\nid = "box\\u001b[2J"\n`);
    expect(error?.message).toContain("esc.toml:2: instance.id: expected printable characters only");
    expect(load("bidi.toml", `[instance]\nid = "box\u202e"\n`)?.message).toContain("printable characters only");
    expect(load("ok.toml", `[instance]\nid = "nas-01 (attic)"\n`)).toBeNull();
  });

  test("a number too large to hold is shown as the file has it, not as it was rounded", () => {
    expect(load("big.toml", `[cooldown]\naggregate_threshold = 99999999999999999999 # oops\n`)?.message).toContain(
      "got 99999999999999999999, too large a number",
    );
    expect(load("inf.toml", `[psi]\nwarn_some_avg10 = 1e400\n`)?.message).toContain("got 1e400, too large a number");
  });
});
