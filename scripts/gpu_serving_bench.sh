#!/usr/bin/env bash
# The serving engine on a GPU: the GPU engine tests (prefix blocks shared by reference, batched
# against alone, eviction when the block pool is full; the GPU model against the CPU model),
# then a full-shape random checkpoint (model/tools/make_full_shape_checkpoint.py, as many
# layers as fit the card) and bench/serving_bench on it: decode throughput of 64 sessions
# against one at a time and against the step's floor, where a step's time goes phase by phase,
# batch-1 latency at 32K and 128K, and the prefix cache's time to first token. First,
# bench/moe_gemm_bench: the expert GEMMs' two kernels against their floor at decode batches. Writes bench/results/serving_gpu_DATE_DEVICE.json (or
# under $ENVFORGE_RESULTS_DIR).
#
#   scripts/gpu_serving_bench.sh [--bin-dir DIR] [--layers N] [--ckpt-dir DIR]
#
# Without --bin-dir it configures and builds build-gpu/ (ENVFORGE_CUDA=ON) for the two targets;
# with it, DIR holds ready-built engine_cuda_tests, serving_bench and moe_gemm_bench (a machine
# without the libraries they link, e.g. spdlog and fmt, needs copies of them on LD_LIBRARY_PATH). --layers overrides the
# layer count (default: one dense layer and as many MoE layers as fit the card's memory).
# ENVFORGE_COMMIT names the source commit when the tree is not a git checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir=""
layers=""
ckpt_dir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin-dir) bin_dir="$2"; shift 2 ;;
    --layers) layers="$2"; shift 2 ;;
    --ckpt-dir) ckpt_dir="$2"; shift 2 ;;
    *) echo "usage: $0 [--bin-dir DIR] [--layers N] [--ckpt-dir DIR]" >&2; exit 2 ;;
  esac
done
if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_serving_bench.sh: no NVIDIA GPU visible (nvidia-smi -L failed)" >&2
  exit 1
fi
if [[ -z "$bin_dir" ]]; then
  cmake -S . -B build-gpu -G Ninja -DENVFORGE_CUDA=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build-gpu --target engine_cuda_tests serving_bench moe_gemm_bench
  tests_bin=build-gpu/tests/engine_cuda_tests
  bench_bin=build-gpu/bench/serving_bench
  moe_bin=build-gpu/bench/moe_gemm_bench
else
  tests_bin="$bin_dir/engine_cuda_tests"
  bench_bin="$bin_dir/serving_bench"
  moe_bin="$bin_dir/moe_gemm_bench"
fi
if [[ -d /usr/local/cuda/lib64 ]]; then
  export LD_LIBRARY_PATH="/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
results_dir="${ENVFORGE_RESULTS_DIR:-bench/results}"
mkdir -p "$results_dir"
work="$(mktemp -d)"
trap '[[ -n "${ENVFORGE_KEEP_RAW:-}" ]] && cp -r "$work"/. "$ENVFORGE_KEEP_RAW"/; rm -rf "$work"' EXIT
step_timeout="${ENVFORGE_STEP_TIMEOUT:-900}"

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$work/smi.csv"
set +e
timeout "$step_timeout" "$tests_bin" --gtest_filter='GpuEngine*:GpuModel*:MoeKernels*' \
    --gtest_output="json:$work/tests.json" 2>&1 | tee "$work/tests.log"
tests_rc=${PIPESTATUS[0]}
timeout "$step_timeout" "$moe_bin" --json "$work/moe.json" 2>&1 | tee "$work/moe.log"
moe_rc=${PIPESTATUS[0]}
set -e

# Layers: a full-shape MoE layer holds its 256 experts in bf16 on the device (about 22.5 GB);
# keep about 18 GB for the embedding, the head, the caches of 64 sessions and the workspaces.
mem_gb=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -1 | awk '{print int($1 / 1024)}')
if [[ -z "$layers" ]]; then
  moe=$(( (mem_gb - 18) / 23 ))
  (( moe < 1 )) && moe=1
  layers=$(( moe + 1 ))
fi
if [[ -z "$ckpt_dir" ]]; then
  shm_gb=$(df --output=avail -BG /dev/shm 2>/dev/null | tail -1 | tr -dc '0-9')
  if [[ -n "$shm_gb" ]] && (( shm_gb > 12 * layers + 8 )); then ckpt_dir=/dev/shm/envforge_full_shape
  else ckpt_dir="${TMPDIR:-/tmp}/envforge_full_shape"; fi
fi
PYTHONUNBUFFERED=1 timeout "$step_timeout" python3 model/tools/make_full_shape_checkpoint.py "$ckpt_dir" \
    --layers "$layers" --dense 1 | tee "$work/ckpt.log"
set +e
timeout "$step_timeout" "$bench_bin" --gpu --model "$ckpt_dir" --json "$work/bench.json" 2>&1 | tee "$work/bench.log"
bench_rc=${PIPESTATUS[0]}
set -e
rm -rf "$ckpt_dir"

python3 - "$work" "$results_dir" "$tests_rc" "$bench_rc" "$*" "$moe_rc" <<'PY'
import datetime, json, os, re, subprocess, sys
work, results_dir, tests_rc, bench_rc, args = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
moe_rc = int(sys.argv[6])
smi = open(f"{work}/smi.csv").read().splitlines()
device = smi[1].split(",")[0].strip() if len(smi) > 1 else "unknown"
commit = os.environ.get("ENVFORGE_COMMIT", "")
if not commit:
    r = subprocess.run(["git", "rev-parse", "--verify", "HEAD"], capture_output=True, text=True)
    commit = r.stdout.strip() if r.returncode == 0 else "unknown"
now = datetime.datetime.now(datetime.timezone.utc)
doc = {"date": now.isoformat(timespec="seconds"), "device": device, "commit": commit,
       "command": "scripts/gpu_serving_bench.sh " + args, "nvidia_smi": smi}
if os.path.exists(f"{work}/tests.json"):
    tests = json.load(open(f"{work}/tests.json"))
    doc["tests"] = {"exit_code": tests_rc, "total": tests["tests"], "failures": tests["failures"],
                    "cases": [{"name": s["name"] + "." + t["name"], "result": t.get("result", ""),
                               "failed": bool(t.get("failures"))}
                              for s in tests["testsuites"] for t in s["testsuite"]],
                    "figures": [l for l in open(f"{work}/tests.log").read().splitlines()
                                if re.search(r"err|identical|replays", l) and not l.startswith("[")]}
doc["moe_gemm_exit_code"] = moe_rc
doc["moe_gemm_log"] = open(f"{work}/moe.log").read().splitlines()
if os.path.exists(f"{work}/moe.json"):
    doc["moe_gemm"] = json.load(open(f"{work}/moe.json"))
doc["checkpoint"] = open(f"{work}/ckpt.log").read().splitlines()[-1:]
doc["bench_exit_code"] = bench_rc
doc["bench_log"] = open(f"{work}/bench.log").read().splitlines()
if os.path.exists(f"{work}/bench.json"):
    doc["bench"] = json.load(open(f"{work}/bench.json"))
slug = re.sub(r"[^A-Za-z0-9]+", "-", device).strip("-").lower()
path = f"{results_dir}/serving_gpu_{now.strftime('%Y-%m-%d')}_{slug}.json"
json.dump(doc, open(path, "w"), indent=2)
print(f"\nwrote {path}")
for l in doc["moe_gemm_log"] + doc["bench_log"]:
    print(l)
PY
exit $(( tests_rc != 0 || bench_rc != 0 || moe_rc != 0 ))
