package main

import (
	"io"
	"strings"
	"testing"

	"vigil/runtime/access"
)

// TestUserHash: vigil user hash reads the first line of a piped stdin and
// prints a hash that checks it, never the password; an empty stdin is an
// error, not a hash of "".
func TestUserHash(t *testing.T) {
	old := userStdin
	defer func() { userStdin = old }()
	for _, in := range []string{"s3cret pass\n", "s3cret pass\r\nsecond line\n", "s3cret pass"} {
		userStdin = strings.NewReader(in)
		code, out, errs := runArgs("user", "hash")
		hash := strings.TrimSpace(out)
		if code != 0 || !access.CheckPassword(hash, "s3cret pass") {
			t.Errorf("stdin %q: exit %d, stdout %q, stderr %q; want a hash of the first line", in, code, out, errs)
		}
		if strings.Contains(out+errs, "s3cret") {
			t.Errorf("stdin %q: the password was printed", in)
		}
	}
	for _, in := range []io.Reader{strings.NewReader(""), strings.NewReader("\nsecond\n")} {
		userStdin = in
		code, out, errs := runArgs("user", "hash")
		if code != exitError || out != "" || !strings.Contains(errs, "no password on stdin") {
			t.Errorf("empty first line: exit %d, stdout %q, stderr %q; want 1 and 'no password on stdin'", code, out, errs)
		}
	}
	if code, _, _ := runArgs("user", "hash", "extra"); code != exitUsage {
		t.Errorf("vigil user hash extra: exit %d, want 2", code)
	}
}
