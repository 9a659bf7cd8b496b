#!/usr/bin/env bash
# The project's one test command (the README's and CI's): installs what the tests need when it is missing,
# builds once, runs every test suite, and ends with one line: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

need_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "run as root or install: $*" >&2; return 1; fi; }

# 1. What the tests need.
if ! command -v redis-server >/dev/null 2>&1; then
  say "installing redis-server (tests claiming Redis semantics run a real one)"
  need_root apt-get update -qq && need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null \
    || { echo "could not install redis-server: apt-get install -y redis-server" >&2; exit 1; }
fi
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  say "installing chromium (tests/dashboard drives the Live dashboard in headless Chromium)"
  need_root apt-get update -qq && need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || { echo "could not install chromium: apt-get install -y chromium" >&2; exit 1; }
fi
command -v node >/dev/null 2>&1 || { echo "Node.js 20+ is required (node not found)" >&2; exit 1; }
for dir in tests/*/ services/*/; do
  if [ -f "$dir/package.json" ]; then
    say "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci failed in $dir" >&2; exit 1; }
  fi
done

# 2. Build everything once (warnings are errors).
say "dotnet build Platform.sln -c Release"
dotnet build Platform.sln -c Release -nologo -clp:ErrorsOnly || { echo "0 passed, 1 failed, 0 skipped (the build failed)"; exit 1; }

passed=0; failed=0; skipped=0; status=0
results=$(mktemp -d)

# 3. .NET test projects.
for proj in tests/*/*.csproj; do
  say "dotnet test $proj"
  log="$results/$(basename "$proj").log"
  dotnet test "$proj" -c Release --no-build -nologo 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  line=$(grep -E '(Passed|Failed)!.*Total:' "$log" | tail -1)
  p=$(sed -nE 's/.*Passed: *([0-9]+).*/\1/p' <<<"$line"); f=$(sed -nE 's/.*Failed: *([0-9]+),.*/\1/p' <<<"$line"); s=$(sed -nE 's/.*Skipped: *([0-9]+).*/\1/p' <<<"$line")
  if [ -z "$line" ]; then f=1; fi
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
done

# 4. Node test suites (node's own runner).
for dir in tests/*/ services/*/; do
  if [ -f "$dir/package.json" ]; then
    say "npm test in $dir"
    log="$results/$(basename "$dir").node.log"
    (cd "$dir" && npm test 2>&1) | tee "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    # node's summary: "# pass N" (tap reporter) or "ℹ pass N" (spec reporter).
    p=$(sed -nE 's/^(#|ℹ) pass ([0-9]+)/\2/p' "$log" | tail -1); f=$(sed -nE 's/^(#|ℹ) fail ([0-9]+)/\2/p' "$log" | tail -1); s=$(sed -nE 's/^(#|ℹ) skipped ([0-9]+)/\2/p' "$log" | tail -1)
    if [ -z "$p" ]; then f=$(( ${f:-0} + 1 )); fi
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
  fi
done

rm -rf "$results"
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
