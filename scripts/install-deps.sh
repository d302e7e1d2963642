#!/usr/bin/env bash
# Installs what joule needs from Debian 12's packages, and nothing when everything is there
# (a dpkg query, well under a second). Needs root or sudo only when something is missing.
set -euo pipefail

packages=(g++ cmake ninja-build pkg-config libeigen3-dev libxsimd-dev libopenblas-dev libbenchmark-dev
          libgtest-dev nlohmann-json3-dev libcli11-dev libcairo2-dev
          # scripts/hardening.sh: libFuzzer's runtime, the static checks, the test scripts' JSON checks
          clang libclang-rt-14-dev clang-tidy clang-format cppcheck python3)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
