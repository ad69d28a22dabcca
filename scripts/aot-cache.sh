#!/usr/bin/env bash
# Records the AOT cache (JDK 25: classes loaded and linked, JEP 483; method profiles, JEP 515; one step, JEP 514) for
# one java command line of the appliance, from a run of its training workload (flowsec train), README "Warm start":
#
#   scripts/aot-cache.sh [--seconds N] CACHE -- JAVA [JVM OPTIONS...] (-jar JAR | -cp CLASS_PATH MAIN)
#
# runs  JAVA -XX:AOTCacheOutput=... [JVM OPTIONS...] (-jar JAR | -cp CLASS_PATH MAIN) train --seconds N  [N: 4]
# and, when it succeeded, puts CACHE and CACHE.jdk (the JDK's stamp) in place; a failure leaves an older cache alone
# and exits non-zero. Starts then use it with the same command line plus
#
#   -XX:AOTCache=CACHE -Xlog:aot*=off -Xlog:aot*=warning:stderr
#
# The JDK, the JVM options and the class path (each jar's size and time) must be the training's: the JVM checks them
# and otherwise starts without the cache, saying why on stderr. ./flowsec runs this after each build for the
# appliance jar; the image build (issue 13) can run it with its own runtime's java and command line.
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
# shellcheck source=scripts/jdk.sh
. "$ROOT/scripts/jdk.sh"

seconds=4
if [ "${1:-}" = "--seconds" ]; then
  seconds=$2
  shift 2
fi
if [ $# -lt 4 ] || [ "$2" != "--" ]; then
  echo "usage: aot-cache.sh [--seconds N] CACHE -- JAVA [JVM OPTIONS...] (-jar JAR | -cp CLASS_PATH MAIN)" >&2
  exit 2
fi
cache=$1
java=$3
shift 3
partial="$(dirname "$cache")/.$(basename "$cache").partial"
rm -f "$partial" "$partial.config"
status=0
"$java" "-XX:AOTCacheOutput=$partial" "$@" train --seconds "$seconds" || status=$?
rm -f "$partial.config"
if [ "$status" -ne 0 ] || [ ! -f "$partial" ]; then
  rm -f "$partial"
  echo "aot-cache.sh: recording $cache failed (exit $status)" >&2
  exit 1
fi
# the stamp first (a cache without its stamp is never used), then the cache, whole
flowsec_jdk_stamp "$(dirname "$(dirname "$(readlink -f "$java")")")" >"$cache.jdk"
mv -f "$partial" "$cache"
echo "aot-cache.sh: $cache ($(du -h "$cache" | cut -f1)) for: $java $*" >&2
