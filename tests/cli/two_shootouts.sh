#!/usr/bin/env bash
# two_shootouts.sh JOULE_SHOOTOUT: two joule-shootout processes measuring different policies of the
# small ResNet at the same time, writing one wisdom file. Afterwards the file is valid JSON and
# holds every candidate of both: the writer's lock and merge lose neither's entries.
set -uo pipefail
shootout=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/joule_two_shootouts_XXXXXX")
trap 'rm -rf "$work"' EXIT
common=(--model resnet50 --small --threads 1,2 --budget 0.2 --wisdom "$work/wisdom.json")
"$shootout" "${common[@]}" --policies scalar,simd >"$work/a.out" 2>&1 &
a=$!
"$shootout" "${common[@]}" --policies scalar,blas,eigen >"$work/b.out" 2>&1 &
b=$!
wait $a; code_a=$?
wait $b; code_b=$?
cat "$work/a.out" "$work/b.out"
[ $code_a -eq 0 ] && [ $code_b -eq 0 ] || { echo "FAIL: exit codes $code_a and $code_b" >&2; exit 1; }
python3 - "$work/wisdom.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
have = sorted(f'{e["key"]["policy"]}/{e["key"]["threads"]}' for e in doc["entries"].values())
# scalar runs on one thread only (the shootout measures it at 1 thread).
want = sorted(["scalar/1"] + [f"{p}/{t}" for p in ("simd", "blas", "eigen") for t in (1, 2)])
print("wisdom holds", have)
sys.exit(0 if have == want else f"FAIL: expected {want}")
PY
