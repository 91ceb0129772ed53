#!/bin/bash
# A real Slurm cluster on this machine: starts munged, slurmctld and slurmd (as root, configured in
# a temporary directory, on free ports), submits scripts/slurm/synth_array.sbatch as a 4-task array
# of `envforge synth` plus its dependent merge job, waits, and checks that the merged corpus holds
# exactly the task ids and content hashes of the same job run unsharded. Every daemon it started is
# stopped on exit.
#
#   scripts/slurm/test_cluster.sh ENVFORGE_BINARY [COUNT]
#
# Exit status: 0 passed; 77 skipped, when Slurm cannot start here (the reason is the last line,
# "SKIP: ..."); anything else failed. Set KEEP_CLUSTER_DIR=1 to keep the directory for a look.
set -euo pipefail

envforge=$(readlink -f "${1:?usage: test_cluster.sh ENVFORGE_BINARY [COUNT]}")
count=${2:-8}
shards=4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sbatch_script="$here/synth_array.sbatch"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root to run slurmd (running as uid $(id -u))"
for tool in munged slurmctld slurmd sbatch squeue sinfo scontrol sqlite3; do
  command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
  command -v "$tool" >/dev/null 2>&1 ||
    skip "$tool is not installed (Debian packages slurm-wlm, munge, sqlite3; scripts/setup.sh installs them)"
done
[ -x "$envforge" ] || fail "no envforge binary at $1"

dir=$(mktemp -d /tmp/envforge-slurm-XXXXXX)
chmod 700 "$dir"
pids=()
cleanup() {
  local rc=$?
  if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ]; then scancel --quiet --user=root 2>/dev/null || true; fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
    for log in "$dir"/*.log "$dir"/out/*.log; do
      [ -f "$log" ] && { echo "--- $log"; tail -n 30 "$log"; }
    done >&2
  fi
  [ -n "${KEEP_CLUSTER_DIR:-}" ] && echo "kept $dir" || rm -rf "$dir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Three free TCP ports on the loopback (slurmctld, slurmd, and one spare to avoid neighbours).
read -r ctld_port slurmd_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')

# munge, with its own key and socket.
dd if=/dev/urandom of="$dir/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge.key"
munged -F --force --key-file="$dir/munge.key" --socket="$dir/munge.sock" --pid-file="$dir/munged.pid" \
  --log-file="$dir/munged.log" --seed-file="$dir/munged.seed" >"$dir/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$dir/munge.sock" ] && break; sleep 0.1; done
[ -S "$dir/munge.sock" ] || skip "munged did not start: $(tail -n 3 "$dir/munged.out" "$dir/munged.log" 2>/dev/null | tr '\n' ' ')"

node=$(hostname -s)
mkdir -p "$dir/state" "$dir/spool" "$dir/out"
export SLURM_CONF="$dir/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=envforge-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
LaunchParameters=use_interactive_step
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF

slurmctld -D -c -f "$SLURM_CONF" >"$dir/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$node" >"$dir/slurmd.out" 2>&1 &
pids+=($!)
state=
for _ in $(seq 120); do
  state=$(sinfo -h -n "$node" -o %t 2>/dev/null || true)
  case "$state" in idle*|mix*|alloc*) break ;; esac
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null ||
      skip "a Slurm daemon exited at start: $(tail -n 3 "$dir"/slurm*.out "$dir"/slurm*.log 2>/dev/null | tr '\n' ' ')"
  done
  sleep 0.5
done
case "$state" in idle*|mix*|alloc*) ;; *) skip "the Slurm node did not come up (state '$state'): $(tail -n 3 "$dir/slurmd.log" 2>/dev/null | tr '\n' ' ')" ;; esac
echo "cluster up: node $node, slurmctld on port $ctld_port"

# The job unsharded, on this machine, for comparison.
synth_args="--category trip --count $count --seed 7"
"$envforge" synth $synth_args --jobs 2 --quiet --out "$dir/whole.db" >"$dir/whole.log" 2>&1 ||
  fail "the unsharded synth failed: $(tail -n 5 "$dir/whole.log")"

# The same job as a Slurm array of 4 plus the dependent merge, through the shipped launcher.
cd "$dir/out"
submitted=$(ENVFORGE="$envforge" OUT_DIR="$dir/out" SYNTH_ARGS="$synth_args" SHARDS=$shards \
  ARRAY_SBATCH_ARGS="--cpus-per-task=1 --mem=100M --time=10 --output=$dir/out/synth-%A_%a.log" \
  MERGE_SBATCH_ARGS="--cpus-per-task=1 --mem=100M --time=10" bash "$sbatch_script") ||
  fail "submitting failed: $submitted"
echo "$submitted"
array_job=$(sed -n 's/^array job \([0-9]*\).*/\1/p' <<<"$submitted")
merge_job=$(sed -n 's/.*merge job \([0-9]*\).*/\1/p' <<<"$submitted")
[ -n "$array_job" ] && [ -n "$merge_job" ] || fail "unexpected submit output: $submitted"

job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | sort -u | tr '\n' ' '; }
deadline=$((SECONDS + ${CLUSTER_TEST_TIMEOUT:-600}))
while :; do
  merge_state=$(job_state "$merge_job")
  case "$merge_state" in
    "COMPLETED ") break ;;
    *FAILED*|*CANCELLED*|*TIMEOUT*|*NODE_FAIL*|*OUT_OF_MEMORY*)
      fail "merge job $merge_job: $merge_state (array: $(job_state "$array_job"))" ;;
  esac
  [ "$SECONDS" -lt "$deadline" ] || fail "jobs did not finish in time (array: $(job_state "$array_job"), merge: $merge_state)"
  sleep 1
done
[ "$(job_state "$array_job")" = "COMPLETED " ] || fail "array job $array_job: $(job_state "$array_job")"

# Each shard recorded its own part, with its place in the run record.
for ((i = 0; i < shards; i++)); do
  shard="$dir/out/shard-$i-of-$shards.db"
  [ -f "$shard" ] || fail "$shard is missing"
  got=$(sqlite3 "$shard" "SELECT shard_index || '/' || shard_count FROM runs")
  [ "$got" = "$i/$shards" ] || fail "$shard: run record says shard '$got', expected $i/$shards"
done
tasks_of() { sqlite3 "$1" "SELECT id || ' ' || content_hash FROM tasks ORDER BY id"; }
want=$(tasks_of "$dir/whole.db")
got=$(tasks_of "$dir/out/all.db")
[ -n "$want" ] || fail "the unsharded run made no tasks"
if [ "$want" != "$got" ]; then
  diff <(echo "$want") <(echo "$got") | head -n 20 >&2
  fail "the merged corpus differs from the unsharded run"
fi
envs=$(sqlite3 "$dir/out/all.db" "SELECT count(*) FROM work_items")
[ "$envs" -eq "$count" ] || fail "merged corpus has $envs work items, expected $count"
echo "PASS: $shards-task Slurm array + merge made the $(wc -l <<<"$want") tasks of the unsharded run ($count environments)"
