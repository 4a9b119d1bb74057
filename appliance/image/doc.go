// Package image holds the appliance image's builder and its boot test.
//
// build.sh builds out/image/vigil.img offline from Debian's packages (see
// its header for the layout): a GPT disk with an EFI system partition
// (systemd-boot, kernel, initrd), a read-only squashfs root with systemd,
// bin/vigil-static (make static) and appliance/overlay, and an ext4 data partition
// ("vigil-data", mounted at /var/lib/vigil) for the agent configuration and
// the recordings. genimage.cfg is the disk layout.
//
// The boot test (make image-test) boots a copy of that disk under
// qemu-system-x86_64 with OVMF, software emulation only, and checks the
// appliance end to end: the agent configuration and the site's configuration
// directory preseeded on the data partition are used (the master's hot
// reload applies the site spec, and vigil plan through the forwarded API
// port finds nothing to change), systemd reports the agent started after
// READY=1, a camera served by vigil camsim on the host is recorded in the
// guest, a configuration stick (a FAT image labelled VIGIL-CFG plugged in
// through qemu's monitor) adds a second camera through the hot reload, and the
// power button stops the agent cleanly. It only runs when VIGIL_IMAGE names the disk image, so go test
// ./... does not boot a virtual machine.
package image
