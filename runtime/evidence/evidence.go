// Package evidence writes and checks the signed manifest that travels beside
// an exported MP4 (FILE.mp4.json beside FILE.mp4).
//
// Trust model. The manifest names the site, camera, requested and actual
// period, the source segments with the SHA-256 each had when its recorder
// closed it, the gaps and their causes, who exported it and when, and the
// MP4's SHA-256. It is signed with the site's Ed25519 export key, which is
// made when the site forms and replicated with the site's state, so that
// every server signs with the same key and the key survives the loss of any
// server. The public half is written into the manifest, which makes a file
// self-contained: anyone can check that the MP4 and the manifest are exactly
// as signed (integrity). That alone does not prove where the file came
// from: a forger could sign a forged file with a key of their own. Origin
// is proven by checking against the site's public key obtained from the site
// itself (`vigil export -public-key`) and kept apart from the file, which
// VerifyFileTrusted does. The private key lives in the replicated state on
// the site's servers; whoever can read their data directories can sign.
//
// A manifest file is exactly the canonical encoding Encode gives for its
// content: any byte changed in it, even one that keeps its meaning (a space,
// an escaped letter, upper-case hex), fails verification, as does any byte
// changed in the MP4.
package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"vigil/runtime/atomicfile"
)

// FormatVersion is the manifest format this package writes; it reads this
// one and refuses newer ones.
const FormatVersion = 1

// signingContext prefixes the signed bytes, so that a signature over a
// manifest can never be taken for one over anything else signed with the
// same key.
const signingContext = "vigil export manifest\n"

// Manifest describes one exported MP4.
type Manifest struct {
	FormatVersion  int       `json:"format_version"`
	Site           string    `json:"site"`
	Camera         string    `json:"camera"`
	RequestedStart time.Time `json:"requested_start"`
	RequestedEnd   time.Time `json:"requested_end"`
	// ActualStart and ActualEnd are the period the MP4 covers: it starts at
	// the key frame at or before RequestedStart.
	ActualStart time.Time `json:"actual_start"`
	ActualEnd   time.Time `json:"actual_end"`
	Sources     []Source  `json:"sources"`
	Gaps        []Gap     `json:"gaps"`
	ExportedBy  string    `json:"exported_by"`
	ExportedAt  time.Time `json:"exported_at"`
	// MP4SHA256 is the hex SHA-256 of the whole MP4 file.
	MP4SHA256 string `json:"mp4_sha256"`
	// PublicKey and Signature (hex) are filled by Sign.
	PublicKey string `json:"public_key"`
	Signature string `json:"signature"`
}

// Source is one recorded segment the export was cut from.
type Source struct {
	Server string    `json:"server"`
	Path   string    `json:"path"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Bytes  int64     `json:"bytes"`
	// SHA256 is the segment's hash as its recorder closed it (empty for a
	// segment still being written or indexed before hashes were kept).
	SHA256 string `json:"sha256"`
}

// Gap is a period of the export without footage, with its cause.
type Gap struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Cause string    `json:"cause"`
}

// ManifestPath is where the manifest of an MP4 lives.
func ManifestPath(mp4Path string) string { return mp4Path + ".json" }

// Sign fills m's PublicKey and Signature: an Ed25519 signature by key over
// the canonical encoding of every other field. Empty Sources and Gaps are
// set to empty lists first, so that the file says [] rather than null.
func Sign(m *Manifest, key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("export key has %d bytes, want an Ed25519 private key of %d", len(key), ed25519.PrivateKeySize)
	}
	if m.Sources == nil {
		m.Sources = []Source{}
	}
	if m.Gaps == nil {
		m.Gaps = []Gap{}
	}
	m.PublicKey = hex.EncodeToString(key.Public().(ed25519.PublicKey))
	msg, err := signedBytes(m)
	if err != nil {
		return err
	}
	m.Signature = hex.EncodeToString(ed25519.Sign(key, msg))
	return nil
}

// signedBytes is what the signature covers: the context and the compact
// JSON of the manifest without its signature. encoding/json writes struct
// fields in a fixed order, so the encoding of a given content is unique.
func signedBytes(m *Manifest) ([]byte, error) {
	c := *m
	c.Signature = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	return append([]byte(signingContext), b...), nil
}

// Encode is the manifest file's content: indented JSON and a newline.
func (m *Manifest) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteFile writes m beside mp4Path (ManifestPath), durably: through a
// temporary file, synced and renamed.
func WriteFile(mp4Path string, m *Manifest) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	path := ManifestPath(mp4Path)
	if err := atomicfile.Write(path, b, 0o600, ".manifest-*"); err != nil {
		return fmt.Errorf("writing manifest %s: %w", path, err)
	}
	return nil
}

// HashFile is the hex SHA-256 of a file.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Received reads the manifest that an agent sends with an export (the
// decoded trailer of GET /v1/export/CAMERA.mp4, api.Client.Export) and checks
// that the MP4 received at mp4Path is the one it signs: a transfer cut or
// damaged on the way fails here. vigil export and the console's export use
// it before they hand the pair on.
func Received(raw []byte, mp4Path string) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("the agent's manifest is not one: %w", err)
	}
	sum, err := HashFile(mp4Path)
	if err != nil {
		return nil, err
	}
	if sum != m.MP4SHA256 {
		return nil, fmt.Errorf("the MP4 received does not have the SHA-256 the agent signed (%s, want %s): the transfer was damaged; export again", sum, m.MP4SHA256)
	}
	return &m, nil
}

// MismatchError lists everything in an export that does not match what was
// signed. Any other error of VerifyFile means the files could not be read.
type MismatchError struct {
	Problems []string
}

func (e *MismatchError) Error() string { return strings.Join(e.Problems, "; ") }

// VerifyFile checks an exported MP4 and its manifest (ManifestPath): that
// the manifest file is exactly as signed, that the signature over it is
// valid for the public key it names, and that the MP4's SHA-256 is the one
// it names. It returns the manifest, and a *MismatchError naming each
// thing that does not match. It proves integrity, not origin: see
// VerifyFileTrusted.
func VerifyFile(mp4Path string) (*Manifest, error) {
	return verify(mp4Path, nil)
}

// VerifyFileTrusted is VerifyFile that also requires the manifest to be
// signed with trusted, the site's public export key obtained apart from the
// file: this proves that the site made the export.
func VerifyFileTrusted(mp4Path string, trusted ed25519.PublicKey) (*Manifest, error) {
	if len(trusted) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("the trusted public key has %d bytes, want %d", len(trusted), ed25519.PublicKeySize)
	}
	return verify(mp4Path, trusted)
}

func verify(mp4Path string, trusted ed25519.PublicKey) (*Manifest, error) {
	// The video first: a wrong path should name the file the user gave,
	// not the manifest derived from it.
	if _, err := os.Stat(mp4Path); err != nil {
		return nil, fmt.Errorf("reading the export: %w", err)
	}
	path := ManifestPath(mp4Path)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, &MismatchError{Problems: []string{fmt.Sprintf("%s is not a vigil export manifest: %v", path, err)}}
	}
	if m.FormatVersion > FormatVersion {
		return &m, fmt.Errorf("%s has format version %d, newer than this vigil understands (%d)", path, m.FormatVersion, FormatVersion)
	}
	var problems []string
	if canon, err := m.Encode(); err != nil || !bytes.Equal(canon, raw) {
		problems = append(problems, fmt.Sprintf("%s is not byte for byte as vigil wrote it (%s): it was edited after export", path, firstDifference(raw, canon)))
	}
	pub, perr := decodeHex("public_key", m.PublicKey, ed25519.PublicKeySize)
	sig, serr := decodeHex("signature", m.Signature, ed25519.SignatureSize)
	switch {
	case perr != nil:
		problems = append(problems, perr.Error())
	case serr != nil:
		problems = append(problems, serr.Error())
	default:
		msg, err := signedBytes(&m)
		if err != nil || !ed25519.Verify(pub, msg, sig) {
			problems = append(problems, "the signature does not match the manifest's content: a field was changed after signing, or it was signed with another key than public_key")
		}
	}
	if trusted != nil && !bytes.Equal(pub, trusted) {
		problems = append(problems, fmt.Sprintf("the manifest is signed with key %s, not with the trusted key %s: the site that owns the trusted key did not sign this export", m.PublicKey, hex.EncodeToString(trusted)))
	}
	sum, err := HashFile(mp4Path)
	if err != nil {
		return &m, fmt.Errorf("hashing the MP4: %w", err)
	}
	if sum != m.MP4SHA256 {
		problems = append(problems, fmt.Sprintf("the MP4's SHA-256 is %s but the manifest says %s: the video was changed after export", sum, m.MP4SHA256))
	}
	if len(problems) > 0 {
		return &m, &MismatchError{Problems: problems}
	}
	return &m, nil
}

// decodeHex decodes a lower-case hex field of n bytes; any other spelling of
// the same bytes is refused, so that the field has a single form.
func decodeHex(field, s string, n int) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != n || hex.EncodeToString(b) != s {
		return nil, fmt.Errorf("%s is not %d bytes of lower-case hex", field, n)
	}
	return b, nil
}

// firstDifference locates the first byte where got and want differ, as
// "line L, column C".
func firstDifference(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	line := 1 + bytes.Count(got[:i], []byte("\n"))
	col := i - bytes.LastIndexByte(got[:i], '\n')
	return fmt.Sprintf("first difference at line %d, column %d", line, col)
}

// ParsePublicKey reads a public export key as printed by
// `vigil export -public-key`: 64 hex digits.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("a public export key is 64 hex digits (32 bytes), as `vigil export -public-key` prints it")
	}
	return ed25519.PublicKey(b), nil
}

// summaryRound is the precision of the summary's durations: the times beside
// them are whole seconds, and the manifest keeps the exact ones.
const summaryRound = 100 * time.Millisecond

// Summary is one line describing a verified export.
func (m *Manifest) Summary() string {
	gaps := ""
	if n := len(m.Gaps); n > 0 {
		var missing time.Duration
		for _, g := range m.Gaps {
			missing += g.End.Sub(g.Start)
		}
		gaps = fmt.Sprintf(", %d gap(s) totalling %s", n, missing.Round(summaryRound))
	}
	servers := map[string]bool{}
	for _, s := range m.Sources {
		servers[s.Server] = true
	}
	return fmt.Sprintf("camera %s of site %s, %s to %s (%s), %d segment(s) from %d server(s)%s; exported by %s at %s; MP4 SHA-256 %s; signed by key %s",
		m.Camera, m.Site, m.ActualStart.UTC().Format(time.RFC3339), m.ActualEnd.UTC().Format(time.RFC3339), m.ActualEnd.Sub(m.ActualStart).Round(summaryRound),
		len(m.Sources), len(servers), gaps, m.ExportedBy, m.ExportedAt.UTC().Format(time.RFC3339), m.MP4SHA256, m.PublicKey)
}
