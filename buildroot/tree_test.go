// Package buildroot is vigil's BR2_EXTERNAL tree (external.desc,
// configs/vigil_x86_64_defconfig, package/vigil, board/vigil). Buildroot
// itself is not needed to check it: this test parses the tree and checks
// that it is consistent with the repository it builds.
package buildroot

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const externalVar = "BR2_EXTERNAL_VIGIL_PATH"

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// resolve replaces the external tree's variable by this directory.
func resolve(s string) string {
	for _, v := range []string{"$(" + externalVar + ")", "${" + externalVar + "}", "$" + externalVar} {
		s = strings.ReplaceAll(s, v, ".")
	}
	return filepath.Clean(s)
}

func TestExternalDesc(t *testing.T) {
	desc := read(t, "external.desc")
	if !regexp.MustCompile(`(?m)^name: VIGIL$`).MatchString(desc) {
		t.Errorf("external.desc must declare name: VIGIL (the tree's files use $(%s)):\n%s", externalVar, desc)
	}
}

// TestPathsExist checks every path the tree names through
// $(BR2_EXTERNAL_VIGIL_PATH), in every file.
func TestPathsExist(t *testing.T) {
	ref := regexp.MustCompile(`(\$\(` + externalVar + `\)|\$\{` + externalVar + `\}|\$` + externalVar + `)[^"\s)]*`)
	n := 0
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") {
			return err
		}
		for _, m := range ref.FindAllString(read(t, path), -1) {
			if strings.Contains(m, "*") { // external.mk's wildcard include
				continue
			}
			n++
			if _, err := os.Stat(resolve(m)); err != nil {
				t.Errorf("%s names %s, which does not exist", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no paths found: the tree should name its overlay, scripts and packages")
	}
}

// defconfig parses configs/vigil_x86_64_defconfig into option → value.
func defconfig(t *testing.T) map[string]string {
	opts := map[string]string{}
	for _, line := range strings.Split(read(t, "configs/vigil_x86_64_defconfig"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			opts[k] = strings.Trim(v, `"`)
		}
	}
	return opts
}

func TestDefconfig(t *testing.T) {
	opts := defconfig(t)
	for _, k := range []string{"BR2_x86_64", "BR2_INIT_SYSTEMD", "BR2_PACKAGE_VIGIL", "BR2_PACKAGE_SYSTEMD_BOOT", "BR2_TARGET_ROOTFS_SQUASHFS", "BR2_PACKAGE_HOST_GENIMAGE"} {
		if opts[k] != "y" {
			t.Errorf("defconfig: %s must be y", k)
		}
	}
	if got := resolve(opts["BR2_ROOTFS_OVERLAY"]); got != filepath.Join("..", "appliance", "overlay") {
		t.Errorf("BR2_ROOTFS_OVERLAY = %s: must be the overlay the Debian image uses, ../appliance/overlay", got)
	}
	for _, k := range []string{"BR2_ROOTFS_POST_BUILD_SCRIPT", "BR2_ROOTFS_POST_IMAGE_SCRIPT"} {
		st, err := os.Stat(resolve(opts[k]))
		if err != nil {
			t.Errorf("%s: %v", k, err)
			continue
		}
		if st.Mode()&0o111 == 0 {
			t.Errorf("%s %s is not executable", k, opts[k])
		}
	}
	// The overlay units the post-build script enables exist.
	post := read(t, resolve(opts["BR2_ROOTFS_POST_BUILD_SCRIPT"]))
	for _, u := range regexp.MustCompile(`\.\./([a-z-]+\.service)`).FindAllStringSubmatch(post, -1) {
		if _, err := os.Stat(filepath.Join("..", "appliance", "overlay", "etc", "systemd", "system", u[1])); err != nil {
			t.Errorf("post-build enables %s, which the overlay lacks", u[1])
		}
	}
}

func TestConfigIn(t *testing.T) {
	cfg := read(t, "Config.in")
	pkgs, err := filepath.Glob("package/*/Config.in")
	if err != nil || len(pkgs) == 0 {
		t.Fatalf("no package/*/Config.in (%v)", err)
	}
	for _, p := range pkgs {
		if !strings.Contains(cfg, `source "$`+externalVar+"/"+p+`"`) {
			t.Errorf("Config.in does not source %s", p)
		}
		name := filepath.Base(filepath.Dir(p))
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), name+".mk")); err != nil {
			t.Errorf("package %s has no %s.mk", name, name)
		}
	}
}

// makeVars parses NAME = value and NAME += value lines of a .mk file.
func makeVars(src string) map[string]string {
	vars := map[string]string{}
	re := regexp.MustCompile(`(?m)^([A-Z0-9_]+)\s*(\+?=)\s*(.*)$`)
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		if m[2] == "+=" && vars[m[1]] != "" {
			vars[m[1]] += " " + m[3]
		} else {
			vars[m[1]] = m[3]
		}
	}
	return vars
}

// TestVigilPackageMatchesModule checks package/vigil/vigil.mk against go.mod
// and the command it builds.
func TestVigilPackageMatchesModule(t *testing.T) {
	mk := read(t, "package/vigil/vigil.mk")
	vars := makeVars(mk)
	if !strings.Contains(mk, "$(eval $(golang-package))") {
		t.Error("vigil.mk must use the golang-package infrastructure")
	}
	site := resolve(vars["VIGIL_SITE"])
	gomod := read(t, filepath.Join(site, "go.mod"))
	module := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindStringSubmatch(gomod)
	goVersion := regexp.MustCompile(`(?m)^go\s+(\d+\.\d+)`).FindStringSubmatch(gomod)
	if module == nil || goVersion == nil {
		t.Fatalf("%s/go.mod has no module or go line", site)
	}
	if vars["VIGIL_GOMOD"] != module[1] {
		t.Errorf("VIGIL_GOMOD = %q, go.mod's module is %q", vars["VIGIL_GOMOD"], module[1])
	}
	if vars["VIGIL_GO_MIN"] != goVersion[1] {
		t.Errorf("VIGIL_GO_MIN = %q, go.mod needs Go %s", vars["VIGIL_GO_MIN"], goVersion[1])
	}
	if vars["VIGIL_SITE_METHOD"] != "local" {
		t.Errorf("VIGIL_SITE_METHOD = %q: the package builds the checkout it lives in", vars["VIGIL_SITE_METHOD"])
	}
	if !strings.Contains(vars["VIGIL_GO_ENV"], "CGO_ENABLED=0") {
		t.Errorf("VIGIL_GO_ENV = %q: vigil is linked statically (CGO_ENABLED=0), as make static does", vars["VIGIL_GO_ENV"])
	}

	targets := strings.Fields(vars["VIGIL_BUILD_TARGETS"])
	if len(targets) == 0 || slices.Contains(targets, ".") {
		t.Fatalf("VIGIL_BUILD_TARGETS = %q: name the commands explicitly", vars["VIGIL_BUILD_TARGETS"])
	}
	mainPkg := regexp.MustCompile(`(?m)^package main$`)
	for _, target := range targets {
		files, _ := filepath.Glob(filepath.Join(site, target, "*.go"))
		found := false
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") && mainPkg.MatchString(read(t, f)) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("build target %s is not a main package in %s", target, site)
		}
	}

	// -X main.version=... must name a variable of the command, as the
	// Makefile's LDFLAGS do.
	for _, x := range regexp.MustCompile(`-X\s+main\.(\w+)=`).FindAllStringSubmatch(vars["VIGIL_LDFLAGS"], -1) {
		decl := regexp.MustCompile(`(?m)^\s*(var\s+)?` + x[1] + `\s+(string|=)`)
		found := false
		for _, target := range targets {
			files, _ := filepath.Glob(filepath.Join(site, target, "*.go"))
			for _, f := range files {
				if !strings.HasSuffix(f, "_test.go") && decl.MatchString(read(t, f)) {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("VIGIL_LDFLAGS sets main.%s, which no build target declares", x[1])
		}
	}
	if mkFile := read(t, filepath.Join(site, "Makefile")); !strings.Contains(mkFile, "-X main.version=") {
		t.Error("the Makefile no longer sets main.version: keep vigil.mk's VIGIL_LDFLAGS in step")
	}
}

// partitions reads the partition blocks of a genimage configuration.
func partitions(t *testing.T, path string) map[string]map[string]string {
	src := read(t, path)
	parts := map[string]map[string]string{}
	block := regexp.MustCompile(`(?s)partition\s+(\w+)\s*\{(.*?)\}`)
	attr := regexp.MustCompile(`(?m)^\s*([a-z-]+)\s*=\s*"?([^"\n]*)"?\s*$`)
	for _, b := range block.FindAllStringSubmatch(src, -1) {
		p := map[string]string{}
		for _, a := range attr.FindAllStringSubmatch(b[2], -1) {
			p[a[1]] = a[2]
		}
		parts[b[1]] = p
	}
	return parts
}

// TestSameDiskLayout: the buildroot image and the Debian-based one have the
// same partitions, so the overlay's fstab, repart.d and boot entry fit both.
func TestSameDiskLayout(t *testing.T) {
	br := partitions(t, "board/vigil/genimage.cfg")
	deb := partitions(t, filepath.Join("..", "appliance", "image", "genimage.cfg"))
	if len(br) != 3 || len(deb) != 3 {
		t.Fatalf("want esp, root and data partitions; buildroot has %d, the Debian image %d", len(br), len(deb))
	}
	for name, d := range deb {
		b, ok := br[name]
		if !ok {
			t.Errorf("buildroot layout lacks partition %s", name)
			continue
		}
		if b["partition-type-uuid"] != d["partition-type-uuid"] {
			t.Errorf("partition %s: type %s in buildroot, %s in the Debian image", name, b["partition-type-uuid"], d["partition-type-uuid"])
		}
	}
	build := read(t, filepath.Join("..", "appliance", "image", "build.sh"))
	m := regexp.MustCompile(`(?m)^root_partuuid=(\S+)`).FindStringSubmatch(build)
	if m == nil || br["root"]["partition-uuid"] != m[1] {
		t.Errorf("root PARTUUID differs: buildroot %q, build.sh %v", br["root"]["partition-uuid"], m)
	}
}
