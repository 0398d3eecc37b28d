#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the given packages for FUZZTIME each.
# A target fails the run when the fuzzer finds an input that fails (it is
# then written under testdata/fuzz/ and becomes a regression test). Go's
# fuzzer sometimes ends a run that found nothing with "context deadline
# exceeded" when the time runs out mid-minimization; that is reported and
# not counted as a finding.
#
#   scripts/fuzz.sh 10s ./repodata ./config ...
set -uo pipefail
fuzztime=$1; shift
export CGO_ENABLED=0
status=0
for pkg in "$@"; do
  for f in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
    echo "== $pkg $f"
    out=$(go test -run '^$' -fuzz "^$f\$" -fuzztime "$fuzztime" -fuzzminimizetime 2s "$pkg" 2>&1)
    rc=$?
    [ $rc -eq 0 ] && echo "$out" | tail -2
    if [ $rc -ne 0 ]; then
      if echo "$out" | grep -q "Failing input written to" || ! echo "$out" | grep -q "context deadline exceeded"; then
        echo "$out"
        status=1
      else
        echo "fuzz.sh: $f stopped with 'context deadline exceeded' and no failing input: not a finding"
      fi
    fi
  done
done
exit $status
