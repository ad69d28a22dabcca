#!/usr/bin/env bash
# Builds the appliance image: one hybrid ISO (CD-ROM and raw disk, BIOS and UEFI) that boots into a running flowsec.
#   iso-builder/build.sh [--out DIR] [--cache DIR] [--pins FILE]   (README "The appliance image"; ./flowsec image build)
#
# 1. fetch the pinned Debian packages (pins.txt) into the cache, each checked against its SHA-256
# 2. stage the root file system: busybox, glibc, e2fsprogs, the kernel's modules (virtio, tun, ext4, ...) with their
#    dependencies, a jlink'd Java runtime with only the modules flowsec needs, the appliance jar and its libraries
#    (never the test bed's), and rootfs/ (init, the supervisor, the first-boot defaults)
# 3. pack it into an initramfs (cpio, sorted, every date SOURCE_DATE_EPOCH, owner root), compressed with zstd
# 4. make GRUB's BIOS and UEFI images from the pinned GRUB packages, and the EFI system partition (FAT, invariant)
# 5. write the ISO with xorriso: El Torito for BIOS and UEFI, an MBR and GPT for booting as a disk
# Two builds of one commit give the same bytes: SOURCE_DATE_EPOCH (default: the commit's time) fixes every date,
# xorriso and mkfs.fat take their IDs from it, and nothing depends on the order a directory lists in.
set -euo pipefail
HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
ROOT="$(dirname "$HERE")"
OUT="$ROOT/iso-builder/target"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/flowsec/iso-builder"
PINS="$HERE/pins.txt"

usage() {
  cat <<'EOF'
usage: iso-builder/build.sh [--out DIR] [--cache DIR] [--pins FILE]
Builds DIR/flowsec.iso (default iso-builder/target) from the built appliance (appliance/target: build it first,
e.g. with ./flowsec --help or mvn -DskipTests package) and the Debian packages pinned in iso-builder/pins.txt,
downloaded once into the cache (default ~/.cache/flowsec/iso-builder); --pins names another list of pins (tests).
SOURCE_DATE_EPOCH, when set, dates everything in the image; otherwise the current commit's time does.
Needs: curl, dpkg-deb, kmod (depmod), cpio, zstd, grub-common (grub-mkimage), dosfstools, mtools, xorriso and
JDK 25 (jlink).
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --cache) CACHE=$2; shift 2 ;;
    --pins) PINS=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

fail() { echo "build.sh: $*" >&2; exit 1; }

for tool in curl dpkg-deb depmod cpio zstd grub-mkimage mkfs.fat mmd mcopy xorriso sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || fail "needs $tool (apt-get install curl dpkg kmod cpio zstd grub-common dosfstools mtools xorriso)"
done
# shellcheck source=../scripts/jdk.sh
. "$ROOT/scripts/jdk.sh"
flowsec_find_jdk || fail "needs JDK 25 (jlink)"

APPLIANCE="$ROOT/appliance/target"
[ -f "$APPLIANCE/flowsec-appliance.jar" ] && [ -d "$APPLIANCE/lib" ] \
  || fail "no built appliance in $APPLIANCE: build it first (./flowsec --help, or mvn -B -DskipTests package)"

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || true)
  [ -n "$SOURCE_DATE_EPOCH" ] || fail "not a git checkout: set SOURCE_DATE_EPOCH (seconds since 1970) to date the image"
fi
export SOURCE_DATE_EPOCH
export LC_ALL=C TZ=UTC
umask 022
STAMP=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S00)
VERSION=$(sed -n 's:.*<version>\(.*\)</version>.*:\1:p' "$ROOT/pom.xml" | head -n 1)
COMMIT=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  COMMIT="$COMMIT-modified"
fi

started=$(date +%s)
WORK="$OUT/work"
rm -rf "$WORK"
mkdir -p "$WORK" "$CACHE/debs"

# 1. the pinned packages
declare -A DEB
while read -r package version sha256 url; do
  case "$package" in ''|'#'*) continue ;; esac
  file="$CACHE/debs/$(basename "$url")"
  if [ ! -f "$file" ] || [ "$(sha256sum "$file" | cut -d' ' -f1)" != "$sha256" ]; then
    echo "build.sh: fetching $package $version" >&2
    code=$(curl -sS -L -o "$file.part" -w '%{http_code}' "$url" || true)
    if [ "$code" = 404 ] || [ "$code" = 410 ]; then
      rm -f "$file.part"
      fail "the pinned $package $version is gone from the mirror ($url, HTTP $code). Mirrors drop superseded
versions: on a Debian 12 machine run 'apt-get update && iso-builder/update-pins.sh > iso-builder/pins.txt',
review the diff, rebuild and run the boot tests (README 'The appliance image')."
    fi
    [ "$code" = 200 ] || { rm -f "$file.part"; fail "could not fetch $package $version from $url (HTTP ${code:-none})"; }
    actual=$(sha256sum "$file.part" | cut -d' ' -f1)
    [ "$actual" = "$sha256" ] || { rm -f "$file.part"; fail "$package $version from $url has SHA-256 $actual, pinned $sha256: refused"; }
    mv "$file.part" "$file"
  fi
  DEB[$package]=$file
  mkdir -p "$WORK/debs/$package"
  dpkg-deb -x "$file" "$WORK/debs/$package"
done < "$PINS"

kernel_package=$(printf '%s\n' "${!DEB[@]}" | grep '^linux-image-' | head -n 1)
[ -n "$kernel_package" ] || fail "pins.txt pins no linux-image package"
KDEB="$WORK/debs/$kernel_package"
KVER=$(basename "$(ls -d "$KDEB"/lib/modules/*)")

# 2. the root file system
R="$WORK/root"
mkdir -p "$R"/{bin,sbin,dev,proc,sys,run,tmp,mnt,data,etc,lib64,root,var/log}
mkdir -p "$R/usr/lib/x86_64-linux-gnu" "$R/lib/x86_64-linux-gnu"
chmod 1777 "$R/tmp"
chmod 0700 "$R/root" "$R/data"
install -m 0755 "$WORK/debs/busybox-static/bin/busybox" "$R/bin/busybox"
# every applet busybox has, as a link in /bin (PATH has /bin first)
"$R/bin/busybox" --list | while read -r applet; do
  [ "$applet" = busybox ] || ln -s busybox "$R/bin/$applet"
done
ln -s ../bin/busybox "$R/sbin/init"
# glibc (the JVM, Netty's native libraries, e2fsprogs) and e2fsprogs's mke2fs/e2fsck with their libraries
cp -a "$WORK/debs/libc6/lib/x86_64-linux-gnu/." "$R/lib/x86_64-linux-gnu/"
cp -a "$WORK/debs/libc6/lib64/." "$R/lib64/"
for package in libext2fs2 libcom-err2 libblkid1 libuuid1 libbpf1 libbsd0 libcap2 libelf1 libmd0 libmnl0 zlib1g; do
  for dir in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu; do
    [ -d "$WORK/debs/$package/$dir" ] && cp -a "$WORK/debs/$package/$dir/." "$R/lib/x86_64-linux-gnu/"
  done
done
# e2fsprogs's mke2fs and e2fsck (busybox's mke2fs makes no journal) and iproute2's ip (the appliance sets up its
# TUN device with it: busybox's lacks addrgenmode) in /usr/sbin, first in the appliance's PATH; busybox's shell
# runs its own applets whatever the PATH, so the image's scripts call these by their full path
mkdir -p "$R/usr/sbin"
for tool in e2fsprogs/sbin/mke2fs e2fsprogs/sbin/e2fsck iproute2/bin/ip; do
  install -m 0755 "$WORK/debs/$tool" "$R/usr/sbin/${tool##*/}"
done
install -m 0644 "$WORK/debs/e2fsprogs/etc/mke2fs.conf" "$R/etc/mke2fs.conf"

# the kernel's modules: these and what they need (modprobe's closure over the package's own modules.dep)
MODULES=(virtio_pci virtio_net virtio_blk virtio_console tun ext4 crc32c_generic button evdev e1000 e1000e qemu_fw_cfg)
depmod -b "$KDEB" "$KVER"
closure=()
for module in "${MODULES[@]}"; do
  while read -r kind path _; do
    [ "$kind" = insmod ] && closure+=("${path#"$KDEB/"}")
  done < <(modprobe -d "$KDEB" -S "$KVER" --show-depends "$module")
done
for path in $(printf '%s\n' "${closure[@]}" | awk '!seen[$0]++'); do
  mkdir -p "$R/$(dirname "$path")"
  cp "$KDEB/$path" "$R/$path"
done
cp "$KDEB/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$KVER/"
depmod -b "$R" "$KVER"
printf '%s\n' "${MODULES[@]}" > "$R/etc/modules"

# the Java runtime: only the modules the appliance and its libraries use (jdeps), stripped
JAVA_MODULES=java.base,java.compiler,java.desktop,java.naming,java.net.http,java.scripting,java.sql,jdk.jfr,jdk.management,jdk.net,jdk.unsupported
mkdir -p "$R/opt/flowsec"
"$JAVA_HOME/bin/jlink" --add-modules "$JAVA_MODULES" --strip-debug --no-man-pages --no-header-files \
  --compress zip-6 --output "$R/opt/flowsec/jre"
# the appliance and its libraries (appliance/target/lib holds the appliance module's runtime classpath: never the
# test bed's), less the code generator Vert.x uses at build time
install -m 0644 "$APPLIANCE/flowsec-appliance.jar" "$R/opt/flowsec/flowsec-appliance.jar"
mkdir -p "$R/opt/flowsec/lib"
for jar in "$APPLIANCE"/lib/*.jar; do
  case "$(basename "$jar")" in
    vertx-codegen-processor-*|flowsec-testbed-*) continue ;;
  esac
  install -m 0644 "$jar" "$R/opt/flowsec/lib/"
done
# the image's own files: init scripts, the supervisor, defaults
cp -a "$HERE/rootfs/." "$R/"
# modes as git records them (executable or not), whatever the checkout's umask made of them
(cd "$HERE/rootfs" && find . -type d) | while read -r dir; do chmod 0755 "$R/$dir"; done
(cd "$HERE/rootfs" && find . -type f) | while read -r file; do
  if [ -x "$HERE/rootfs/$file" ]; then chmod 0755 "$R/$file"; else chmod 0644 "$R/$file"; fi
done
cat > "$R/etc/flowsec-release" <<EOF
NAME=flowsec
VERSION=$VERSION
COMMIT=$COMMIT
KERNEL=$KVER
BUILT=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
EOF
{
  echo "# the Debian packages in this image (iso-builder/pins.txt)"
  grep -v '^#' "$PINS" | awk 'NF {print $1, $2, $3}'
} > "$R/etc/flowsec-packages"

# 3. the initramfs: every date the same, sorted, owned by root
find "$R" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
ISO_ROOT="$WORK/iso"
mkdir -p "$ISO_ROOT/boot/grub"
(cd "$R" && find . -print0 | sort -z | cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) \
  | zstd -q -T0 -19 > "$ISO_ROOT/boot/initrd.img"
install -m 0644 "$KDEB/boot/vmlinuz-$KVER" "$ISO_ROOT/boot/vmlinuz"

# 4. GRUB for BIOS and UEFI, from the pinned packages; each finds the ISO by its stamp file and reads grub.cfg there
install -m 0644 "$HERE/grub.cfg" "$ISO_ROOT/boot/grub/grub.cfg"
echo "flowsec $VERSION $COMMIT" > "$ISO_ROOT/boot/grub/flowsec.stamp"
cat > "$WORK/early.cfg" <<'EOF'
search --no-floppy --set=root --file /boot/grub/flowsec.stamp
set prefix=($root)/boot/grub
configfile $prefix/grub.cfg
EOF
GRUB_MODULES="iso9660 part_msdos part_gpt fat search search_fs_file configfile normal linux echo test serial terminal sleep"
PC="$WORK/debs/grub-pc-bin/usr/lib/grub/i386-pc"
EFI="$WORK/debs/grub-efi-amd64-bin/usr/lib/grub/x86_64-efi"
grub-mkimage -O i386-pc-eltorito -d "$PC" -c "$WORK/early.cfg" -p /boot/grub -o "$ISO_ROOT/boot/grub/bios.img" \
  $GRUB_MODULES biosdisk
grub-mkimage -O x86_64-efi -d "$EFI" -c "$WORK/early.cfg" -p /boot/grub -o "$WORK/bootx64.efi" \
  $GRUB_MODULES efi_gop all_video
touch -d "@$SOURCE_DATE_EPOCH" "$WORK/bootx64.efi"
rm -f "$WORK/efi.img"
mkfs.fat -C --invariant -n FLOWSEC-EFI "$WORK/efi.img" 4096 >/dev/null
MTOOLS_SKIP_CHECK=1 mmd -i "$WORK/efi.img" ::/EFI ::/EFI/BOOT
MTOOLS_SKIP_CHECK=1 mcopy -m -i "$WORK/efi.img" "$WORK/bootx64.efi" ::/EFI/BOOT/BOOTX64.EFI
find "$ISO_ROOT" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# 5. the ISO
mkdir -p "$OUT"
rm -f "$OUT/flowsec.iso"
xorriso -as mkisofs -quiet -o "$OUT/flowsec.iso" -R -V FLOWSEC --modification-date="$STAMP" \
  -b boot/grub/bios.img -no-emul-boot -boot-load-size 4 -boot-info-table --grub2-boot-info \
  --grub2-mbr "$PC/boot_hybrid.img" \
  -append_partition 2 0xef "$WORK/efi.img" -appended_part_as_gpt \
  -eltorito-alt-boot -e --interval:appended_partition_2:all:: -no-emul-boot \
  "$ISO_ROOT" 2>"$WORK/xorriso.log" || { cat "$WORK/xorriso.log" >&2; fail "xorriso failed"; }
rm -rf "$WORK"
size=$(stat -c %s "$OUT/flowsec.iso")
echo "build.sh: $OUT/flowsec.iso: $((size / 1048576)) MiB ($size bytes), flowsec $VERSION $COMMIT, kernel $KVER, built in $(( $(date +%s) - started )) s"
echo "build.sh: sha256 $(sha256sum "$OUT/flowsec.iso" | cut -d' ' -f1)"
