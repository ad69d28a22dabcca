# Sourced by ./flowsec and ./run-tests: finds a JDK 25 or newer and exports JAVA_HOME, or explains what to install.
flowsec_java_major() {
  "$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}

flowsec_find_jdk() {
  local candidate major
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/*25* /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] || continue
    major=$(flowsec_java_major "$candidate")
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then
      export JAVA_HOME="$candidate"
      return 0
    fi
  done
  cat >&2 <<MSG
flowsec: no JDK 25 found (looked at JAVA_HOME=${JAVA_HOME:-unset} and /usr/lib/jvm/*).
flowsec needs a JDK 25 or newer: install one (for example Eclipse Temurin 25: the temurin-25-jdk package from
packages.adoptium.net, or a tarball from adoptium.net) and set JAVA_HOME to it, or place it under /usr/lib/jvm.
MSG
  return 1
}

# The AOT caches (README "Warm start"). A cache's stamp, CACHE.jdk, names the JDK that recorded it: its real path and
# its release file (vendor, version, build); io.flowsec.appliance.warmstart.AotCache writes and reads the same.
flowsec_jdk_stamp() {
  local home
  home="$(readlink -f "$1")"
  printf 'java.home=%s\n' "$home"
  cat "$home/release" 2>/dev/null || true
}

# flowsec_aot_current CACHE JAVA_HOME FILE...: the cache was recorded by that JDK after every FILE (jars, their lib
# directories) last changed; the JVM would refuse it otherwise, so it is recorded again.
flowsec_aot_current() {
  local cache=$1 home=$2
  shift 2
  [ -f "$cache" ] && [ -f "$cache.jdk" ] && cmp -s "$cache.jdk" <(flowsec_jdk_stamp "$home") || return 1
  [ -z "$(find "$@" -newer "$cache" -print -quit 2>/dev/null)" ]
}
