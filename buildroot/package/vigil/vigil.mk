################################################################################
#
# vigil
#
################################################################################

# Built from the checkout this tree lives in (buildroot/ is one of its
# top-level folders). Buildroot's Go infrastructure builds offline with
# -mod=vendor and only vendors modules when it downloads a package, which a
# local package never does: run `go mod vendor` in the checkout first (the
# vendor check below says so when it is missing).
VIGIL_SITE = $(BR2_EXTERNAL_VIGIL_PATH)/..
VIGIL_SITE_METHOD = local
# Buildroot names the version of a local package "custom"; the binary gets
# the same version string as `make build` gives it.
VIGIL_BUILD_VERSION = $(shell git -C $(VIGIL_SITE) describe --tags --always --dirty 2>/dev/null || echo dev)
VIGIL_LICENSE = Proprietary
# Build outputs of the checkout are not sources.
VIGIL_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = --exclude /bin --exclude /out --exclude /buildroot/output

# The module path of go.mod and the one binary, statically linked.
VIGIL_GOMOD = vigil
VIGIL_BUILD_TARGETS = cmd/vigil
VIGIL_GO_ENV = CGO_ENABLED=0
VIGIL_LDFLAGS = -s -w -X main.version=$(VIGIL_BUILD_VERSION)

# go.mod's go directive: older Go toolchains cannot build the module.
VIGIL_GO_MIN = 1.26

define VIGIL_CHECK_SOURCES
	@test -f $(@D)/vendor/modules.txt || { \
		echo "vigil: $(VIGIL_SITE) has no vendor/ directory: run 'go mod vendor' there (Go $(VIGIL_GO_MIN) or later)"; \
		exit 1; }
	@test "$$(printf '%s\n' $(VIGIL_GO_MIN) $(GO_VERSION) | sort -V | head -n1)" = "$(VIGIL_GO_MIN)" || { \
		echo "vigil: needs Go $(VIGIL_GO_MIN) or later, this Buildroot provides Go $(GO_VERSION)"; \
		exit 1; }
endef
VIGIL_PRE_CONFIGURE_HOOKS += VIGIL_CHECK_SOURCES

$(eval $(golang-package))
