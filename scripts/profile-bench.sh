#!/bin/bash
# Where the time goes in a `flowsec bench` run, mode by mode (README "Performance", "Profiles").
#
#   sudo scripts/profile-bench.sh micro "--sizes 4096" single pcrypt flow
#   sudo scripts/profile-bench.sh receiver "--sizes 64 --lanes 2" single pcrypt flow
#
# Runs the benchmark with 12-second points (JIT symbols for perf: -XX:+DumpPerfMapAtExit), and inside each
# point samples every CPU for 6 s (perf record -a -g) and counts router B's context switches (perf stat). Then
# prints, per mode: router B's context switches, the CPU share of each thread, router B's kernel
# paths (inclusive), the share of the cryptography (the JIT's AES/SHA stubs), and what the sending thread of the
# receiver benchmark spends waking router B's lanes. Needs perf (Debian linux-perf) and root.
set -eu
[ "$(id -u)" -eq 0 ] || { echo "profile-bench: needs root" >&2; exit 2; }
command -v perf >/dev/null || { echo "profile-bench: needs perf (apt-get install linux-perf)" >&2; exit 2; }
[ $# -ge 3 ] || { echo "usage: $0 micro|app|receiver \"BENCH OPTIONS\" MODE..." >&2; exit 2; }
bench=$1; options=$2; shift 2
cd "$(dirname "$(readlink -f "$0")")/.."
work=$(mktemp -d /tmp/flowsec-profile.XXXXXX)
runner=
cleanup() {
  [ -n "$runner" ] && kill -TERM "$runner" 2>/dev/null && wait "$runner" 2>/dev/null
  rm -rf "$work"
  for map in /tmp/perf-*.map; do   # the JIT symbol maps of the processes that have ended (ours)
    [ -e "$map" ] || continue
    pid=${map#/tmp/perf-}; kill -0 "${pid%.map}" 2>/dev/null || rm -f "$map"
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log=$work/bench.log
modes=$(IFS=,; echo "$*")
JDK_JAVA_OPTIONS="-XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit" \
  ./flowsec bench "$bench" $options --modes "$modes" --seconds 12 --warmup 3 --out "$work/out" >"$log" 2>&1 &
runner=$!
points_done() { grep -cE '^[a-z]+ .* B  [a-z]+ ' "$log" || true; }
i=0
for mode in "$@"; do
  if [ $i -eq 0 ]; then
    until grep -q "points of" "$log"; do kill -0 $runner 2>/dev/null || { cat "$log"; exit 1; }; sleep 0.5; done
    sleep 8   # test bed, traffic start, warm-up
  else
    until [ "$(points_done)" -ge $i ]; do kill -0 $runner 2>/dev/null || { cat "$log"; exit 1; }; sleep 0.5; done
    sleep 4   # the mode change and the warm-up
  fi
  pid=$(pgrep -f 'router-b.json' | head -n 1)
  [ -n "$pid" ] || { echo "profile-bench: router B is not running" >&2; cat "$log"; exit 1; }
  perf stat -e context-switches,task-clock -p "$pid" -o "$work/$mode.stat" -- sleep 6 &
  perf record -q -a -g -F 499 -o "$work/$mode.data" -- sleep 6 >/dev/null 2>&1
  wait $! 2>/dev/null || true
  echo "$pid" >"$work/$mode.pid"
  i=$((i+1))
done
wait $runner
runner=
grep -E '^[a-z]+ .* B  [a-z]+ ' "$log"
for mode in "$@"; do
  data=$work/$mode.data; pid=$(cat "$work/$mode.pid")
  echo
  echo "=== $mode: router B context switches in 6 s: $(awk '/context-switches/ {print $1}' "$work/$mode.stat")"
  echo "--- CPU samples by thread (all CPUs; vert.x-eventloo = appliance lanes)"
  perf report -i "$data" --no-children --sort pid --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -6
  echo "--- router B: kernel paths, inclusive, % of all samples"
  perf report -i "$data" --pid "$pid" --children --sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' \
    | grep -E '\] (tun_get_user|__x64_sys_recvfrom|__x64_sys_io_uring_enter|net_rx_action|tcp_v4_rcv|ip_forward|udp_recvmsg|schedule)$' | head -8
  echo "--- router B: cryptography (StubRoutines: the AES and SHA intrinsics), % of all samples"
  perf report -i "$data" --pid "$pid" --no-children --sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | grep 'StubRoutines' | head -2
  if [ "$bench" = receiver ]; then
    echo "--- the generator waking router B's lanes (sock_def_readable), % of all samples"
    perf report -i "$data" --comm bench-generator --children --sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' \
      | grep -E '\] (__x64_sys_sendto|sock_def_readable)$'
  fi
done
