#!/usr/bin/env bash
# expect_failure.sh EXIT_CODE REGEX COMMAND...: runs COMMAND and passes only when it exits with
# EXIT_CODE and its output (stdout and stderr) matches the extended REGEX. CTest's own
# PASS_REGULAR_EXPRESSION ignores the exit code, and WILL_FAIL ignores the message: the bad-input
# tests need both, so that a crash (exit 134, 139) or a silent success fails them.
set -uo pipefail
expected_code=$1 regex=$2
shift 2
output=$("$@" 2>&1)
code=$?
printf '%s\n' "$output"
if [ "$code" -ne "$expected_code" ]; then
  echo "expect_failure: exit code $code, expected $expected_code" >&2
  exit 1
fi
if ! grep -Eq -- "$regex" <<<"$output"; then
  echo "expect_failure: the output does not match: $regex" >&2
  exit 1
fi
echo "expect_failure: exit $code and the expected message"
