#!/usr/bin/env bash
# Builds the vigil appliance disk image offline from Debian's packages:
#
#   GPT disk (genimage)
#   ├─ esp   FAT    systemd-boot, the kernel of linux-image-amd64 and its initrd
#   ├─ root  squashfs, mounted read-only: systemd, bin/vigil-static, appliance/overlay
#   └─ data  ext4 "vigil-data" at /var/lib/vigil: agent config and recordings;
#            grown to fill the disk at boot; an image update never touches it
#
# Usage: appliance/image/build.sh [-o OUTDIR] [-b VIGIL_BINARY]
#
# Needs root (mmdebstrap, chroot), the Debian mirror through apt, and
# mmdebstrap, genimage, mtools, dosfstools, e2fsprogs and squashfs-tools.
# The Debian base root filesystem is cached by the hash of its package list,
# under $VIGIL_IMAGE_CACHE (default OUTDIR/cache), so rebuilding after a change
# to vigil takes seconds; CI keeps it outside the clone, so a fresh clone on
# the same machine does not fetch Debian again.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$repo/out/image
vigil=$repo/bin/vigil-static
while getopts "o:b:" opt; do
	case $opt in
	o) out=$(realpath -m "$OPTARG") ;;
	b) vigil=$(realpath -m "$OPTARG") ;;
	*) echo "usage: $0 [-o OUTDIR] [-b VIGIL_BINARY]" >&2; exit 2 ;;
	esac
done

die() { echo "image: $*" >&2; exit 1; }
step() { echo "image: $*"; }

[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap and chroot)"
for tool in mmdebstrap genimage mkfs.vfat mcopy mmd mkfs.ext4 mksquashfs; do
	command -v "$tool" >/dev/null || die "$tool not found: apt-get install mmdebstrap genimage dosfstools mtools e2fsprogs squashfs-tools"
done
[ -x "$vigil" ] || die "$vigil not found: run make static first"
# A dynamically linked binary names its interpreter; the root has no Go
# runtime dependencies to satisfy one.
if LC_ALL=C grep -qa '/lib64/ld-linux' "$vigil"; then
	die "$vigil is dynamically linked: build it with CGO_ENABLED=0 (make static)"
fi

suite=bookworm
# The whole userland. usr-is-merged stands in for usrmerge, which would pull
# in perl; dbus lets systemd-logind turn the power button into a clean
# poweroff; systemd-boot-efi only provides the boot loader for the ESP.
packages=(
	systemd systemd-sysv udev kmod dbus usr-is-merged
	systemd-resolved systemd-timesyncd ca-certificates
	linux-image-amd64 initramfs-tools zstd systemd-boot-efi
)
# Kernel modules kept in the image (with their dependencies): virtual and
# common server disks and NICs, the filesystems we mount, the power button
# (logind), and what the agent's network management uses. Everything else
# (GPU, sound, wireless, ...) is removed: it is most of the kernel
# package's size.
modules=(
	virtio_pci virtio_blk virtio_scsi virtio_net virtio_rng virtio_balloon
	nvme ahci ata_piix sd_mod sr_mod usb_storage uas xhci_pci ehci_pci
	e1000 e1000e igb igc ixgbe i40e r8169 tg3 bnxt_en vmxnet3 hv_netvsc
	squashfs ext4 vfat nls_cp437 nls_ascii efivarfs
	button evdev
	8021q bonding bridge
)
# The same modules go into the initrd (MODULES=list), which only needs to
# find and mount the root filesystem.
initrd_modules=(virtio_pci virtio_blk virtio_scsi nvme ahci ata_piix sd_mod usb_storage uas xhci_pci ehci_pci squashfs ext4)

# Fixed partition UUIDs: the boot entry names the root partition by its
# PARTUUID; partition types follow the Discoverable Partitions Specification.
root_partuuid=8f5a3b27-6b2e-4d7e-9a31-0c5e2f1d7a10

kernel_cmdline="root=PARTUUID=$root_partuuid rootfstype=squashfs ro console=tty0 console=ttyS0,115200 panic=10"

cache=${VIGIL_IMAGE_CACHE:-$out/cache}
mkdir -p "$cache"
t0=$(date +%s)

# 1. Debian base, cached.
key=$( (
	echo "$suite ${packages[*]}"
	echo "${initrd_modules[*]}"
	sed -n '/^# 1\./,/^# 2\./p' "$0"
) | sha256sum | cut -c1-16)
base=$cache/base-$key.tar
if [ ! -s "$base" ]; then
	step "bootstrapping Debian $suite (${#packages[@]} packages, cached as $(basename "$base"))"
	rm -f "$cache"/base-*.tar
	initrd_list=$(printf '%s\n' "${initrd_modules[@]}")
	mmdebstrap --variant=essential --mode=root --format=tar --quiet \
		--include="$(IFS=,; echo "${packages[*]}")" \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/lintian/*' \
		--essential-hook="mkdir -p \"\$1/etc/initramfs-tools/conf.d\" \"\$1/usr/share/initramfs-tools/modules.d\" &&
			printf 'MODULES=list\nCOMPRESS=zstd\n' > \"\$1/etc/initramfs-tools/conf.d/vigil.conf\" &&
			printf '%s\n' \"$initrd_list\" > \"\$1/usr/share/initramfs-tools/modules.d/vigil\"" \
		"$suite" "$base.part" || die "mmdebstrap failed (is the Debian mirror reachable through apt?)"
	mv "$base.part" "$base"
else
	step "using cached Debian base $(basename "$base")"
fi

# 2. Root filesystem: base + kernel pruning + overlay + vigil.
root=$out/rootfs
rm -rf "$root" "$out/esp"
mkdir -p "$root"
tar -C "$root" --numeric-owner -xpf "$base"
kver=$(ls "$root/usr/lib/modules")
[ "$(echo "$kver" | wc -w)" = 1 ] || die "expected one kernel in the base, found: $kver"

step "kernel $kver: boot files to the ESP, pruning modules"
esp=$out/esp
mkdir -p "$esp/EFI/BOOT" "$esp/loader/entries"
cp "$root/boot/vmlinuz-$kver" "$esp/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$esp/initrd.img"
cp "$root/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$esp/EFI/BOOT/BOOTX64.EFI"
printf 'default vigil.conf\ntimeout 0\neditor no\n' > "$esp/loader/loader.conf"
printf 'title vigil\nlinux /vmlinuz\ninitrd /initrd.img\noptions %s\n' "$kernel_cmdline" > "$esp/loader/entries/vigil.conf"

# Paths relative to the module directory, e.g. kernel/fs/squashfs/squashfs.ko.
keep=$(for m in "${modules[@]}"; do
	chroot "$root" modprobe -S "$kver" --show-depends --ignore-install "$m" ||
		die "kernel module $m not found in $kver"
done | awk '$1 == "insmod" {print $2}' | sed "s|.*/modules/$kver/||" | sort -u)
moddir=$root/usr/lib/modules/$kver
(cd "$moddir" && find kernel -name '*.ko*' | sort | comm -23 - <(echo "$keep") | xargs rm -f)
find "$moddir/kernel" -type d -empty -delete
chroot "$root" depmod "$kver"
rm -rf "$root/usr/lib/firmware"

# Build-only and boot-only files, caches, and the hardware database (names
# and descriptions only; udev works without it).
rm -rf "$root"/boot/* "$root"/vmlinuz* "$root"/initrd.img* \
	"$root/usr/lib/systemd/boot" "$root/usr/lib/udev/hwdb.bin" "$root/usr/lib/udev/hwdb.d" \
	"$root"/var/cache/* "$root"/var/lib/apt/lists/* "$root"/var/log/*

step "overlay and vigil"
cp -a "$repo/appliance/overlay/." "$root/"
install -m 0755 "$vigil" "$root/usr/bin/vigil"
chroot "$root" systemctl enable --quiet vigil.service vigil-firstboot.service systemd-networkd.service systemd-resolved.service
chroot "$root" systemctl mask --quiet systemd-hwdb-update.service systemd-firstboot.service
# Empty: systemd generates a transient machine ID on the read-only root.
: > "$root/etc/machine-id"
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"

# 3. Filesystem images and the disk.
step "root filesystem (squashfs, zstd)"
img=$out/build
rm -rf "$img"
mkdir -p "$img/in" "$img/tmp" "$img/data"
mksquashfs "$root" "$img/in/root.squashfs" -comp zstd -b 1M -noappend -quiet -no-progress
esp_kib=$((32 * 1024))
mkfs.vfat -n VIGIL-ESP -C "$img/in/esp.vfat" "$esp_kib" >/dev/null
(cd "$esp" && mcopy -s -i "$img/in/esp.vfat" EFI loader vmlinuz initrd.img ::/)
mkfs.ext4 -q -L vigil-data -E root_owner=0:0 -d "$img/data" "$img/in/data.ext4" 32M >/dev/null

sed "s/@ROOT_PARTUUID@/$root_partuuid/" "$here/genimage.cfg" > "$img/genimage.cfg"
genimage --config "$img/genimage.cfg" --inputpath "$img/in" --outputpath "$out" \
	--tmppath "$img/tmp" --rootpath "$img/data" >"$img/genimage.log" 2>&1 ||
	{ cat "$img/genimage.log" >&2; die "genimage failed"; }

t1=$(date +%s)
size=$(stat -c %s "$out/vigil.img")
step "$out/vigil.img: $((size / 1024 / 1024)) MiB (root $(($(stat -c %s "$img/in/root.squashfs") / 1024 / 1024)) MiB squashfs), built in $((t1 - t0))s"
