package evidence

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// export writes an MP4 stand-in and its signed manifest, every field set.
func export(t *testing.T, key ed25519.PrivateKey) (string, *Manifest) {
	t.Helper()
	mp4 := filepath.Join(t.TempDir(), "dock-1.mp4")
	video := make([]byte, 4096)
	for i := range video {
		video[i] = byte(i * 7)
	}
	if err := os.WriteFile(mp4, video, 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := HashFile(mp4)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{
		FormatVersion: FormatVersion, Site: "hq", Camera: "dock-1",
		RequestedStart: t0, RequestedEnd: t0.Add(time.Hour),
		ActualStart: t0.Add(-time.Second), ActualEnd: t0.Add(time.Hour),
		Sources: []Source{
			{Server: "rec-1", Path: "/srv/a/dock-1/2026-12-01/20-59-59.000000.mp4", Start: t0.Add(-time.Second), End: t0.Add(30 * time.Minute), Bytes: 1000, SHA256: strings.Repeat("ab", 32)},
			{Server: "rec-2", Path: "/srv/b/dock-1/2026-12-01/21-30-02.000000.mp4", Start: t0.Add(30*time.Minute + 2*time.Second), End: t0.Add(time.Hour), Bytes: 2000, SHA256: strings.Repeat("cd", 32)},
		},
		Gaps:       []Gap{{Start: t0.Add(30 * time.Minute), End: t0.Add(30*time.Minute + 2*time.Second), Cause: "server failure"}},
		ExportedBy: "alice", ExportedAt: t0.Add(48 * time.Hour), MP4SHA256: sum,
	}
	if err := Sign(m, key); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(mp4, m); err != nil {
		t.Fatal(err)
	}
	return mp4, m
}

func mismatch(t *testing.T, err error, want string) {
	t.Helper()
	var mm *MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("want a mismatch naming %q, got %v", want, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("mismatch %q does not name %q", err, want)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	key := newKey(t)
	mp4, want := export(t, key)
	got, err := VerifyFile(mp4)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("verified manifest %+v, signed %+v", got, want)
	}
	if _, err := VerifyFileTrusted(mp4, key.Public().(ed25519.PublicKey)); err != nil {
		t.Errorf("with the signing key as trusted key: %v", err)
	}
	s := got.Summary()
	for _, part := range []string{"camera dock-1 of site hq", "2026-12-01T20:59:59Z to 2026-12-01T22:00:00Z", "2 segment(s) from 2 server(s)", "1 gap(s) totalling 2s", "exported by alice"} {
		if !strings.Contains(s, part) {
			t.Errorf("summary %q lacks %q", s, part)
		}
	}
	// Empty lists are written as [], never null.
	m := &Manifest{FormatVersion: FormatVersion, Site: "hq"}
	if err := Sign(m, key); err != nil {
		t.Fatal(err)
	}
	b, _ := m.Encode()
	if !strings.Contains(string(b), `"sources": []`) || !strings.Contains(string(b), `"gaps": []`) {
		t.Errorf("empty lists: %s", b)
	}
	// Durations are rounded as the times beside them are, not printed to the
	// nanosecond ("(50.998954818s)").
	odd := &Manifest{ActualStart: time.Date(2026, 12, 4, 17, 48, 45, 209241297, time.UTC)}
	odd.ActualEnd = odd.ActualStart.Add(50998954818)
	odd.Gaps = []Gap{{Start: odd.ActualStart, End: odd.ActualStart.Add(838911000)}}
	if s := odd.Summary(); !strings.Contains(s, "(51s)") || !strings.Contains(s, "totalling 800ms") {
		t.Errorf("summary %q: want the period as (51s) and the gap as 800ms", s)
	}
	if err := Sign(m, key[:10]); err == nil {
		t.Error("a short key signed")
	}
}

// TestEveryFieldTamper changes each field of the manifest (nested ones
// too), writing the file canonically as vigil would, and expects the
// signature check to catch it.
func TestEveryFieldTamper(t *testing.T) {
	key := newKey(t)
	mp4, signed := export(t, key)
	var paths []string
	walkLeaves(reflect.ValueOf(signed).Elem(), "", func(path string, _ reflect.Value) { paths = append(paths, path) })
	if len(paths) < 20 {
		t.Fatalf("only %d fields walked: %v", len(paths), paths)
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			m := *signed
			m.Sources = append([]Source(nil), signed.Sources...)
			m.Gaps = append([]Gap(nil), signed.Gaps...)
			walkLeaves(reflect.ValueOf(&m).Elem(), "", func(p string, v reflect.Value) {
				if p == path {
					tamper(v)
				}
			})
			if err := WriteFile(mp4, &m); err != nil {
				t.Fatal(err)
			}
			_, err := VerifyFile(mp4)
			switch path {
			case "public_key":
				mismatch(t, err, "signature does not match")
			case "signature":
				mismatch(t, err, "signature does not match")
			case "mp4_sha256":
				mismatch(t, err, "the MP4's SHA-256 is")
				mismatch(t, err, "signature does not match")
			default:
				mismatch(t, err, "signature does not match")
			}
		})
	}
}

// walkLeaves calls fn for each scalar field of v (a struct), slices'
// elements included, with its JSON path.
func walkLeaves(v reflect.Value, prefix string, fn func(string, reflect.Value)) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			fn(prefix, v)
			return
		}
		for i := 0; i < v.NumField(); i++ {
			name := strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0]
			if prefix != "" {
				name = prefix + "." + name
			}
			walkLeaves(v.Field(i), name, fn)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkLeaves(v.Index(i), prefix+"["+string(rune('0'+i))+"]", fn)
		}
	default:
		fn(prefix, v)
	}
}

// tamper changes a scalar value as a forger would: slightly, keeping its
// form (hex stays hex of the same length, keys stay valid keys).
func tamper(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if b, err := hex.DecodeString(s); err == nil && len(b) > 0 {
			b[len(b)-1] ^= 1
			if len(b) == ed25519.PublicKeySize {
				pub, _, _ := ed25519.GenerateKey(rand.Reader)
				b = pub
			}
			v.SetString(hex.EncodeToString(b))
			return
		}
		v.SetString(s + "x")
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() - 1) // down: a newer format_version is refused before the signature is checked
	case reflect.Struct: // time.Time
		v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Second)))
	default:
		panic("tamper: unhandled kind " + v.Kind().String())
	}
}

// TestAnyByteOfTheManifest: every single-byte change of the manifest file
// fails, including those that keep its meaning as JSON.
func TestAnyByteOfTheManifest(t *testing.T) {
	mp4, _ := export(t, newKey(t))
	path := ManifestPath(mp4)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range orig {
		for _, b := range []byte{orig[i] ^ 0x01, orig[i] ^ 0x20, ' '} {
			if b == orig[i] {
				continue
			}
			edited := append([]byte(nil), orig...)
			edited[i] = b
			if err := os.WriteFile(path, edited, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyFile(mp4); err == nil {
				t.Fatalf("byte %d changed from %q to %q passes", i, orig[i], b)
			}
		}
	}
	// Re-indented by a tool, same content: refused, and the place named.
	if err := os.WriteFile(path, []byte(strings.Replace(string(orig), "  ", "\t", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = VerifyFile(mp4)
	mismatch(t, err, "not byte for byte as vigil wrote it (first difference at line 2, column 1)")
}

func TestOneByteMP4Edit(t *testing.T) {
	mp4, _ := export(t, newKey(t))
	orig, err := os.ReadFile(mp4)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, len(orig) / 2, len(orig) - 1} {
		edited := append([]byte(nil), orig...)
		edited[i]++
		if err := os.WriteFile(mp4, edited, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := VerifyFile(mp4)
		mismatch(t, err, "the video was changed after export")
		if strings.Contains(err.Error(), "signature") {
			t.Errorf("an MP4 edit blamed on the signature: %v", err)
		}
	}
	// A byte appended.
	if err := os.WriteFile(mp4, append(orig, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = VerifyFile(mp4)
	mismatch(t, err, "the video was changed after export")
}

func TestTrustedKey(t *testing.T) {
	mp4, _ := export(t, newKey(t))
	other := newKey(t).Public().(ed25519.PublicKey)
	_, err := VerifyFileTrusted(mp4, other)
	mismatch(t, err, "not with the trusted key "+hex.EncodeToString(other))
	if _, err := VerifyFileTrusted(mp4, other[:5]); err == nil {
		t.Error("a short trusted key was taken")
	}
	k, err := ParsePublicKey(" " + hex.EncodeToString(other) + "\n")
	if err != nil || !k.Equal(other) {
		t.Errorf("ParsePublicKey: %v %v", k, err)
	}
	if _, err := ParsePublicKey("abc"); err == nil {
		t.Error("a malformed key parsed")
	}
}

func TestUnreadable(t *testing.T) {
	mp4, _ := export(t, newKey(t))
	if err := os.WriteFile(ManifestPath(mp4), []byte(`{"format_version":1,"extra":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := VerifyFile(mp4)
	mismatch(t, err, "is not a vigil export manifest")
	if err := os.WriteFile(ManifestPath(mp4), []byte(`{"format_version":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyFile(mp4); err == nil || !strings.Contains(err.Error(), "newer than this vigil") {
		t.Errorf("newer format: %v", err)
	}
	os.Remove(ManifestPath(mp4))
	if _, err := VerifyFile(mp4); err == nil || !strings.Contains(err.Error(), "reading the manifest") {
		t.Errorf("missing manifest: %v", err)
	}
}

// A mistyped path is said of the file the user named, not of its manifest.
func TestVerifyNamesAMissingExport(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.mp4")
	_, err := VerifyFile(missing)
	if err == nil || !strings.Contains(err.Error(), "reading the export") || strings.Contains(err.Error(), ".json") {
		t.Errorf("VerifyFile(%s) = %v, want an error about the export itself", missing, err)
	}
}
