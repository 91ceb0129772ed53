#!/usr/bin/env bash
# Runs the CUDA kernel tests and the DSA decode benchmarks (ours and PyTorch eager, same run)
# on a machine with an NVIDIA GPU, and writes one JSON file named after the date and the device
# under bench/results/ (or $ENVFORGE_RESULTS_DIR).
#
#   scripts/gpu_bench.sh [--bin-dir DIR] [--quick] [--tests-only]
#
# --tests-only runs the GPU test suite alone (kernel parity and the GPU model against the CPU
# model) and writes bench/results/gpu_tests_DATE_DEVICE.json with every case and the error
# figures the tests print.
# Without --bin-dir it configures and builds build-gpu/ (ENVFORGE_CUDA=ON) for the two targets;
# with it, DIR holds ready-built engine_cuda_tests and dsa_gpu_bench. ENVFORGE_COMMIT names the
# source commit in the results when the tree is not a git checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir=""
quick=""
tests_only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin-dir) bin_dir="$2"; shift 2 ;;
    --quick) quick="--quick"; shift ;;
    --tests-only) tests_only=1; shift ;;
    *) echo "usage: $0 [--bin-dir DIR] [--quick] [--tests-only]" >&2; exit 2 ;;
  esac
done
if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_bench.sh: no NVIDIA GPU visible (nvidia-smi -L failed)" >&2
  exit 1
fi
if [[ -z "$bin_dir" ]]; then
  cmake -S . -B build-gpu -G Ninja -DENVFORGE_CUDA=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build-gpu --target engine_cuda_tests dsa_gpu_bench gpu_model_bench fp8_gemm_bench \
      indexer_bench
  bin_dir=build-gpu
  tests_bin=build-gpu/tests/engine_cuda_tests
  bench_bin=build-gpu/bench/dsa_gpu_bench
  extra_dir=build-gpu/bench
  model_bin=build-gpu/bench/gpu_model_bench
else
  tests_bin="$bin_dir/engine_cuda_tests"
  bench_bin="$bin_dir/dsa_gpu_bench"
  extra_dir="$bin_dir"
  model_bin="$bin_dir/gpu_model_bench"
fi
results_dir="${ENVFORGE_RESULTS_DIR:-bench/results}"
mkdir -p "$results_dir"
work="$(mktemp -d)"
# ENVFORGE_KEEP_RAW=DIR keeps the raw outputs (test log, both benchmarks' JSON) there.
trap '[[ -n "${ENVFORGE_KEEP_RAW:-}" ]] && cp -r "$work"/. "$ENVFORGE_KEEP_RAW"/; rm -rf "$work"' EXIT
step_timeout="${ENVFORGE_STEP_TIMEOUT:-1800}"  # seconds per step; a hung kernel must not hang CI

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$work/smi.csv"
# cuBLAS comes from the machine's CUDA toolkit
if [[ -d /usr/local/cuda/lib64 ]]; then
  export LD_LIBRARY_PATH="/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
set +e
timeout "$step_timeout" "$tests_bin" --gtest_output="json:$work/tests.json" 2>&1 | tee "$work/tests.log"
tests_rc=${PIPESTATUS[0]}
set -e
if [[ -n "$tests_only" ]]; then
  # decode steps of the whole model, graph replays against eager launches
  if [[ -x "$model_bin" ]]; then
    timeout "$step_timeout" "$model_bin" --source . --json "$work/model.json" | tee "$work/model.log"
  fi
  python3 - "$work" "$results_dir" "$tests_rc" "$*" <<'PY'
import datetime, json, os, re, subprocess, sys
work, results_dir, tests_rc, args = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
tests = json.load(open(f"{work}/tests.json"))
log = open(f"{work}/tests.log").read().splitlines()
smi = open(f"{work}/smi.csv").read().splitlines()
device = smi[1].split(",")[0].strip() if len(smi) > 1 else "unknown"
commit = os.environ.get("ENVFORGE_COMMIT", "")
if not commit:
    r = subprocess.run(["git", "rev-parse", "--verify", "HEAD"], capture_output=True, text=True)
    commit = r.stdout.strip() if r.returncode == 0 else "unknown"
now = datetime.datetime.now(datetime.timezone.utc)
cases = [{"name": s["name"] + "." + t["name"], "result": t.get("result", ""),
          "failed": bool(t.get("failures")), "time": t.get("time")}
         for s in tests["testsuites"] for t in s["testsuite"]]
doc = {"date": now.isoformat(timespec="seconds"), "device": device, "commit": commit,
       "command": "scripts/gpu_bench.sh " + args, "nvidia_smi": smi,
       "tests": {"exit_code": tests_rc, "total": tests["tests"], "failures": tests["failures"],
                 "cases": cases},
       # the figures the tests print (error of the GPU model against the CPU model, ...)
       "figures": [l for l in log if re.search(r"err|replays", l) and not l.startswith("[")]}
if os.path.exists(f"{work}/model.json"):
    doc["model_decode"] = json.load(open(f"{work}/model.json"))["decode"]
slug = re.sub(r"[^A-Za-z0-9]+", "-", device).strip("-").lower()
path = f"{results_dir}/gpu_tests_{now.strftime('%Y-%m-%d')}_{slug}.json"
json.dump(doc, open(path, "w"), indent=2)
print(f"\nwrote {path}")
print(f"tests: {tests['tests']} run, {tests['failures']} failed (exit {tests_rc})")
for f in doc["figures"]:
    print(f)
PY
  exit "$tests_rc"
fi
PYTHONUNBUFFERED=1 timeout "$step_timeout" python3 bench/dsa_gpu_bench_torch.py --json "$work/torch.json" $quick
timeout "$step_timeout" "$bench_bin" --ceilings "$work/torch.json" --json "$work/ours.json" $quick
# FP8 against bf16 linear layers, and the indexer alone; their tables go into the results as text.
for extra in fp8_gemm_bench indexer_bench; do
  if [[ -x "$extra_dir/$extra" ]]; then
    timeout "$step_timeout" "$extra_dir/$extra" | tee "$work/$extra.txt"
  fi
done

python3 - "$work" "$results_dir" "$tests_rc" "$*" <<'PY'
import datetime, json, os, re, subprocess, sys
work, results_dir, tests_rc, args = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ours = json.load(open(f"{work}/ours.json"))
torch = json.load(open(f"{work}/torch.json"))
tests = json.load(open(f"{work}/tests.json"))
cases = [(s["name"] + "." + t["name"], t.get("result", ""), bool(t.get("failures")))
         for s in tests["testsuites"] for t in s["testsuite"]]
commit = os.environ.get("ENVFORGE_COMMIT", "")
if not commit:
    try:
        r = subprocess.run(["git", "rev-parse", "--verify", "HEAD"], capture_output=True, text=True)
        commit = r.stdout.strip() if r.returncode == 0 else "unknown"
    except OSError:
        commit = "unknown"
now = datetime.datetime.now(datetime.timezone.utc)
rows = []
for o in ours["decode"]:
    t = next(x for x in torch["decode"] if x["batch"] == o["batch"] and x["context"] == o["context"])
    rows.append({
        "batch": o["batch"], "context": o["context"],
        "ours_sparse_ms": o["sparse"]["ms"], "ours_dense_ms": o["dense"]["ms"],
        "torch_sparse_ms": t["sparse_ms"], "torch_dense_ms": t["dense_ms"],
        "sparse_x_floor": o["sparse"]["x_floor"], "dense_x_floor": o["dense"]["x_floor"],
        "torch_sparse_over_ours": t["sparse_ms"] / o["sparse"]["ms"],
        "torch_dense_over_ours": t["dense_ms"] / o["dense"]["ms"],
    })
ragged = [{"batch": o["batch"], "context": o["context"], "ours_sparse_ms": o["sparse"]["ms"],
           "sparse_x_floor": o["sparse"]["x_floor"], "ours_dense_ms": o["dense"]["ms"],
           "dense_x_floor": o["dense"]["x_floor"], "ring_kernel_dense_ms": o["dense"]["ring_kernel_ms"]}
          for o in ours.get("decode_ragged", [])]
prefill = []
for o in ours.get("prefill", []):
    t = next((x for x in torch.get("prefill", []) if x["tokens"] == o["tokens"]), {})
    prefill.append({"tokens": o["tokens"], "ours_sparse_tokens_per_s": o["sparse_tokens_per_s"],
                    "ours_dense_tokens_per_s": o["dense_tokens_per_s"],
                    "torch_sdpa_dense_mha_tokens_per_s": t.get("tokens_per_s"),
                    "sparse_over_ours_dense": o["sparse_speedup"],
                    "sparse_over_torch_sdpa": (o["sparse_tokens_per_s"] / t["tokens_per_s"]) if t else None})
doc = {
    "date": now.isoformat(timespec="seconds"),
    "device": ours["device"],
    "commit": commit,
    "command": "scripts/gpu_bench.sh " + args,
    "tests": {"exit_code": tests_rc, "total": tests["tests"], "failures": tests["failures"],
              "disabled": tests.get("disabled", 0),
              "cases": [{"name": n, "result": r, "failed": f} for n, r, f in cases]},
    "ceilings": {"copy_bandwidth_GBps": ours["copy_bandwidth_GBps"],
                 "torch_copy_bandwidth_GBps": torch["copy_bandwidth_GBps"],
                 "bf16_matmul_tflops": torch["bf16_matmul_tflops"],
                 "fp8_matmul_tflops": torch.get("fp8_matmul_tflops")},
    "summary": rows,
    "ragged_summary": ragged,
    "prefill_summary": prefill,
    "ours": ours,
    "torch_eager": torch,
}
for extra in ("fp8_gemm_bench", "indexer_bench"):
    if os.path.exists(f"{work}/{extra}.txt"):
        doc[extra] = open(f"{work}/{extra}.txt").read().splitlines()
slug = re.sub(r"[^A-Za-z0-9]+", "-", ours["device"]).strip("-").lower()
path = f"{results_dir}/dsa_gpu_{now.strftime('%Y-%m-%d')}_{slug}.json"
json.dump(doc, open(path, "w"), indent=2)
print(f"\nwrote {path}")
print(f"tests: {tests['tests']} run, {tests['failures']} failed (exit {tests_rc})")
print(f"{'B':>3} {'ctx':>7} | {'ours DSA':>9} {'xfloor':>6} {'torch DSA':>9} | {'ours dense':>10} {'xfloor':>6} {'torch dense':>11}")
for r in rows:
    print(f"{r['batch']:>3} {r['context']:>7} | {r['ours_sparse_ms']:9.4f} {r['sparse_x_floor']:6.2f} "
          f"{r['torch_sparse_ms']:9.3f} | {r['ours_dense_ms']:10.4f} {r['dense_x_floor']:6.2f} {r['torch_dense_ms']:11.3f}")
for r in ragged:
    print(f"{r['batch']:>3} {r['context']:>7} ragged | {r['ours_sparse_ms']:9.4f} {r['sparse_x_floor']:6.2f} | "
          f"dense {r['ours_dense_ms']:.4f} {r['dense_x_floor']:.2f}x floor, ring kernel {r['ring_kernel_dense_ms']:.4f}")
for p in prefill:
    print(f"prefill {p['tokens']:>7} tokens: ours sparse {p['ours_sparse_tokens_per_s']:.0f} tok/s, "
          f"ours dense {p['ours_dense_tokens_per_s']:.0f} tok/s, torch SDPA dense MHA "
          f"{p['torch_sdpa_dense_mha_tokens_per_s'] or 0:.0f} tok/s")
PY
exit "$tests_rc"
