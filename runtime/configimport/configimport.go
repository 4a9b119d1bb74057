// Package configimport imports a site configuration from a removable
// filesystem (a USB stick labelled VIGIL-CFG, mounted read-only by the
// appliance's vigil-config-import@ unit) into the agent's config_dir, whose
// hot reload applies it, and signs and checks such a configuration.
//
// What is imported: the regular *.hcl files at the top level of the stick,
// at most MaxFiles of at most 16 MiB each (the loader's bound, hcl.ReadFile).
// Each is read once, into memory, and written beside its target and renamed
// over it, so the hot reload never reads a half-written file and what is
// written is what was checked. Files only in config_dir are kept.
//
// Signed import. Without trusted keys, whoever plugs a stick in changes the
// site's configuration (physical access is trusted). With trusted keys (the
// agent file's config_import_keys) a stick is imported only when it carries
// SignatureFile, a detached Ed25519 signature made by `vigil config sign`
// with one of those keys over Digest of exactly the files to import: names
// and contents, sorted by name. Nothing is imported otherwise: not from an
// unsigned stick, nor from one with a changed byte, an added or a removed
// file, an unreadable or oversized file, or a signature by another key;
// the Refusal says which.
package configimport

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"vigil/hcl"
	"vigil/runtime/atomicfile"
	"vigil/runtime/evidence"
)

// MaxFiles bounds the *.hcl files of one stick.
const MaxFiles = 100

// SignatureFile is the detached signature's name at the stick's top level.
const SignatureFile = "vigil-config.sig"

// FormatVersion is the signature file's format.
const FormatVersion = 1

// signingContext prefixes the signed bytes, so that a configuration
// signature can never be taken for a signature over anything else.
const signingContext = "vigil config import\n"

// File is one configuration file of a stick.
type File struct {
	Name string
	Data []byte
}

// Signature is the content of SignatureFile (JSON). Files lists the signed
// names, so that a refusal can name what was added or removed; the
// signature covers them through Digest.
type Signature struct {
	FormatVersion int      `json:"format_version"`
	PublicKey     string   `json:"public_key"`
	Files         []string `json:"files"`
	Signature     string   `json:"signature"`
}

// Refusal is why a stick's configuration was not imported: nothing of it
// was written.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

func refuse(format string, a ...any) error { return &Refusal{Reason: fmt.Sprintf(format, a...)} }

// Digest is the SHA-256 that a signature covers: for each file in name
// order, its name and its content's SHA-256, each length-prefixed so that no
// two sets of files give the same bytes.
func Digest(files []File) [32]byte {
	fs := slices.Clone(files)
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
	var b bytes.Buffer
	b.WriteString(signingContext)
	for _, f := range fs {
		sum := sha256.Sum256(f.Data)
		b.WriteString(strconv.Itoa(len(f.Name)) + ":" + f.Name + " " + hex.EncodeToString(sum[:]) + "\n")
	}
	return sha256.Sum256(b.Bytes())
}

// Read reads the configuration files of dir (a mounted stick): the regular
// *.hcl files at its top level, in name order. skipped names each file left
// out and why (not a regular file, over the loader's size bound); an error
// means dir cannot be imported at all (unreadable, more than MaxFiles, no
// file).
func Read(dir string) (files []File, skipped []string, err error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.hcl"))
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(names)
	if len(names) > MaxFiles {
		return nil, nil, refuse("%s has %d *.hcl files, more than the %d a configuration stick may have", dir, len(names), MaxFiles)
	}
	for _, p := range names {
		name := filepath.Base(p)
		// A symlink on the stick could name any file of this machine.
		if st, err := os.Lstat(p); err != nil || !st.Mode().IsRegular() {
			skipped = append(skipped, name+": not a regular file")
			continue
		}
		data, err := hcl.ReadFile(p)
		if err != nil {
			// hcl.ReadFile names the file by its path: name it as on the stick.
			msg := name + ": " + err.Error()
			if rest, ok := strings.CutPrefix(err.Error(), p+" "); ok {
				msg = name + " " + rest
			}
			skipped = append(skipped, msg)
			continue
		}
		files = append(files, File{Name: name, Data: data})
	}
	if len(files) == 0 {
		return nil, skipped, refuse("%s has no *.hcl file at its top level that can be imported", dir)
	}
	return files, skipped, nil
}

// Sign signs the configuration files of dir with key and writes
// SignatureFile into dir. Every *.hcl file there must be importable: a
// file the import would skip is refused here rather than left unsigned.
func Sign(dir string, key ed25519.PrivateKey) (*Signature, error) {
	files, skipped, err := Read(dir)
	if err != nil {
		return nil, err
	}
	if len(skipped) > 0 {
		return nil, fmt.Errorf("cannot sign %s: %s", dir, strings.Join(skipped, "; "))
	}
	sig := SignFiles(files, key)
	b, err := json.MarshalIndent(sig, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(dir, SignatureFile), append(b, '\n'), 0o644, ".sig-*"); err != nil {
		return nil, err
	}
	return sig, nil
}

// SignFiles is the signature of files by key.
func SignFiles(files []File, key ed25519.PrivateKey) *Signature {
	d := Digest(files)
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	sort.Strings(names)
	return &Signature{
		FormatVersion: FormatVersion,
		PublicKey:     hex.EncodeToString(key.Public().(ed25519.PublicKey)),
		Files:         names,
		Signature:     hex.EncodeToString(ed25519.Sign(key, d[:])),
	}
}

// Verify checks that sig is a signature by one of trusted over exactly
// files. The error is a *Refusal naming the first reason.
func Verify(files []File, sig *Signature, trusted []ed25519.PublicKey) error {
	if sig.FormatVersion != FormatVersion {
		return refuse("%s has format version %d; this vigil reads version %d", SignatureFile, sig.FormatVersion, FormatVersion)
	}
	signed := map[string]bool{}
	for _, n := range sig.Files {
		signed[n] = true
	}
	present := map[string]bool{}
	for _, f := range files {
		present[f.Name] = true
		if !signed[f.Name] {
			return refuse("%s is on the stick but not signed: a file was added after signing", f.Name)
		}
	}
	for _, n := range sig.Files {
		if !present[n] {
			return refuse("%s is signed but not on the stick (or cannot be imported): a file was removed after signing", n)
		}
	}
	pub, err := evidence.ParsePublicKey(sig.PublicKey)
	if err != nil {
		return refuse("%s: public_key: %v", SignatureFile, err)
	}
	if !slices.ContainsFunc(trusted, func(k ed25519.PublicKey) bool { return k.Equal(pub) }) {
		return refuse("signed with key %s, which is not one of the agent's config_import_keys", sig.PublicKey)
	}
	raw, err := hex.DecodeString(sig.Signature)
	d := Digest(files)
	if err != nil || len(raw) != ed25519.SignatureSize || !ed25519.Verify(pub, d[:], raw) {
		return refuse("the signature does not match the files: a file was changed after signing")
	}
	return nil
}

// readSignature reads dir's SignatureFile.
func readSignature(dir string) (*Signature, error) {
	p := filepath.Join(dir, SignatureFile)
	if st, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return nil, refuse("the stick is not signed (no %s) and this agent imports only configurations signed with one of its config_import_keys", SignatureFile)
	} else if err != nil || !st.Mode().IsRegular() {
		return nil, refuse("%s is not a regular file", SignatureFile)
	}
	b, err := hcl.ReadFile(p)
	if err != nil {
		return nil, refuse("%s: %v", SignatureFile, err)
	}
	var sig Signature
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sig); err != nil {
		return nil, refuse("%s is not a vigil configuration signature: %v", SignatureFile, err)
	}
	return &sig, nil
}

// Result is what Import did.
type Result struct {
	// Imported are the names written into the destination, in order.
	Imported []string
	// Skipped names each file of the stick left out and why (unsigned
	// imports only: a signed import refuses instead).
	Skipped []string
	// Signer is the public key (hex) whose signature was checked; empty
	// for an unsigned import.
	Signer string
}

// Import copies the configuration files of src into dst. With trusted
// keys, only a configuration signed with one of them is imported, and
// nothing at all otherwise (a *Refusal). Without, every importable file is.
func Import(src, dst string, trusted []ed25519.PublicKey) (*Result, error) {
	files, skipped, err := Read(src)
	if err != nil {
		return nil, err
	}
	res := &Result{Skipped: skipped}
	if len(trusted) > 0 {
		sig, err := readSignature(src)
		if err != nil {
			return nil, err
		}
		if len(skipped) > 0 {
			return nil, refuse("every *.hcl file of a signed stick must be imported, and %s", strings.Join(skipped, "; "))
		}
		if err := Verify(files, sig, trusted); err != nil {
			return nil, err
		}
		res.Signer = sig.PublicKey
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := atomicfile.Write(filepath.Join(dst, f.Name), f.Data, 0o600, "."+f.Name+".import-*"); err != nil {
			return res, fmt.Errorf("writing %s into %s: %w", f.Name, dst, err)
		}
		res.Imported = append(res.Imported, f.Name)
	}
	return res, nil
}

// GenerateKey makes a signing key pair.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	return k, err
}

// EncodePrivateKey is a key file's content: the key's 32-byte seed in
// lower-case hex and a newline. The public half is printed in the format of
// the site's export key (evidence.ParsePublicKey reads both).
func EncodePrivateKey(k ed25519.PrivateKey) []byte {
	return []byte(hex.EncodeToString(k.Seed()) + "\n")
}

// ParsePrivateKey reads a key file written by EncodePrivateKey.
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	s, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(s) != ed25519.SeedSize {
		return nil, errors.New("a configuration signing key file holds 64 hex digits, as `vigil config keygen` writes it")
	}
	return ed25519.NewKeyFromSeed(s), nil
}

// SiteSigningKey is the signing key derived from a site key (32 bytes):
// an agent whose config_import_keys lists "site" imports sticks signed with
// it (vigil config sign -site-key), so that a site need not keep another
// secret. Whoever holds the site key can already join the site and commit
// any configuration, so it signs nothing its holder could not do anyway.
// The derivation (HMAC-SHA256 with a fixed label) keeps the signing key
// apart from the site key's other uses.
func SiteSigningKey(siteKey []byte) ed25519.PrivateKey {
	m := hmac.New(sha256.New, siteKey)
	m.Write([]byte(signingContext + "site signing key\n"))
	return ed25519.NewKeyFromSeed(m.Sum(nil))
}

// PublicKeyString is a public key as config_import_keys lists it.
func PublicKeyString(k ed25519.PrivateKey) string {
	return hex.EncodeToString(k.Public().(ed25519.PublicKey))
}
