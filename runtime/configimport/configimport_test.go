package configimport

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func key(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// stick is a signed configuration stick of two files.
func stick(t *testing.T, k ed25519.PrivateKey) string {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, "main.hcl", "site \"hq\" {}\n")
	write(t, dir, "cams.hcl", "# cameras\n")
	if _, err := Sign(dir, k); err != nil {
		t.Fatal(err)
	}
	return dir
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSignedImportRoundTrip(t *testing.T) {
	k := key(t)
	src, dst := stick(t, k), filepath.Join(t.TempDir(), "site")
	res, err := Import(src, dst, []ed25519.PublicKey{pub(key(t)), pub(k)})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Imported, ",") != "cams.hcl,main.hcl" || res.Signer != PublicKeyString(k) {
		t.Fatalf("imported %v signed by %q", res.Imported, res.Signer)
	}
	for _, n := range []string{"main.hcl", "cams.hcl"} {
		got, err := os.ReadFile(filepath.Join(dst, n))
		want, _ := os.ReadFile(filepath.Join(src, n))
		if err != nil || string(got) != string(want) {
			t.Fatalf("%s imported as %q (%v), want %q", n, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, SignatureFile)); !os.IsNotExist(err) {
		t.Fatalf("the signature was imported: %v", err)
	}
}

// TestSignedImportRefusals: each way a stick can differ from what was
// signed is refused with its reason, and nothing is written.
func TestSignedImportRefusals(t *testing.T) {
	k := key(t)
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string)
		keys   []ed25519.PublicKey
		reason string
	}{
		{"unsigned", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, SignatureFile)) }, nil, "not signed"},
		{"one changed byte", func(t *testing.T, dir string) { write(t, dir, "cams.hcl", "# camerAs\n") }, nil, "a file was changed after signing"},
		{"added file", func(t *testing.T, dir string) { write(t, dir, "extra.hcl", "# extra\n") }, nil, "extra.hcl is on the stick but not signed"},
		{"removed file", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "cams.hcl")) }, nil, "cams.hcl is signed but not on the stick"},
		{"wrong key", func(t *testing.T, dir string) {}, []ed25519.PublicKey{pub(key(t))}, "not one of the agent's config_import_keys"},
		{"re-signed by another key", func(t *testing.T, dir string) {
			if _, err := Sign(dir, key(t)); err != nil {
				t.Fatal(err)
			}
		}, nil, "not one of the agent's config_import_keys"},
		{"symlink beside signed files", func(t *testing.T, dir string) {
			if err := os.Symlink("/etc/hostname", filepath.Join(dir, "link.hcl")); err != nil {
				t.Fatal(err)
			}
		}, nil, "link.hcl: not a regular file"},
		{"damaged signature file", func(t *testing.T, dir string) { write(t, dir, SignatureFile, "{") }, nil, "not a vigil configuration signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := stick(t, k), filepath.Join(t.TempDir(), "site")
			tc.change(t, src)
			keys := tc.keys
			if keys == nil {
				keys = []ed25519.PublicKey{pub(k)}
			}
			res, err := Import(src, dst, keys)
			var r *Refusal
			if !errors.As(err, &r) || !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("Import = %v, %v; want a refusal naming %q", res, err, tc.reason)
			}
			if entries, _ := os.ReadDir(dst); len(entries) > 0 {
				t.Fatalf("a refused stick wrote %d file(s) into the config_dir", len(entries))
			}
		})
	}
}

// TestUnsignedImport: without trusted keys any stick is imported as
// before, a signature or not, and unimportable files are skipped.
func TestUnsignedImport(t *testing.T) {
	src, dst := stick(t, key(t)), t.TempDir()
	write(t, src, "cams.hcl", "# changed after signing\n")
	if err := os.Symlink("/etc/hostname", filepath.Join(src, "link.hcl")); err != nil {
		t.Fatal(err)
	}
	res, err := Import(src, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Imported, ",") != "cams.hcl,main.hcl" || res.Signer != "" || len(res.Skipped) != 1 {
		t.Fatalf("imported %v, skipped %v, signer %q", res.Imported, res.Skipped, res.Signer)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "cams.hcl")); string(b) != "# changed after signing\n" {
		t.Fatalf("cams.hcl imported as %q", b)
	}
}

func TestTooManyFilesRefused(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	for i := range MaxFiles + 1 {
		write(t, src, strings.Repeat("a", i+1)+".hcl", "\n")
	}
	var r *Refusal
	if _, err := Import(src, dst, nil); !errors.As(err, &r) {
		t.Fatalf("Import of %d files = %v, want a refusal", MaxFiles+1, err)
	}
	if entries, _ := os.ReadDir(dst); len(entries) > 0 {
		t.Fatalf("%d file(s) imported", len(entries))
	}
}

// TestDigestIsOverNamesAndContents: renaming a file, or moving bytes from
// one file to the next, changes the digest.
func TestDigestIsOverNamesAndContents(t *testing.T) {
	base := Digest([]File{{"a.hcl", []byte("xy")}, {"b.hcl", []byte("z")}})
	for _, fs := range [][]File{
		{{"a.hcl", []byte("x")}, {"b.hcl", []byte("yz")}},
		{{"a.hcl", []byte("xy")}, {"c.hcl", []byte("z")}},
		{{"a.hcl", []byte("xy")}},
	} {
		if Digest(fs) == base {
			t.Fatalf("%v has the digest of a.hcl=xy b.hcl=z", fs)
		}
	}
	if Digest([]File{{"b.hcl", []byte("z")}, {"a.hcl", []byte("xy")}}) != base {
		t.Fatal("the digest depends on the order files are listed in")
	}
}

func TestKeyFileRoundTrip(t *testing.T) {
	k := key(t)
	got, err := ParsePrivateKey(EncodePrivateKey(k))
	if err != nil || !got.Equal(k) {
		t.Fatalf("ParsePrivateKey(EncodePrivateKey) = %v", err)
	}
	if _, err := ParsePrivateKey([]byte("not a key")); err == nil {
		t.Fatal("a malformed key file was accepted")
	}
}

// TestOversizedFile: a file over the loader's bound is skipped (unsigned)
// or refuses the stick (signed), named as on the stick.
func TestOversizedFile(t *testing.T) {
	k := key(t)
	src := stick(t, k)
	big := make([]byte, 16<<20+1)
	if err := os.WriteFile(filepath.Join(src, "huge.hcl"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Import(src, t.TempDir(), nil)
	if err != nil || len(res.Skipped) != 1 || !strings.HasPrefix(res.Skipped[0], "huge.hcl is 16777217 bytes, more than") {
		t.Fatalf("unsigned: %+v, %v", res, err)
	}
	var r *Refusal
	if _, err := Import(src, t.TempDir(), []ed25519.PublicKey{pub(k)}); !errors.As(err, &r) || !strings.Contains(r.Reason, "huge.hcl is 16777217 bytes") {
		t.Fatalf("signed: %v", err)
	}
	if _, err := Sign(src, k); err == nil || !strings.Contains(err.Error(), "huge.hcl") {
		t.Fatalf("signing a stick with an oversized file: %v", err)
	}
}

// TestSiteSigningKey: the key derived from a site key is the same on every
// server of the site, another for another site, and not the site key used
// as a seed.
func TestSiteSigningKey(t *testing.T) {
	a, b := []byte("0123456789abcdef0123456789abcdef"), []byte("0123456789abcdef0123456789abcdeF")
	if !SiteSigningKey(a).Equal(SiteSigningKey(append([]byte(nil), a...))) {
		t.Fatal("two derivations from one site key differ")
	}
	if SiteSigningKey(a).Equal(SiteSigningKey(b)) || SiteSigningKey(a).Equal(ed25519.NewKeyFromSeed(a)) {
		t.Fatal("the derived key does not depend on the site key, or is the site key itself")
	}
}
