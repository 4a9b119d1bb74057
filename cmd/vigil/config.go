package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"vigil/runtime/agent"
	"vigil/runtime/api"
	"vigil/runtime/configimport"
)

func init() {
	register("config keygen", "Make a key pair that signs configuration sticks", runConfigKeygen)
	register("config sign", "Sign a directory's *.hcl files for a signed configuration import", runConfigSign)
	register("config import", "Import a configuration stick's *.hcl files into the agent's config_dir", runConfigImport)
}

func runConfigKeygen(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("config keygen", stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil config keygen FILE\n\n"+
			"Writes a new Ed25519 signing key to FILE (mode 0600; an existing file is not\n"+
			"replaced) and prints its public key. List the public key in the agent file's\n"+
			"config_import_keys to import only sticks signed with it (vigil config sign).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	file, code, ok := parseOneArg(fs, args)
	if !ok {
		return code
	}
	key, err := configimport.GenerateKey()
	if err != nil {
		return fail(stdout, stderr, false, err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fail(stdout, stderr, false, err)
	}
	_, err = f.Write(configimport.EncodePrivateKey(key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
		return fail(stdout, stderr, false, err)
	}
	fmt.Fprintf(stdout, "%s\n", configimport.PublicKeyString(key))
	fmt.Fprintf(stderr, "Wrote the private key to %s; the public key above goes into config_import_keys.\n", file)
	return exitOK
}

func runConfigSign(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("config sign", stderr)
	keyFile := fs.String("key", "", "the signing key file (vigil config keygen)")
	siteKeyFile := fs.String("site-key", "", `the site key file (site_key_file of the agent file), for agents that list "site" in config_import_keys`)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil config sign -key FILE | -site-key FILE DIR\n\n"+
			"Signs the *.hcl files at the top level of DIR (a configuration stick) and writes\n"+
			"the detached signature to DIR/%s. An agent whose file lists the key's\n"+
			"public half (or \"site\", for -site-key) in config_import_keys imports the\n"+
			"stick only if its files are exactly the ones signed, byte for byte. Sign after\n"+
			"the last change.\n\nFlags:\n", configimport.SignatureFile)
		fs.PrintDefaults()
	}
	dir, code, ok := parseOneArg(fs, args)
	if !ok {
		return code
	}
	if (*keyFile == "") == (*siteKeyFile == "") {
		fs.Usage()
		return exitUsage
	}
	path := *keyFile + *siteKeyFile
	raw, err := os.ReadFile(path)
	if err != nil {
		return fail(stdout, stderr, false, err)
	}
	var key ed25519.PrivateKey
	if *siteKeyFile != "" {
		var site []byte
		if site, err = agent.ParseSiteKey(string(raw)); err == nil {
			key = configimport.SiteSigningKey(site)
		}
	} else {
		key, err = configimport.ParsePrivateKey(raw)
	}
	if err != nil {
		return fail(stdout, stderr, false, fmt.Errorf("%s: %w", path, err))
	}
	sig, err := configimport.Sign(dir, key)
	if err != nil {
		return fail(stdout, stderr, false, err)
	}
	fmt.Fprintf(stdout, "Signed %s of %s with key %s: %s\n", plural(len(sig.Files), "file", "files"), dir, sig.PublicKey, strings.Join(sig.Files, ", "))
	return exitOK
}

func runConfigImport(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("config import", stderr)
	config := fs.String("config", "/var/lib/vigil/config/agent.hcl", "the agent configuration file: its config_dir receives the files, its config_import_keys (if any) must have signed them")
	from := fs.String("from", "", "the name of the stick in messages (default DIR)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil config import [-config FILE] [-from NAME] DIR\n\n"+
			"Copies the regular *.hcl files at the top level of DIR (a mounted configuration\n"+
			"stick; at most %d, each at most 16 MiB) into the agent's config_dir, whose hot\n"+
			"reload applies them. The appliance runs it when a filesystem labelled VIGIL-CFG\n"+
			"appears. When the agent file sets config_import_keys, nothing is imported unless\n"+
			"DIR carries a valid signature by one of them (vigil config sign) over exactly its\n"+
			"*.hcl files; a refusal exits 1 naming why, and the running configuration stays.\n\nFlags:\n", configimport.MaxFiles)
		fs.PrintDefaults()
	}
	dir, code, ok := parseOneArg(fs, args)
	if !ok {
		return code
	}
	name := *from
	if name == "" {
		name = dir
	}
	cfg, ok := loadAgentConfig(*config, stderr)
	if !ok {
		return exitError
	}
	if cfg.ConfigDir == "" {
		fmt.Fprintf(stderr, "vigil config import: %s: %s sets no config_dir: nothing to import into\n", name, *config)
		return exitError
	}
	res, err := configimport.Import(dir, cfg.ConfigDir, cfg.ConfigImportKeys)
	if res != nil {
		for _, s := range res.Skipped {
			fmt.Fprintf(stderr, "vigil config import: %s: %s: skipped\n", name, s)
		}
		for _, f := range res.Imported {
			fmt.Fprintf(stdout, "vigil config import: %s: %s -> %s\n", name, f, cfg.ConfigDir)
		}
	}
	var refusal *configimport.Refusal
	rep := api.ConfigImportReport{Source: name}
	code = exitError
	switch {
	case errors.As(err, &refusal):
		fmt.Fprintf(stderr, "vigil config import: %s: refused: %s; nothing was imported, the running configuration stays\n", name, refusal.Reason)
		rep.Refused = refusal.Reason
	case err != nil:
		fmt.Fprintf(stderr, "vigil config import: %s: %v\n", name, err)
		rep.Refused = err.Error()
	default:
		signed := "unsigned: config_import_keys is not set"
		if res.Signer != "" {
			signed = "signed by " + res.Signer
		}
		fmt.Fprintf(stdout, "vigil config import: %s: imported %s (%s)\n", name, plural(len(res.Imported), "file", "files"), signed)
		rep.Imported, rep.Signer, code = res.Imported, res.Signer, exitOK
	}
	// The agent raises the event; an agent that is down (the files are
	// loaded when it starts) misses it, and the line above stays in the
	// journal.
	ctx, cancel := context.WithTimeout(context.Background(), reportTimeout)
	defer cancel()
	client, err := cfg.LocalClient(cfg.Token)
	if err == nil {
		err = client.ReportConfigImport(ctx, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vigil config import: %s: no event raised: %v\n", name, err)
	}
	return code
}

// reportTimeout bounds the wait for the local agent to take the import's
// event.
const reportTimeout = 5 * time.Second
