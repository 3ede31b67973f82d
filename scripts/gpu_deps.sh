#!/usr/bin/env bash
# Run HERE (a machine with Debian's package registry) before a GPU run: downloads the .deb
# files of rlc's build dependencies (scripts/deps.sh's libraries, their runtime libraries, and
# pkg-config) into .gpudeps/, which git ignores. The GPU machine has no registry; pass
# `carry: [".gpudeps"]` to the device run and scripts/gpu_check.sh unpacks them (dpkg -x, into
# .gpudeps/root, never into /).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.gpudeps/' .git/info/exclude 2>/dev/null || echo '/.gpudeps/' >>.git/info/exclude
mkdir -p .gpudeps
dev=(libcmocka-dev libcjson-dev libopenblas-openmp-dev libpcre2-dev libutf8proc-dev libsentencepiece-dev libyaml-dev
     pkgconf pkgconf-bin libpkgconf3)
# Libraries every build machine has (the C toolchain's own).
skip='^(libc6|libc6-dev|libc-dev|libgcc-s1|libstdc\+\+6|libgomp1|libc-dev-bin|linux-libc-dev|libcrypt-dev|libcrypt1|libgcc-.*-dev|libstdc\+\+-.*-dev|gcc-.*|dpkg)$'
declare -A seen
queue=("${dev[@]}")
while [ ${#queue[@]} -gt 0 ]; do
  p=${queue[0]}
  queue=("${queue[@]:1}")
  [ -n "${seen[$p]:-}" ] && continue
  seen[$p]=1
  for d in $(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$p" 2>/dev/null |
    awk '/^  (PreDepends|Depends):/ {print $2}' | tr -d '<>' | sort -u); do
    [[ "$d" =~ $skip ]] && continue
    [[ "$d" =~ ^lib|^pkgconf ]] || continue
    [ -z "${seen[$d]:-}" ] && queue+=("$d")
  done
done
pkgs=("${!seen[@]}")
echo "gpu_deps: downloading ${#pkgs[@]} packages: ${pkgs[*]}"
(cd .gpudeps && apt-get download "${pkgs[@]}" >/dev/null)
du -sh .gpudeps
