#!/usr/bin/env bash
# Install rlc's build and test dependencies from apt, only what is missing (idempotent).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libcmocka-dev libcjson-dev libopenblas-openmp-dev
      libpcre2-dev libutf8proc-dev zlib1g-dev libzstd-dev liblz4-dev libbrotli-dev
      libsentencepiece-dev libyaml-dev libgmp-dev libcurl4-openssl-dev
      libopenmpi-dev openmpi-bin  # MPI: data-parallel training and its mpi tests
      librsvg2-bin)  # rsvg-convert: test_cli_report renders the report's SVGs
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "rlc: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
