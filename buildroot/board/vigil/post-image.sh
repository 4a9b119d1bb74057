#!/bin/sh
# Buildroot post-image: boot entry on the ESP, then the disk image with
# genimage. $2 is the genimage configuration (BR2_ROOTFS_POST_SCRIPT_ARGS).
set -eu
genimage_cfg=$2
efi=$BINARIES_DIR/efi-part
# The root partition's PARTUUID is fixed in the genimage configuration.
partuuid=$(awk '/partition root/ {r=1} r && /partition-uuid/ {gsub(/"/, "", $3); print $3; exit}' "$genimage_cfg")
rm -f "$efi/loader/entries/buildroot.conf"
mkdir -p "$efi/loader/entries"
printf 'default vigil.conf\ntimeout 0\neditor no\n' > "$efi/loader/loader.conf"
printf 'title vigil\nlinux /bzImage\noptions root=PARTUUID=%s rootfstype=squashfs ro rootwait console=tty0 console=ttyS0,115200 panic=10\n' \
	"$partuuid" > "$efi/loader/entries/vigil.conf"
exec support/scripts/genimage.sh -c "$genimage_cfg"
