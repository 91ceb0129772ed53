#!/bin/bash
# Device run: sandbox_bench before (HEAD~1 launcher) and after, pinned to 2 CPUs, then
# the sandbox suite (cgroup modes as this host gives them).
D=$(cd "$(dirname "$0")" && pwd)
S=/opt/sb; mkdir -p $S; cp -a $D/. $S/; chmod -R a+rX $S; chmod 755 /opt
echo "== env"; uname -r; grep PRETTY /etc/os-release; nproc; id -u; uptime
for l in libselinux.so.1 libcap.so.2 libpcre2-8.so.0 libseccomp.so.2; do
  ldconfig -p | grep -q "$l " || { cp $S/lib/$l /usr/local/lib/; echo "carried $l"; }
done; ldconfig
echo "== cgroups"; stat -fc %T /sys/fs/cgroup; cat /proc/self/cgroup
cat /sys/fs/cgroup/cgroup.controllers /sys/fs/cgroup/cgroup.subtree_control 2>&1 | head -4
grep cgroup /proc/self/mountinfo | awk '{print $4, $5, $6, $9}' | head -8
ls -ld /sys/fs/cgroup; touch /sys/fs/cgroup/.w 2>&1 | head -1; rm -f /sys/fs/cgroup/.w
echo "== python"; ls -la /usr/bin/python3; python3 --version
export SANDBOX_BENCH_BWRAP=$S/bwrap; $S/bwrap --version
for r in 1 2; do for v in old new; do
  echo "== $v round $r (taskset -c 0,1)"
  ENVFORGE_SANDBOX_LAUNCHER=$S/launcher_$v timeout 60 taskset -c 0,1 $S/sandbox_bench_$v --quick > $OUT/bench_${v}_$r.txt 2>&1
  cat $OUT/bench_${v}_$r.txt
done; done
echo "== sandbox_tests"
mkdir -p /work/main/build-sb/tests/sandbox && cp $S/sandbox_attack /work/main/build-sb/tests/sandbox/
[ -f /work/main/CMakeLists.txt ] || cp CMakeLists.txt /work/main/
ENVFORGE_SANDBOX_LAUNCHER=$S/launcher_new timeout 100 $S/sandbox_tests > $OUT/sandbox_tests.txt 2>&1; echo "tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED TEST|tests from .* ran" $OUT/sandbox_tests.txt | head -30
echo "== table (median ms, /bin/true)"
for f in $OUT/bench_*.txt; do printf "%-16s %s | %s | %s\n" $(basename $f .txt) "$(grep 'memory limits' $f | cut -c1-60)" "$(grep -E '^(bare|bubblewrap|envforge box) /bin/true' $f | grep -o 'median *[0-9.]*' | awk '{print $2}' | tr '\n' ' ')" "$(grep -o '[0-9.]*x faster' $f | head -1)"; done
