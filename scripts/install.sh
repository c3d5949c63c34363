#!/usr/bin/env bash
# Install everything Squall and its tests need on a fresh Debian machine, start the
# Docker Engine if it is not running, and build the local base images (no registry
# needed). Safe to run again: each step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  iproute2 iptables iputils-ping   # kernel tools the fault layer drives
  busybox-static mmdebstrap        # local base images, from Debian packages
  socat ncat netcat-openbsd        # the seed's techniques (blockade.yml runs `nc -kld`)
  sqlite3 iperf3                   # the SQLite examples and the benchmarks
  docker-compose                   # `squall config` is checked against `docker-compose config`
  chromium chromium-driver         # the dashboard's browser test (Selenium)
  qemu-system-x86 e2fsprogs        # the VM lane: a guest with sch_netem (tests/vm), debugfs
)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "install.sh: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v docker >/dev/null 2>&1; then
  echo "install.sh: apt-get install docker.io"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  echo "install.sh: starting the Docker Engine"
  (service docker start >/dev/null 2>&1) || (nohup dockerd >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "install.sh: the Docker Engine did not start" >&2; exit 1; }
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
squall images build
