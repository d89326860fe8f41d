# machine.sh - sourced by the bench scripts (run_e2e.sh, run_archs.sh):
# describe_machine NORMLAB prints what a measurement was taken on (the
# date, the commit, normlab's build and kernels, the CPU and its caches, the
# ISA extensions that pick the kernels, the load) for their machine.txt.
describe_machine() {
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD)"
  "$1" --version
  lscpu | grep -E '^(Model name|CPU family|Model|Thread|Core|Socket|CPU\(s\)|L1d|L2|L3)'
  echo "isa: $(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx2|fma|avx512f|avx512_bf16|amx_tile' | tr '\n' ' ')"
  echo "uptime: $(uptime)"
}
