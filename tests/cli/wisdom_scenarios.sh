#!/usr/bin/env bash
# wisdom_scenarios.sh JOULE_SHOOTOUT SCENARIO: joule-shootout end to end against a wisdom file in
# trouble. Every scenario checks what the user sees (the message and the exit code) and that the
# wisdom the user had before is still there, whole. Scenarios:
#   corrupt      the wisdom file is not JSON: set aside as wisdom.json.corrupt-*, said so, rebuilt; exit 0
#   not_a_dir    the wisdom path runs through a regular file (ENOTDIR; unwritable even for root): exit 1, message
#   read_only    the wisdom directory is a read-only file system (needs root for the mount, else skipped: 77)
#   full_disk    the wisdom's file system is full (a 256 KiB tmpfs; root, else skipped: 77): exit 1, the
#                previous wisdom byte for byte, no temporary file left
#   sigint       SIGINT while a shootout measures: killed (exit 130), the previous wisdom still whole
# Uses the small configurations and a short budget, so each scenario takes seconds.
set -uo pipefail
shootout=$1 scenario=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/joule_wisdom_${scenario}_XXXXXX")
mounted=""
cleanup() {
  [ -z "$mounted" ] || umount "$mounted" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL ($scenario): $*" >&2; exit 1; }
# The cheapest real shootout: one small model, the scalar policy, one thread.
quick=(--model resnet50 --small --policies scalar --threads 1 --budget 0.05)

# run EXPECTED_EXIT ARGS...: joule-shootout ARGS, its output in $work/out; fails on another exit code.
run() {
  local expected=$1
  shift
  "$shootout" "$@" >"$work/out" 2>&1
  local code=$?
  cat "$work/out"
  [ "$code" -eq "$expected" ] || fail "joule-shootout exited $code, expected $expected"
}
expect_output() { grep -Eq -- "$1" "$work/out" || fail "the output does not say: $1"; }
# Makes a wisdom file with the scalar entry at $1.
make_previous() {
  run 0 "${quick[@]}" --wisdom "$1"
  [ -s "$1" ] || fail "the first shootout wrote no wisdom file"
  cp "$1" "$work/previous.json"
}
can_mount() { [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=64k tmpfs "$work/probe" 2>/dev/null && umount "$work/probe"; }

case $scenario in
  corrupt)
    printf '{"format_version": 1, "entries": {"abc": ' >"$work/wisdom.json"
    run 0 "${quick[@]}" --wisdom "$work/wisdom.json"
    expect_output "was set aside as '.*wisdom.json.corrupt-[0-9TZ-]+': it is not valid JSON; it will be rebuilt"
    aside=$(ls "$work"/wisdom.json.corrupt-*) || fail "no wisdom.json.corrupt-* file"
    [ "$(cat "$aside")" = '{"format_version": 1, "entries": {"abc": ' ] || fail "the set-aside file was changed"
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(len(d['entries']) != 1)" "$work/wisdom.json" ||
      fail "the rebuilt wisdom file does not hold the new measurement"
    ;;
  not_a_dir)
    touch "$work/file"
    run 1 "${quick[@]}" --wisdom "$work/file/wisdom.json"
    expect_output "joule-shootout: error: .*wisdom.*Not a directory"
    ;;
  read_only)
    mkdir -p "$work/probe" "$work/ro"
    can_mount || { echo "SKIP: mounting a tmpfs needs root"; exit 77; }
    make_previous "$work/ro/wisdom.json"
    mount -t tmpfs -o size=64k tmpfs "$work/ro" || fail "mount"
    mounted="$work/ro"
    cp "$work/previous.json" "$work/ro/wisdom.json"
    mount -o remount,ro "$work/ro" || fail "remount read-only"
    run 1 "${quick[@]}" --retune --wisdom "$work/ro/wisdom.json"
    expect_output "wisdom.*Read-only file system"
    cmp -s "$work/previous.json" "$work/ro/wisdom.json" || fail "the previous wisdom changed"
    ;;
  full_disk)
    mkdir -p "$work/probe" "$work/full"
    can_mount || { echo "SKIP: mounting a tmpfs needs root"; exit 77; }
    make_previous "$work/previous-wisdom.json"
    mount -t tmpfs -o size=256k tmpfs "$work/full" || fail "mount"
    mounted="$work/full"
    cp "$work/previous.json" "$work/full/wisdom.json"
    touch "$work/full/wisdom.json.lock"
    # Fill every free block: the next write of the wisdom file gets ENOSPC.
    dd if=/dev/zero of="$work/full/filler" bs=4k 2>/dev/null
    run 1 "${quick[@]}" --retune --wisdom "$work/full/wisdom.json"
    expect_output "could not write the wisdom file: .*No space left on device"
    expect_output "joule-shootout: error: the wisdom file .* could not be written"
    cmp -s "$work/previous.json" "$work/full/wisdom.json" || fail "the previous wisdom changed"
    ! ls "$work"/full/wisdom.json.tmp.* >/dev/null 2>&1 || fail "a temporary file was left behind"
    ;;
  sigint)
    make_previous "$work/wisdom.json"
    # Several candidates with a longer budget, so the signal arrives while measuring. Job control on:
    # without it, bash starts background commands with SIGINT ignored.
    set -m
    "$shootout" --model resnet50 --small --policies scalar,simd,blas,eigen --threads 1,2 --budget 2 --retune \
      --wisdom "$work/wisdom.json" >"$work/out" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do  # up to 30 s for the first candidate to start measuring
      grep -q "measured," "$work/out" && break
      sleep 0.1
    done
    sleep 0.5
    kill -INT "$pid"
    wait "$pid"
    code=$?
    cat "$work/out"
    [ "$code" -ne 0 ] || fail "joule-shootout exited 0 after SIGINT"
    echo "exit code after SIGINT: $code"
    python3 - "$work/previous.json" "$work/wisdom.json" <<'PY' || fail "the previous wisdom was lost"
import json, sys
before, after = (json.load(open(p)) for p in sys.argv[1:])
missing = set(before["entries"]) - set(after["entries"])
sys.exit(f"lost entries: {sorted(missing)}" if missing else 0)
PY
    ;;
  *)
    fail "unknown scenario"
    ;;
esac
echo "PASS ($scenario)"
