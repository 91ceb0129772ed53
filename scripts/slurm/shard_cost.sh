#!/bin/bash
# "Sharding costs nothing": runs one `envforge synth` job unsharded and then as N shards (one after
# another, each into its own corpus, one worker each), and prints the CPU time (user + system, of the
# process and its sandboxes) of both, and their ratio. The shards together make exactly the same
# tasks, which it checks. On a shared machine one run's CPU time swings by a tenth: both are run
# REPEATS times, interleaved, and the median of the per-round ratios is the figure.
#
#   scripts/slurm/shard_cost.sh ENVFORGE_BINARY [COUNT=24] [SHARDS=4] [CATEGORY=trip] [REPEATS=3]
set -euo pipefail
envforge=$(readlink -f "${1:?usage: shard_cost.sh ENVFORGE_BINARY [COUNT] [SHARDS] [CATEGORY] [REPEATS]}")
count=${2:-24}
shards=${3:-4}
category=${4:-trip}
repeats=${5:-3}
dir=$(mktemp -d /tmp/envforge-shard-cost-XXXXXX)
trap 'rm -rf "$dir"' EXIT

# CPU seconds (user + system) of a command and its children (the sandbox runs); fails with it.
cpu_of() {
  /usr/bin/time -o "$dir/time" -f '%U %S' "$@" >/dev/null 2>>"$dir/log" ||
    { echo "shard_cost: failed: $* (see below)" >&2; tail -n 20 "$dir/log" >&2; exit 1; }
  awk '{ printf "%.2f", $1 + $2 }' "$dir/time"
}

args=(synth --category "$category" --count "$count" --seed 11 --jobs 1 --quiet)
ratios=()
for ((r = 0; r < repeats; r++)); do
  rm -f "$dir"/*.db*
  whole=$(cpu_of "$envforge" "${args[@]}" --out "$dir/whole.db")
  sum=0
  parts=()
  for ((i = 0; i < shards; i++)); do
    cpu=$(cpu_of "$envforge" "${args[@]}" --shard "$i/$shards" --out "$dir/shard$i.db")
    parts+=("$cpu")
    sum=$(awk -v a="$sum" -v b="$cpu" 'BEGIN { printf "%.2f", a + b }')
  done
  ratios+=("$(awk -v a="$sum" -v b="$whole" 'BEGIN { printf "%.3f", a / b }')")
  echo "  round $((r + 1)): unsharded ${whole} CPU-s, $shards shards summed ${sum} CPU-s (${parts[*]}): ${ratios[-1]}"
done
want=$(sqlite3 "$dir/whole.db" "SELECT id || content_hash FROM tasks" | sort)
got=$(for ((i = 0; i < shards; i++)); do sqlite3 "$dir/shard$i.db" "SELECT id || content_hash FROM tasks"; done | sort)
[ "$want" = "$got" ] || { echo "shard_cost: the shards did not make the unsharded job's tasks" >&2; exit 1; }
echo "shard_cost: $count $category environment(s), $(wc -l <<<"$want") tasks; $(cut -d' ' -f1-3 /proc/loadavg) load"
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "  shards / unsharded, median of $repeats: $median (target within 5%: 0.95 .. 1.05)"
