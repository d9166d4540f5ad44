#!/bin/sh
# logtriage installer: the binary, a commented default config, the systemd units.
#
#   curl -fsSL https://github.com/logtriage/logtriage/releases/latest/download/install.sh | sh
#   curl -fsSL …/install.sh | sh -s -- --uninstall
#
# POSIX sh (dash on Debian), checked with shellcheck. Run `sh install.sh --help` for the options.
set -eu

DEFAULT_BASE_URL="https://github.com/logtriage/logtriage/releases/latest/download"
DEFAULT_SCHEDULE="Sun 09:00"

usage() {
  cat <<'EOF'
Usage: install.sh [--system] [--uninstall [--purge]] [--help]

Installs or upgrades logtriage for this user: ~/.local/bin/logtriage, a commented default
config at ~/.config/logtriage/config.toml (only when there is none), and the systemd user units
logtriage.service, logtriage-digest.service and logtriage-digest.timer in
~/.config/systemd/user, then enables and starts them when a user manager is reachable.
Re-running upgrades in place and keeps config and data.

  --system      install for the whole machine as root: /usr/local/bin/logtriage and system
                units in /etc/systemd/system (the service runs as root, config in root's home)
  --uninstall   stop and disable the units, remove them and the binary; keep config and data
  --purge       with --uninstall (or alone): also remove ~/.config/logtriage and
                ~/.local/share/logtriage (config and event database)
  --help        this text

Environment:
  LOGTRIAGE_BASE_URL     where logtriage-linux-<arch> and SHA256SUMS are downloaded from
                         (default: the latest GitHub release)
  LOGTRIAGE_BINARY       install this local file instead of downloading (offline)
  LOGTRIAGE_SHA256SUMS   a local SHA256SUMS to check LOGTRIAGE_BINARY against; without it the
                         checksum is only computed and shown, not verified

A binary whose SHA-256 does not match the published sum is refused and nothing is installed.
EOF
}

say() { printf '%s\n' "$*"; }
warn() { printf 'logtriage install: warning: %s\n' "$*" >&2; }
die() {
  printf 'logtriage install: %s\n' "$*" >&2
  exit 1
}

system=0
uninstall=0
purge=0
for arg in "$@"; do
  case "$arg" in
    --system) system=1 ;;
    --uninstall) uninstall=1 ;;
    --purge) uninstall=1; purge=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $arg" ;;
  esac
done

[ "$(uname -s)" = "Linux" ] || die "logtriage runs on Linux only (this is $(uname -s))"

if [ "$system" -eq 1 ]; then
  [ "$(id -u)" -eq 0 ] || die "--system installs into /usr/local/bin and /etc/systemd/system: run it as root (sudo sh install.sh --system)"
  # The system unit runs as User=root, whose HOME comes from the passwd entry; it does not see
  # this shell's XDG_* variables.
  home_dir=$(getent passwd root | cut -d: -f6)
  [ -n "$home_dir" ] || home_dir=/root
  bin_dir=/usr/local/bin
  unit_dir=/etc/systemd/system
  config_dir="$home_dir/.config/logtriage"
  data_dir="$home_dir/.local/share/logtriage"
  systemctl_scope=""
else
  case "${HOME:-/}" in /) die "HOME is not set (or is /): cannot tell where to install" ;; esac
  home_dir=$HOME
  # The unit starts %h/.local/bin/logtriage: the binary's place is fixed to HOME.
  bin_dir="$home_dir/.local/bin"
  # The same rule as logtriage itself and systemd's user unit search path.
  unit_dir="${XDG_CONFIG_HOME:-$home_dir/.config}/systemd/user"
  config_dir="${XDG_CONFIG_HOME:-$home_dir/.config}/logtriage"
  data_dir="${XDG_DATA_HOME:-$home_dir/.local/share}/logtriage"
  systemctl_scope="--user"
fi
# As the user should type it.
systemctl_cmd="systemctl${systemctl_scope:+ $systemctl_scope}"
bin="$bin_dir/logtriage"
config="$config_dir/config.toml"
units="logtriage.service logtriage-digest.service logtriage-digest.timer"

# systemctl for this install's manager; $systemctl_scope is empty or one word, unquoted on
# purpose so that it disappears when empty.
sctl() {
  # shellcheck disable=SC2086
  systemctl $systemctl_scope "$@"
}

# A manager answers is-system-running with its state (running, degraded, starting…), even
# when it exits non-zero; without one there is only an error (user) or "offline" (no systemd
# as PID 1).
manager_reachable() {
  command -v systemctl >/dev/null 2>&1 || return 1
  state=$(sctl is-system-running 2>/dev/null || true)
  [ -n "$state" ] && [ "$state" != "offline" ]
}

tmp_dir=""
tmp_files=""
cleanup() {
  if [ -n "$tmp_dir" ]; then rm -rf "$tmp_dir"; fi
  for f in $tmp_files; do rm -f "$f"; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- uninstall ---------------------------------------------------------------------------

if [ "$uninstall" -eq 1 ]; then
  if manager_reachable; then
    # Units that are not there (a second uninstall) are no error.
    sctl disable --now logtriage.service logtriage-digest.timer >/dev/null 2>&1 || true
    sctl stop logtriage-digest.service >/dev/null 2>&1 || true
    reachable=1
  else
    reachable=0
  fi
  for unit in $units; do rm -f "$unit_dir/$unit"; done
  # What `disable` removes; done here too for a manager that could not be asked.
  rm -f "$unit_dir/default.target.wants/logtriage.service" "$unit_dir/multi-user.target.wants/logtriage.service" \
    "$unit_dir/timers.target.wants/logtriage-digest.timer"
  rm -f "$bin"
  if [ "$reachable" -eq 1 ]; then
    sctl daemon-reload
    # A unit that failed stays listed until reset; nothing of logtriage should remain.
    sctl reset-failed logtriage.service logtriage-digest.service >/dev/null 2>&1 || true
  else
    say "No systemd manager to ask: if logtriage is still running, stop it; the units are gone."
  fi
  say "Removed $bin and the units in $unit_dir."
  if [ "$purge" -eq 1 ]; then
    rm -rf "$config_dir" "$data_dir"
    say "Removed $config_dir and $data_dir."
  else
    say "Kept $config_dir and $data_dir (remove them with --purge)."
  fi
  exit 0
fi

# ---- the binary ----------------------------------------------------------------------------

machine=$(uname -m)
case "$machine" in
  x86_64 | amd64) arch=linux-x64 ;;
  aarch64 | arm64) arch=linux-arm64 ;;
  *) die "no logtriage build for $machine: releases exist for x86_64 and aarch64 (build from source with Bun on others)" ;;
esac
asset="logtriage-$arch"

if command -v sha256sum >/dev/null 2>&1; then
  sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256_of() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
  die "sha256sum (coreutils) is needed to check the binary"
fi

# The sum for a file name in sha256sum's format: "<hex>  name" (text) or "<hex> *name" (binary).
sum_for() {
  awk -v name="$2" '$2 == name || $2 == "*" name { print tolower($1); exit }' "$1"
}

fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    die "curl or wget is needed to download logtriage (or set LOGTRIAGE_BINARY to a local file)"
  fi
}

tmp_dir=$(mktemp -d)
expected=""
if [ -n "${LOGTRIAGE_BINARY:-}" ]; then
  [ -f "$LOGTRIAGE_BINARY" ] || die "LOGTRIAGE_BINARY=$LOGTRIAGE_BINARY: no such file"
  source_file=$LOGTRIAGE_BINARY
  if [ -n "${LOGTRIAGE_SHA256SUMS:-}" ]; then
    [ -f "$LOGTRIAGE_SHA256SUMS" ] || die "LOGTRIAGE_SHA256SUMS=$LOGTRIAGE_SHA256SUMS: no such file"
    # Under its own name (a downloaded release file), else under the release's name.
    expected=$(sum_for "$LOGTRIAGE_SHA256SUMS" "$(basename "$source_file")")
    [ -n "$expected" ] || expected=$(sum_for "$LOGTRIAGE_SHA256SUMS" "$asset")
    [ -n "$expected" ] || die "$LOGTRIAGE_SHA256SUMS has no line for $(basename "$source_file") or $asset: refusing to install"
  fi
else
  base_url=${LOGTRIAGE_BASE_URL:-$DEFAULT_BASE_URL}
  say "Downloading $base_url/$asset"
  fetch "$base_url/$asset" "$tmp_dir/$asset" || die "could not download $base_url/$asset"
  fetch "$base_url/SHA256SUMS" "$tmp_dir/SHA256SUMS" || die "could not download $base_url/SHA256SUMS: refusing to install an unchecked binary"
  expected=$(sum_for "$tmp_dir/SHA256SUMS" "$asset")
  [ -n "$expected" ] || die "$base_url/SHA256SUMS has no line for $asset: refusing to install"
  source_file="$tmp_dir/$asset"
fi

# Copy next to the target first and check the copy: what is checked is what gets installed,
# and the final mv is atomic (same file system), so a running daemon or a concurrent
# `logtriage` call sees the old binary or the new one, never half of one.
mkdir -p "$bin_dir"
staged="$bin_dir/.logtriage.new.$$"
tmp_files="$staged"
cp "$source_file" "$staged"
chmod 755 "$staged"
actual=$(sha256_of "$staged")
if [ -n "$expected" ]; then
  if [ "$actual" != "$expected" ]; then
    die "checksum mismatch for $source_file: SHA-256 is $actual, the published sum is $expected. Nothing was installed (a corrupted or tampered download?)"
  fi
  say "Checksum OK ($actual)."
else
  say "Could not verify $source_file against a published checksum (no LOGTRIAGE_SHA256SUMS): its SHA-256 is $actual."
fi
# A build for another CPU or libc fails here, not later under systemd.
version=$("$staged" --version 2>/dev/null) || die "$source_file does not run on this machine ($machine); nothing was installed"

was_active=0
if manager_reachable && sctl is-active --quiet logtriage.service; then was_active=1; fi
mv -f "$staged" "$bin"
tmp_files=""
say "Installed $bin ($version)."

# ---- config ----------------------------------------------------------------------------------

write_default_config() {
  cat <<'EOF'
# logtriage configuration. Every key is optional: a commented key shows its default.
# Reference: https://github.com/logtriage/logtriage/blob/main/docs/configuration.md
# Check this file with: logtriage status (a mistake is reported with its line, exit 2).

[instance]
# id = "workstation"        # default: the hostname; prefixes every line, alert and digest
# role = "desktop"          # desktop | nas | server: sets the [detectors] and [smart] defaults

[ntfy]
# Alerts go to this ntfy topic; pick a secret name. Then check it with: logtriage test-ntfy
# url = "https://ntfy.sh/your-secret-topic"
# alert_tiers = ["T1", "T2"]
# priority_map = { critical = "urgent", high = "high", medium = "default", warning = "low" }
# timeout = "10s"
# click = "https://grafana.example/d/logtriage"
# Credentials, one of: token = "tk_…", token_file = "~/.config/logtriage/ntfy-token",
# or user = "…" with password = "…".

[digest]
# enabled = true            # false: install.sh does not enable the weekly timer
# schedule = "Sun 09:00"    # systemd OnCalendar; install.sh writes it into the timer
# topic = ""                # "" = the [ntfy] url; a bare name = that topic on the same server

[cooldown]
# window = "5m"             # same instance + tier + unit (or process) inside this window: one event
# aggregate_threshold = 3   # ...and at this many occurrences it becomes one "Crash loop" event

[psi]
# enabled = true
# poll_interval = "5s"
# warn_some_avg10 = 50.0    # percent
# warn_full_avg10 = 10.0    # percent

[smart]
# enabled = false           # default on for role "nas"
# poll_interval = "1h"

[sources]
# use = "auto"              # auto | journal | kmsg

[db]
# path = "~/.local/share/logtriage/events.db"
# retention = "90d"

[log]
# level = "info"            # debug | info | warn | error

[detectors]                 # defaults come from the role
# gpu = true
# raid = false              # md RAID, mdadm, ZFS
# file_sharing = false      # Samba, NFS, CIFS
# containers = true         # dockerd, containerd, podman
# coredumps = true          # systemd-coredump entries (T2)
# memory_pressure = true    # T5 rules

[http]
# The local API and /metrics, off until listen is set. Every TCP listener needs the token
# below (clients send "Authorization: Bearer TOKEN"; Prometheus: authorization.credentials_file);
# a Unix socket ("unix:/run/user/UID/logtriage.sock", mode 0600) needs none.
# listen = "127.0.0.1:9876"
# allow_unauthenticated_loopback = false   # true: any local user may read the API without it

# Your own rules, checked before the built-in ones:
# [[rules.custom]]
#   name = "disk-full"
#   tier = "T4"
#   pattern = "No space left on device"     # a JavaScript regular expression over MESSAGE
#   summary = "Disk full: {message}"
EOF
}

# A random API token (192 bits, hex) after the [http] table's comments, so that turning the
# API on (listen = …) never opens it without one. Written only into the 0600 config.
api_token() {
  od -An -N24 -tx1 /dev/urandom | tr -d ' \n'
}

add_api_token() {
  token=$(api_token)
  [ -n "$token" ] || die "cannot read /dev/urandom for the API token"
  awk -v token="$token" '
    { print }
    /^# allow_unauthenticated_loopback/ { print "token = \"" token "\"" }
  '
}

if [ -e "$config" ]; then
  say "Kept $config."
else
  # 0600: the config may later hold an ntfy token or password.
  (umask 077 && mkdir -p "$config_dir" && write_default_config | add_api_token >"$config.new.$$" && mv "$config.new.$$" "$config")
  say "Wrote a default config to $config."
fi
# The new binary reads the config as the daemon will: a mistake shows now, with its line.
check_rc=0
check=$("$bin" status --config "$config" 2>&1 >/dev/null) || check_rc=$?
if [ "$check_rc" -eq 2 ]; then
  warn "$check"
  warn "the daemon will not start until $config is fixed"
elif [ "$check_rc" -ne 0 ]; then
  warn "logtriage status failed: $check"
fi

# ---- units ------------------------------------------------------------------------------------

# `key = "value"` (or 'value') of a [table] in the config, first match; nothing when unset.
config_value() {
  [ -f "$config" ] || return 0
  awk -v table="[$1]" -v key="$2" '
    /^[ \t]*\[/ { current = $0; sub(/[ \t]*(#.*)?$/, "", current); gsub(/[ \t]/, "", current); next }
    current == table && $0 ~ "^[ \t]*" key "[ \t]*=" {
      value = $0
      sub(/^[^=]*=[ \t]*/, "", value)
      q = substr(value, 1, 1)
      if (q == "\"" || q == "\047") { value = substr(value, 2); sub(q ".*$", "", value) }
      else sub(/[ \t]*(#.*)?$/, "", value)
      print value
      exit
    }' "$config"
}

schedule=$(config_value digest schedule)
if [ -z "$schedule" ]; then
  schedule=$DEFAULT_SCHEDULE
elif command -v systemd-analyze >/dev/null 2>&1 && ! systemd-analyze calendar "$schedule" >/dev/null 2>&1; then
  warn "[digest] schedule = \"$schedule\" in $config is not a systemd calendar spec (see systemd-analyze calendar); using $DEFAULT_SCHEDULE"
  schedule=$DEFAULT_SCHEDULE
fi
digest_enabled=1
if [ "$(config_value digest enabled)" = "false" ]; then digest_enabled=0; fi

user_service_unit() {
  cat <<'EOF'
# logtriage user service. install.sh puts it in ~/.config/systemd/user/ (install.sh --system
# writes a root variant to /etc/systemd/system/). Checked with systemd 252 (Debian 12) on a
# real `systemd --user` of an unprivileged user.
[Unit]
Description=logtriage - crash & OOM root cause reporter
Documentation=https://github.com/logtriage/logtriage#install
# No After=systemd-journald.service: journald is a system unit and a user manager sees only its
# own units, so that line would order against a "not-found" user unit, i.e. nothing. Nothing is
# lost without it: the journal source retries journalctl with backoff and resumes after the
# last committed cursor. No After=default.target either (the design had it): that only holds
# the start back until the session is up; the default After=basic.target is enough.

[Service]
# READY=1 comes once the source reads; WATCHDOG=1 every 30 s only while the database takes
# writes and the source is up, so a wedged daemon is killed (SIGABRT) and restarted.
Type=notify
NotifyAccess=main
WatchdogSec=60
ExecStart=%h/.local/bin/logtriage daemon
# Reload: the daemon stops cleanly and starts again in place (same pid), reading the
# configuration anew; a configuration that does not load is refused and the old one kept.
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5s
# Exit 2 is a configuration or usage error: restarting every 5 s will not fix it.
RestartPreventExitStatus=2
# For mlockall(MCL_ONFAULT), so the reporter is not the one waiting on page-ins when memory
# runs out. A user manager cannot raise the hard limit above its own (8 MiB on Debian 12):
# systemd sets the closest value it may, and the daemon then runs unlocked and says so.
LimitMEMLOCK=infinity
# -900 takes full effect only under a manager with CAP_SYS_RESOURCE (root's; the --system
# unit). A user manager lacks it, and the kernel refuses any value below the floor a privileged
# writer set (the manager's own, 100 from user@.service). The unit still starts: systemd logs,
# at debug level only, "Failed to adjust OOM setting, assuming containerized execution,
# ignoring: Permission denied" and the daemon keeps the manager's 100, while
# `systemctl --user show -p OOMScoreAdjust` says -900. Still worth setting: without it the
# daemon gets the user manager's DefaultOOMScoreAdjust, its own value + 100 (200).
OOMScoreAdjust=-900

[Install]
WantedBy=default.target
EOF
}

user_digest_service_unit() {
  cat <<'EOF'
# logtriage weekly digest, started by logtriage-digest.timer. install.sh puts it in
# ~/.config/systemd/user/ (install.sh --system: a root variant in /etc/systemd/system/).
[Unit]
Description=logtriage weekly digest
Documentation=https://github.com/logtriage/logtriage#install

[Service]
Type=oneshot
# Posts to [digest] topic (default: [ntfy] url); with no topic it exits 2 and the run shows
# as failed in `systemctl --user --failed` until one is set.
ExecStart=%h/.local/bin/logtriage digest --send
EOF
}

system_service_unit() {
  cat <<'EOF'
# logtriage system service, written by install.sh --system. Runs as root (User=root gives it
# HOME, so `sudo logtriage status` finds its config and database).
[Unit]
Description=logtriage - crash & OOM root cause reporter
Documentation=https://github.com/logtriage/logtriage#install
After=systemd-journald.service

[Service]
Type=notify
NotifyAccess=main
WatchdogSec=60
User=root
ExecStart=/usr/local/bin/logtriage daemon
# Reload: the daemon stops cleanly and starts again in place (same pid), reading the
# configuration anew; a configuration that does not load is refused and the old one kept.
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5s
# Exit 2 is a configuration or usage error: restarting every 5 s will not fix it.
RestartPreventExitStatus=2
LimitMEMLOCK=infinity
# The system manager holds CAP_SYS_RESOURCE, so this one takes effect: the reporter is among
# the last the kernel's OOM killer picks.
OOMScoreAdjust=-900

[Install]
WantedBy=multi-user.target
EOF
}

system_digest_service_unit() {
  cat <<'EOF'
# logtriage weekly digest, written by install.sh --system; started by logtriage-digest.timer.
[Unit]
Description=logtriage weekly digest
Documentation=https://github.com/logtriage/logtriage#install

[Service]
Type=oneshot
User=root
ExecStart=/usr/local/bin/logtriage digest --send
EOF
}

digest_timer_unit() {
  cat <<EOF
# logtriage weekly digest schedule. install.sh writes OnCalendar from [digest] schedule of an
# existing config (default Sun 09:00) and does not enable the timer when [digest] enabled = false.
[Unit]
Description=logtriage weekly digest
Documentation=https://github.com/logtriage/logtriage#install

[Timer]
OnCalendar=$schedule
# A week missed while the machine was off is sent at the next start.
Persistent=true

[Install]
WantedBy=timers.target
EOF
}

# Written to a temp file and moved, so the manager never reads half a unit.
install_unit() {
  "$2" >"$unit_dir/.$1.new.$$"
  mv -f "$unit_dir/.$1.new.$$" "$unit_dir/$1"
}

mkdir -p "$unit_dir"
if [ "$system" -eq 1 ]; then
  install_unit logtriage.service system_service_unit
  install_unit logtriage-digest.service system_digest_service_unit
else
  install_unit logtriage.service user_service_unit
  install_unit logtriage-digest.service user_digest_service_unit
fi
install_unit logtriage-digest.timer digest_timer_unit
say "Installed the units in $unit_dir (digest: $schedule)."

# ---- start ----------------------------------------------------------------------------------

if [ "$digest_enabled" -eq 1 ]; then enable_units="logtriage.service logtriage-digest.timer"; else enable_units="logtriage.service"; fi
if manager_reachable; then
  sctl daemon-reload
  if [ "$digest_enabled" -eq 0 ]; then sctl disable --now logtriage-digest.timer >/dev/null 2>&1 || true; fi
  started=1
  # enable --now leaves a running service alone; an upgrade restarts it on the new binary.
  # shellcheck disable=SC2086 # $enable_units is a list of unit names
  sctl enable --now $enable_units || started=0
  if [ "$started" -eq 1 ] && [ "$was_active" -eq 1 ]; then sctl restart logtriage.service || started=0; fi
  [ "$started" -eq 1 ] || die "logtriage.service did not start: see '$systemctl_cmd status logtriage.service' and 'journalctl ${systemctl_scope:+$systemctl_scope }-u logtriage.service -n 20'"
  if [ "$was_active" -eq 1 ]; then say "Restarted logtriage.service on the new binary."; else say "Started logtriage.service."; fi
else
  say "No systemd manager reachable from here; to start logtriage later run:"
  say "  $systemctl_cmd daemon-reload"
  say "  $systemctl_cmd enable --now $enable_units"
fi

# ---- what is left to the user ----------------------------------------------------------------

case ":${PATH:-}:" in
  *":$bin_dir:"*) cmd=logtriage ;;
  *) cmd=$bin; say "Note: $bin_dir is not on your PATH; the commands below use the full path." ;;
esac
if [ "$(id -u)" -ne 0 ] && getent group systemd-journal >/dev/null 2>&1; then
  user=$(id -un)
  if ! id -Gn | tr ' ' '\n' | grep -qx systemd-journal; then
    say ""
    say "Journal access: $user cannot read the system journal, so logtriage reads only the kernel"
    say "log (/dev/kmsg) and misses service failures and coredumps. Run:"
    say "  sudo usermod -aG systemd-journal $user"
    say "then log out and back in (all sessions, so the user manager restarts with the group)."
  fi
fi
say ""
say "Alerts: set your ntfy topic in $config, under [ntfy]:"
say "  url = \"https://ntfy.sh/your-secret-topic\""
say "then check it with: $cmd test-ntfy"
say "What logtriage is doing: $cmd status"
