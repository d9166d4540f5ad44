#!/usr/bin/env bash
# Capture real systemd unit-failure lines from a real journald and a real `systemd --user`
# (at debug level, so the clean exits and "Deactivated successfully" it logs at debug show too):
# units that exit with many statuses, die of signals, time out on start and stop, and succeed.
# Run as root under the e2e lock: flock /tmp/lt-e2e.lock bash scripts/capture-unit-lines.sh OUT.jsonl
set -euo pipefail
out=${1:?usage: capture-unit-lines.sh OUT.jsonl}
work=$(mktemp -d)
started=()
cleanup() { for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p /run/systemd/journal /var/log/journal /run/systemd/system
if ! pgrep -x systemd-journal >/dev/null; then /lib/systemd/systemd-journald & started+=($!); sleep 1; fi
export XDG_RUNTIME_DIR=$work/run XDG_CONFIG_HOME=$work/config
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME/systemd/user" && chmod 700 "$XDG_RUNTIME_DIR"
/lib/systemd/systemd --user --log-target=journal --log-level=debug & mgr=$!; started+=($mgr)
for _ in $(seq 50); do systemctl --user is-system-running >/dev/null 2>&1 && break; [ "$(systemctl --user is-system-running 2>/dev/null)" = degraded ] && break; sleep 0.2; done
cursor=$(journalctl -n 0 --show-cursor -q | sed -n 's/^-- cursor: //p')
u=$XDG_CONFIG_HOME/systemd/user
unit() { printf '[Unit]\nDescription=%s\n[Service]\n%s\n' "$2" "$3" > "$u/$1.service"; }
for s in $(seq 1 255); do
  unit "lt-exit-$s" "Exits with status $s" "Type=oneshot
ExecStart=/bin/sh -c 'exit $s'"
done
# "$$$$" in a unit file is "$$" to the shell: the shell kills itself.
for sig in SEGV ABRT BUS FPE ILL TRAP SYS QUIT KILL USR1 USR2 ALRM XCPU HUP; do
  unit "lt-sig-$sig" "Dies of SIG$sig" "Type=oneshot
LimitCORE=0
ExecStart=/bin/sh -c 'kill -$sig \$\$\$\$'"
  unit "lt-core-$sig" "Dies of SIG$sig with cores on" "Type=oneshot
LimitCORE=infinity
WorkingDirectory=$work
ExecStart=/bin/sh -c 'kill -$sig \$\$\$\$'"
done
unit lt-start-timeout "Never finishes starting" "Type=oneshot
TimeoutStartSec=1
ExecStart=/bin/sleep 30"
unit lt-stop-timeout "Ignores SIGTERM" "TimeoutStopSec=1
ExecStart=/bin/sh -c 'trap \"\" TERM; while :; do sleep 0.2; done'"
unit lt-missing-exec "Executable missing" "ExecStart=/nonexistent/lt-binary"
unit lt-bad-dir "WorkingDirectory missing" "Type=oneshot
WorkingDirectory=/nonexistent-dir
ExecStart=/bin/true"
unit lt-pre-fail "ExecStartPre fails" "Type=oneshot
ExecStartPre=/bin/false
ExecStart=/bin/true"
unit lt-ok "Succeeds" "Type=oneshot
ExecStart=/bin/true"
unit lt-ok-daemon "A daemon stopped cleanly" "ExecStart=/bin/sleep 30"
unit lt-restart "Restarts until the limit" "ExecStart=/bin/sh -c 'exit 1'
Restart=on-failure
RestartSec=100ms
StartLimitBurst=3
StartLimitIntervalSec=30"
systemctl --user daemon-reload
for f in "$u"/*.service; do
  n=$(basename "$f")
  case $n in lt-stop-timeout.service|lt-ok-daemon.service) systemctl --user start "$n"; sleep 0.5; systemctl --user stop "$n" || true ;;
    lt-restart.service) systemctl --user start "$n" || true; sleep 3 ;;
    *) systemctl --user start "$n" 2>/dev/null || true ;;
  esac
done
sleep 1
journalctl -o json --after-cursor="$cursor" _PID=$mgr > "$out"
# The same lines in the text formats replay reads.
for fmt in short short-iso short-precise short-iso-precise short-monotonic cat; do
  journalctl -o "$fmt" --after-cursor="$cursor" _PID=$mgr > "${out%.jsonl}.$fmt.txt"
done
# A real memcg OOM kill (cgroup v1 memory controller), its kernel lines.
if [ -d /sys/fs/cgroup/memory ]; then
  cg=/sys/fs/cgroup/memory/lt_capture_$$
  mkdir "$cg" && echo $((64*1024*1024)) > "$cg/memory.limit_in_bytes"
  sh -c "echo \$\$ > $cg/cgroup.procs; exec python3 -c 'a=[]
while True: a.append(bytearray(1<<20))'" || true
  sleep 1
  rmdir "$cg" || true
  journalctl -o json --after-cursor="$cursor" _TRANSPORT=kernel >> "$out"
fi
wc -l "$out"
