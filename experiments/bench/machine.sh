# machine.sh - sourced by the bench scripts (run_e2e.sh, run_archs.sh):
# describe_machine NORMLAB [THREADS] prints what a measurement was taken on
# (the date, the commit, normlab's build and kernels, the CPU and its
# caches, the ISA extensions that pick the kernels, the load, and the
# measured peaks: the core's FMA peak, the yardstick of every share of peak,
# and the sgemm probe beside it, on 1 thread and on THREADS) for their
# machine.txt.
describe_machine() {
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD)"
  "$1" --version
  lscpu | grep -E '^(Model name|CPU family|Model|Thread|Core|Socket|CPU\(s\)|L1d|L2|L3)'
  echo "isa: $(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx2|fma|avx512f|avx512_bf16|amx_tile' | tr '\n' ' ')"
  echo "uptime: $(uptime)"
  "$1" bench --peak --threads "${2:-0}" | grep -A2 -E '^(single-precision peak|FMA peak)'
}
