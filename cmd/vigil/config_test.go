package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/runtime/api"
)

// TestConfigSignedImport: vigil config keygen, sign and import end to end,
// through the agent file's config_import_keys: without it a stick is
// imported signed or not; with it only a stick signed with a listed key,
// and a refused stick leaves config_dir as it was. The running agent of
// the agent file raises an event for each import and refusal.
func TestConfigSignedImport(t *testing.T) {
	dir := t.TempDir()
	s, err := devsite.New(devsite.Options{Servers: []string{"rec-1"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	trustSites(t, s)
	t.Cleanup(s.Close)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	srv := s.Server("rec-1")
	cmd := func(wantCode int, args ...string) (string, string) {
		t.Helper()
		var out, errb strings.Builder
		if code := run(args, &out, &errb); code != wantCode {
			t.Fatalf("vigil %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out.String(), errb.String())
		}
		return out.String(), errb.String()
	}
	keyFile, otherKey := filepath.Join(dir, "op.key"), filepath.Join(dir, "other.key")
	pubOut, _ := cmd(0, "config", "keygen", keyFile)
	pub := strings.TrimSpace(pubOut)
	cmd(0, "config", "keygen", otherKey)
	cmd(1, "config", "keygen", keyFile) // an existing key is never replaced
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}

	stick := filepath.Join(dir, "stick")
	os.Mkdir(stick, 0o755)
	os.WriteFile(filepath.Join(stick, "main.hcl"), []byte("# v1\n"), 0o644)
	out, _ := cmd(0, "config", "sign", "-key", keyFile, stick)
	if !strings.Contains(out, "Signed 1 file of "+stick+" with key "+pub+": main.hcl") {
		t.Fatalf("sign: %s", out)
	}

	siteDir := filepath.Join(dir, "site")
	agentFile := func(keys string) string {
		p := filepath.Join(dir, "agent.hcl")
		os.WriteFile(p, []byte(fmt.Sprintf(`server = "rec-1"
site = %q
bind = %q
port = %d
data_dir = "data"
token = %q
site_key = %q
config_dir = "site"
`, s.Name, srv.IP, srv.Port, s.Token, base64.StdEncoding.EncodeToString(s.Key))+keys), 0o600)
		return p
	}
	imported := func() string {
		b, _ := os.ReadFile(filepath.Join(siteDir, "main.hcl"))
		return string(b)
	}

	// Signed with a listed key: imported.
	cfg := agentFile(`config_import_keys = ["` + pub + `"]` + "\n")
	out, _ = cmd(0, "config", "import", "-config", cfg, "-from", "/dev/sdz1", stick)
	if !strings.Contains(out, "vigil config import: /dev/sdz1: main.hcl -> "+siteDir) || !strings.Contains(out, "signed by "+pub) || imported() != "# v1\n" {
		t.Fatalf("signed import: %s; config_dir has %q", out, imported())
	}
	// Changed after signing: refused, and config_dir keeps v1.
	os.WriteFile(filepath.Join(stick, "main.hcl"), []byte("# v2\n"), 0o644)
	_, errOut := cmd(1, "config", "import", "-config", cfg, "-from", "/dev/sdz1", stick)
	if !strings.Contains(errOut, "vigil config import: /dev/sdz1: refused: the signature does not match the files") || imported() != "# v1\n" {
		t.Fatalf("tampered import: %s; config_dir has %q", errOut, imported())
	}
	// Signed with a key the agent does not list: refused.
	cmd(0, "config", "sign", "-key", otherKey, stick)
	if _, errOut = cmd(1, "config", "import", "-config", cfg, stick); !strings.Contains(errOut, "not one of the agent's config_import_keys") || imported() != "# v1\n" {
		t.Fatalf("wrong key: %s; config_dir has %q", errOut, imported())
	}
	// Without config_import_keys, behaviour is unchanged: imported.
	cfg = agentFile("")
	if out, _ = cmd(0, "config", "import", "-config", cfg, stick); !strings.Contains(out, "unsigned") || imported() != "# v2\n" {
		t.Fatalf("unsigned import: %s; config_dir has %q", out, imported())
	}
	// A malformed key in the agent file is a diagnostic, not a silent
	// unsigned import.
	cfg = agentFile(`config_import_keys = ["abc"]` + "\n")
	if _, errOut = cmd(1, "config", "import", "-config", cfg, stick); !strings.Contains(errOut, "Invalid configuration import key") {
		t.Fatalf("bad key: %s", errOut)
	}
	cmd(0, "config", "sign", "-h")
	cmd(2, "config", "sign", stick)

	// The agent's events, in order: imported (signed), refused (changed),
	// refused (wrong key), imported (unsigned).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hist, err := s.Client("rec-1").EventHistory(ctx, api.EventFilter{Kind: "config.imported,config.import_refused"}, api.EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for ev := range hist.Events {
		got = append(got, ev.Kind+": "+ev.Message)
	}
	want := []string{
		"config.imported: configuration stick /dev/sdz1 imported into config_dir (signed by " + pub + "): main.hcl",
		"config.import_refused: configuration stick /dev/sdz1 refused: the signature does not match the files: a file was changed after signing; nothing was imported, the running configuration stays",
		"config.import_refused: configuration stick " + stick + " refused: signed with key ",
		"config.imported: configuration stick " + stick + " imported into config_dir (unsigned): main.hcl",
	}
	if len(got) != len(want) {
		t.Fatalf("events:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("event %d: %s\nwant %s...", i, got[i], want[i])
		}
	}

	// "site": sticks signed with the site key (-site-key), and only those.
	siteKeyFile := filepath.Join(dir, "site.key")
	os.WriteFile(siteKeyFile, []byte(base64.StdEncoding.EncodeToString(s.Key)+"\n"), 0o600)
	cfg = agentFile(`config_import_keys = ["site"]` + "\n")
	if _, errOut = cmd(1, "config", "import", "-config", cfg, stick); !strings.Contains(errOut, "not one of the agent's config_import_keys") {
		t.Fatalf("operator-signed stick on a site-key agent: %s", errOut)
	}
	os.WriteFile(filepath.Join(stick, "main.hcl"), []byte("# v3\n"), 0o644)
	cmd(0, "config", "sign", "-site-key", siteKeyFile, stick)
	if out, _ = cmd(0, "config", "import", "-config", cfg, stick); !strings.Contains(out, "signed by") || imported() != "# v3\n" {
		t.Fatalf("site-signed import: %s; config_dir has %q", out, imported())
	}
	cmd(2, "config", "sign", "-key", keyFile, "-site-key", siteKeyFile, stick)
}
