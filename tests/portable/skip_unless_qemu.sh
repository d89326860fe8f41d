# Sourced by the portable checks: exit 77 (CTest's "skipped") off x86-64 or
# without qemu-x86_64 (tests/deps.sh installs qemu-user).
if [ "$(uname -m)" != x86_64 ]; then
    echo "skipped: not an x86-64 machine"
    exit 77
fi
if ! command -v qemu-x86_64 >/dev/null; then
    echo "skipped: qemu-x86_64 is not installed (apt-get install qemu-user)"
    exit 77
fi
