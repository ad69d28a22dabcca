#!/usr/bin/env bash
# Prints a fresh pins.txt: the current version, SHA-256 and URL of each package the image is made of, from this
# machine's Debian 12 package lists (run apt-get update first). The kernel follows linux-image-amd64's current ABI.
#   iso-builder/update-pins.sh > iso-builder/pins.txt && git diff iso-builder/pins.txt
set -euo pipefail
kernel=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kernel" ] || { echo "update-pins: no linux-image-amd64 in the package lists (apt-get update?)" >&2; exit 1; }
packages=("$kernel" busybox-static libc6 e2fsprogs libext2fs2 libcom-err2 libblkid1 libuuid1 libss2
  iproute2 libbpf1 libbsd0 libcap2 libelf1 libmd0 libmnl0 zlib1g
  grub-pc-bin grub-efi-amd64-bin)
sed -n '1,/^# package version sha256 url$/p' "$(dirname "$0")/pins.txt"
apt-get download --print-uris "${packages[@]}" | sort -k2 | while read -r url name _size sha; do
  url=${url//\'/}
  package=${name%%_*}
  version=${name#*_}
  version=${version%_*}
  version=${version//%3a/:}
  echo "$package $version ${sha#SHA256:} $url"
done
