#!/usr/bin/env bash
# Spark 4.2 needs a Java 17 or 21 runtime. Use the one on PATH / JAVA_HOME when it is new enough;
# otherwise install OpenJDK 17 with apt-get when we may (root on Debian/Ubuntu), else say exactly how.
set -euo pipefail

java_bin=""
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then java_bin="$JAVA_HOME/bin/java";
elif command -v java >/dev/null 2>&1; then java_bin="$(command -v java)"; fi

major() { "$1" -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}'; }

if [ -n "$java_bin" ] && [ "$(major "$java_bin")" -ge 17 ] 2>/dev/null; then
  exit 0
fi

echo "invspark: Spark 4.2 needs Java 17 or newer; found: ${java_bin:-none}." >&2
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "invspark: installing openjdk-17-jre-headless with apt-get ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >&2
  exit 0
fi
cat >&2 <<'MSG'
Install a Java 17 runtime, then re-run make:
  Debian/Ubuntu:  sudo apt-get install -y openjdk-17-jre-headless
  Fedora/RHEL:    sudo dnf install -y java-17-openjdk-headless
  macOS:          brew install openjdk@17 && export JAVA_HOME="$(brew --prefix openjdk@17)"
  any OS:         download Temurin 17 from adoptium.net and set JAVA_HOME to it
MSG
exit 1
