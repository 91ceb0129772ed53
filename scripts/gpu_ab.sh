#!/usr/bin/env bash
# Same-session A/B timings of the MLA kernels: dsa_gpu_bench --quick --decode B:L [--ragged] from
# several build directories in turn, the directories alternating within each round, so that
# builds are compared on one device under the same conditions. Prints, per run, the DSA step's
# time, the dense path's time and its multiple of the copy floor, and the ring kernel's time.
#
#   scripts/gpu_ab.sh [--rounds N] DIR... -- CONFIG...
#
# DIR holds a dsa_gpu_bench binary; CONFIG is B:L, or B:Lr for the ragged batch (query b of B
# sees L (b + 1) / B rows).
set -euo pipefail
rounds=1
dirs=()
while [[ $# -gt 0 && "$1" != "--" ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    *) dirs+=("$1"); shift ;;
  esac
done
[[ $# -gt 0 ]] && shift
configs=("$@")
if [[ ${#dirs[@]} -eq 0 || ${#configs[@]} -eq 0 ]]; then
  echo "usage: $0 [--rounds N] DIR... -- B:L[r]..." >&2
  exit 2
fi
for d in "${dirs[@]}"; do
  [[ -x "$d/dsa_gpu_bench" ]] || { echo "$0: no dsa_gpu_bench in $d" >&2; exit 2; }
done
for cfg in "${configs[@]}"; do
  args=(--decode "${cfg%r}")
  [[ "$cfg" == *r ]] && args+=(--ragged)
  for round in $(seq "$rounds"); do
    for d in "${dirs[@]}"; do
      line=$("$d/dsa_gpu_bench" --quick "${args[@]}" | grep -E '^B=')
      printf '%s round %s %s: %s | %s | %s\n' "$cfg" "$round" "$d" \
        "$(grep -oE 'sparse +[0-9.]+ ms' <<<"$line")" \
        "$(grep -oE 'dense +[0-9.]+ ms [0-9.]+x' <<<"$line")" \
        "$(grep -oE 'ring kernel [0-9.]+' <<<"$line")"
    done
  done
done
