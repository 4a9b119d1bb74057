#!/bin/sh
# Buildroot post-build: the same root filesystem settings as the Debian-based
# image (appliance/image/build.sh). $1 is the target directory.
set -eu
target=$1
units=$target/etc/systemd/system
mkdir -p "$units/multi-user.target.wants"
ln -sfn ../vigil.service "$units/multi-user.target.wants/vigil.service"
ln -sfn ../vigil-firstboot.service "$units/multi-user.target.wants/vigil-firstboot.service"
# Read-only root: systemd generates a transient machine ID; no hwdb
# rebuild or interactive first-boot setup.
: > "$target/etc/machine-id"
ln -sfn /dev/null "$units/systemd-hwdb-update.service"
ln -sfn /dev/null "$units/systemd-firstboot.service"
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$target/etc/resolv.conf"
