package agent

import (
	"crypto/ed25519"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"

	"vigil/hcl/spec"
	"vigil/runtime/configimport"
	"vigil/runtime/evidence"
)

// Config is one agent's own configuration: who it is and how it reaches its
// peers. What it records comes from the site spec committed with vigil apply.
type Config struct {
	// Server is this server's name in the site spec.
	Server string
	// Site is the name of the site the server belongs to.
	Site string
	// DataDir holds the raft log, snapshots and, unless the spec names
	// storage, the recordings. Relative storage paths of the spec are
	// relative to it.
	DataDir string
	// Bind is the address the API, membership and raft listen on.
	Bind string
	// Advertise is the address peers use to reach this server; defaults to
	// Bind (required when Bind is 0.0.0.0 or ::).
	Advertise string
	// Port is the HTTP API port; membership uses Port+1 and raft Port+2.
	Port int
	// Join lists peers to contact at start, "host" or "host:port" where port
	// is the peer's API port (default 53540).
	Join []string
	// Token is the agent's own API token (VIGIL_TOKEN): an admin on every
	// endpoint, next to the site's token and user blocks.
	Token string
	// MetricsToken, when set, lets Prometheus read /metrics, and nothing
	// else, with it as its bearer token.
	MetricsToken string
	// SiteKey (32 bytes) authenticates and encrypts membership and raft
	// traffic; every server of a site has the same one.
	SiteKey []byte
	// ConfigDir is a directory of *.hcl files that vigil agent watches and
	// applies on change (hot reload, package runtime/reload).
	ConfigDir string
	LogLevel  slog.Level
	// StorageRoots are the directories under which the spec's absolute
	// storage paths may lie (storage_roots; DefaultStorageRoots when
	// empty). Relative paths lie under DataDir.
	StorageRoots []string
	// ConfigImportKeys, when set, are the public keys a configuration stick
	// must be signed with to be imported (config_import_keys; package
	// runtime/configimport), "site" giving configimport.SiteSigningKey's.
	// Empty: any stick is imported.
	ConfigImportKeys []ed25519.PublicKey
	// TLSCertFile and TLSKeyFile, when set, are the PEM certificate (chain)
	// and key the API serves to its clients, from the operator's PKI;
	// empty: a certificate of the site's CA (package siteca). Agents see
	// the site's either way.
	TLSCertFile, TLSKeyFile string
	// PlainHTTP is what a plain HTTP request on the API port gets:
	// PlainHTTPRedirect (the default: a redirect to https) or
	// PlainHTTPOff (the connection is closed).
	PlainHTTP string

	// Fields below are not part of the file: set by the command or by tests.

	// Version is the vigil version; servers of different versions refuse
	// each other.
	Version string
	// Logger defaults to a text logger on stderr at LogLevel.
	Logger *slog.Logger
	// Keepalive is the membership probe interval. Zero means the site's
	// keepalive as last committed (saved in DataDir), or 1s on a fresh
	// server. A committed change of the site's keepalive takes effect when
	// the agent restarts.
	Keepalive time.Duration
	// FsyncInterval is passed to the recorder (0: its default).
	FsyncInterval time.Duration
	// StatsInterval is how often the master gathers the servers' daily
	// recorded bytes (default DefaultStatsInterval).
	StatsInterval time.Duration
}

// fileConfig is the HCL schema of the agent file.
type fileConfig struct {
	Server       string   `hcl:"server"`
	Site         string   `hcl:"site"`
	DataDir      string   `hcl:"data_dir"`
	Bind         *string  `hcl:"bind"`
	Advertise    *string  `hcl:"advertise"`
	Port         *int     `hcl:"port"`
	Join         []string `hcl:"join,optional"`
	Token        *string  `hcl:"token"`
	TokenFile    *string  `hcl:"token_file"`
	MetricsToken *string  `hcl:"metrics_token"`
	SiteKey      *string  `hcl:"site_key"`
	SiteKeyFile  *string  `hcl:"site_key_file"`
	ConfigDir    *string  `hcl:"config_dir"`
	StorageRoots []string `hcl:"storage_roots,optional"`
	LogLevel     *string  `hcl:"log_level"`
	// ConfigImportKeys: hex Ed25519 public keys (vigil config keygen), or
	// "site" for the key derived from the site key.
	ConfigImportKeys []string `hcl:"config_import_keys,optional"`
	TLSCertFile      *string  `hcl:"tls_cert_file"`
	TLSKeyFile       *string  `hcl:"tls_key_file"`
	PlainHTTP        *string  `hcl:"plain_http"`
}

// LoadConfig reads an agent configuration file. Relative paths in it
// (data_dir, token_file, site_key_file, config_dir, tls_cert_file,
// tls_key_file) are relative to the
// file's directory. Diagnostics point at the offending line.
func LoadConfig(path string) (*Config, map[string][]byte, hhcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, hhcl.Diagnostics{{
			Severity: hhcl.DiagError,
			Summary:  "Cannot read agent configuration",
			Detail:   err.Error(),
		}}
	}
	files := map[string][]byte{path: src}
	cfg, diags := ParseConfig(path, src)
	return cfg, files, diags
}

// ParseConfig decodes an agent configuration from src; filename names it in
// diagnostics and anchors relative paths.
func ParseConfig(filename string, src []byte) (*Config, hhcl.Diagnostics) {
	p := hclparse.NewParser()
	f, diags := p.ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, diags
	}
	var fc fileConfig
	diags = append(diags, gohcl.DecodeBody(f.Body, nil, &fc)...)
	if diags.HasErrors() {
		return nil, diags
	}
	attrs, _ := f.Body.JustAttributes()
	rng := func(name string) *hhcl.Range {
		if a, ok := attrs[name]; ok {
			return a.Expr.Range().Ptr()
		}
		r := f.Body.MissingItemRange()
		return &r
	}
	bad := func(name, summary, detail string) {
		diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: summary, Detail: detail, Subject: rng(name)})
	}
	dir := filepath.Dir(filename)
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}

	cfg := &Config{
		Server:  fc.Server,
		Site:    fc.Site,
		DataDir: abs(fc.DataDir),
		Port:    spec.DefaultAPIPort,
		Bind:    "0.0.0.0",
		Join:    fc.Join,
	}
	// The names of the site's configuration, by the same rule.
	if !spec.ValidName(fc.Server) {
		bad("server", "Invalid server name", fmt.Sprintf("%q is not a valid name: use 1 to 63 letters, digits, dots, dashes and underscores, starting with a letter or digit.", fc.Server))
	}
	if !spec.ValidName(fc.Site) {
		bad("site", "Invalid site name", fmt.Sprintf("%q is not a valid name: use 1 to 63 letters, digits, dots, dashes and underscores, starting with a letter or digit.", fc.Site))
	}
	if fc.DataDir == "" {
		bad("data_dir", "Missing data directory", "data_dir must name the directory that holds the agent's state and, by default, its recordings.")
	}
	if fc.Port != nil {
		cfg.Port = *fc.Port
		if cfg.Port < 1 || cfg.Port > 65533 {
			bad("port", "Invalid port", fmt.Sprintf("port %d is out of range: the API uses port, membership port+1 and raft port+2, so it must be between 1 and 65533.", cfg.Port))
		}
	}
	if fc.Bind != nil {
		cfg.Bind = *fc.Bind
		if net.ParseIP(cfg.Bind) == nil {
			bad("bind", "Invalid bind address", fmt.Sprintf("%q is not an IP address.", cfg.Bind))
		}
	}
	if fc.Advertise != nil {
		cfg.Advertise = *fc.Advertise
		if ip := net.ParseIP(cfg.Advertise); ip == nil || ip.IsUnspecified() {
			bad("advertise", "Invalid advertise address", fmt.Sprintf("%q is not a usable IP address: peers connect to it.", cfg.Advertise))
		}
	} else if ip := net.ParseIP(cfg.Bind); ip != nil && ip.IsUnspecified() {
		bad("bind", "Advertise address needed", "The agent binds to all addresses (bind defaults to 0.0.0.0), so peers need to know which one to use: set advertise to this server's address, or bind to it.")
	}
	for i, j := range cfg.Join {
		if _, err := JoinAddress(j); err != nil {
			bad("join", "Invalid join address", fmt.Sprintf("join[%d]: %v", i, err))
		}
	}

	switch {
	case fc.Token != nil && fc.TokenFile != nil:
		bad("token_file", "Conflicting token settings", "Set either token or token_file, not both.")
	case fc.Token != nil:
		cfg.Token = strings.TrimSpace(*fc.Token)
	case fc.TokenFile != nil:
		b, err := os.ReadFile(abs(*fc.TokenFile))
		if err != nil {
			bad("token_file", "Cannot read token file", err.Error())
		}
		diags = append(diags, secretFileMode(abs(*fc.TokenFile), rng("token_file"))...)
		cfg.Token = strings.TrimSpace(string(b))
	default:
		bad("token", "Missing API token", "Set token or token_file: every API call that changes the site needs it (vigil reads it from VIGIL_TOKEN). Generate one with: head -c 24 /dev/urandom | base64")
	}
	if (fc.Token != nil || fc.TokenFile != nil) && len(cfg.Token) < MinTokenLength && !diags.HasErrors() {
		bad("token", "API token too short", fmt.Sprintf("The API token has %d characters; it needs at least %d, or it can be guessed. Generate one with: head -c 24 /dev/urandom | base64", len(cfg.Token), MinTokenLength))
	}

	if fc.MetricsToken != nil {
		cfg.MetricsToken = strings.TrimSpace(*fc.MetricsToken)
		switch {
		case len(cfg.MetricsToken) < MinTokenLength:
			bad("metrics_token", "Metrics token too short", fmt.Sprintf("The metrics token has %d characters; it needs at least %d, or it can be guessed. Generate one with: head -c 24 /dev/urandom | base64", len(cfg.MetricsToken), MinTokenLength))
		case cfg.MetricsToken == cfg.Token:
			bad("metrics_token", "Metrics token is the API token", "metrics_token lets Prometheus read /metrics and nothing else: it must differ from token, which may do everything.")
		}
	}

	var keyText string
	keyAttr := "site_key"
	switch {
	case fc.SiteKey != nil && fc.SiteKeyFile != nil:
		bad("site_key_file", "Conflicting site key settings", "Set either site_key or site_key_file, not both.")
	case fc.SiteKey != nil:
		keyText = *fc.SiteKey
	case fc.SiteKeyFile != nil:
		keyAttr = "site_key_file"
		b, err := os.ReadFile(abs(*fc.SiteKeyFile))
		if err != nil {
			bad("site_key_file", "Cannot read site key file", err.Error())
		}
		diags = append(diags, secretFileMode(abs(*fc.SiteKeyFile), rng("site_key_file"))...)
		keyText = string(b)
	default:
		bad("site_key", "Missing site key", "Set site_key or site_key_file to the site's 32-byte key in base64; every server of the site uses the same one. Generate one with: head -c 32 /dev/urandom | base64")
	}
	if keyText != "" {
		if key, err := ParseSiteKey(keyText); err != nil {
			bad(keyAttr, "Invalid site key", err.Error())
		} else {
			cfg.SiteKey = key
		}
	}
	for _, r := range fc.StorageRoots {
		if r = filepath.Clean(r); !filepath.IsAbs(r) || spec.CheckStoragePath(r) != nil {
			bad("storage_roots", "Invalid storage root", fmt.Sprintf("%q must be an absolute path that is neither the root nor a system directory.", r))
		}
		cfg.StorageRoots = append(cfg.StorageRoots, r)
	}
	if fc.ConfigDir != nil {
		cfg.ConfigDir = abs(*fc.ConfigDir)
	}
	for i, k := range fc.ConfigImportKeys {
		if k == "site" {
			// Signed with the site key (vigil config sign -site-key).
			if cfg.SiteKey != nil {
				cfg.ConfigImportKeys = append(cfg.ConfigImportKeys, configimport.SiteSigningKey(cfg.SiteKey).Public().(ed25519.PublicKey))
			}
			continue
		}
		pub, err := evidence.ParsePublicKey(k)
		if err != nil {
			bad("config_import_keys", "Invalid configuration import key", fmt.Sprintf("config_import_keys[%d]: %v; vigil config keygen prints one, or \"site\" for the site key.", i, err))
		}
		cfg.ConfigImportKeys = append(cfg.ConfigImportKeys, pub)
	}
	switch {
	case (fc.TLSCertFile == nil) != (fc.TLSKeyFile == nil):
		attr := "tls_key_file"
		if fc.TLSCertFile == nil {
			attr = "tls_cert_file"
		}
		bad(attr, "Certificate and key go together", "Set both tls_cert_file and tls_key_file (the API's certificate from your PKI and its key), or neither for a certificate of the site's own CA.")
	case fc.TLSCertFile != nil:
		cfg.TLSCertFile, cfg.TLSKeyFile = abs(*fc.TLSCertFile), abs(*fc.TLSKeyFile)
		if _, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			bad("tls_cert_file", "Unusable certificate", fmt.Sprintf("The API's certificate and key cannot be used: %v.", err))
		}
		diags = append(diags, secretFileMode(cfg.TLSKeyFile, rng("tls_key_file"))...)
	}
	cfg.PlainHTTP = PlainHTTPRedirect
	if fc.PlainHTTP != nil {
		cfg.PlainHTTP = *fc.PlainHTTP
		if cfg.PlainHTTP != PlainHTTPRedirect && cfg.PlainHTTP != PlainHTTPOff {
			bad("plain_http", "Invalid plain_http", fmt.Sprintf("%q is neither \"redirect\" (plain HTTP requests are sent to https) nor \"off\" (they are not answered).", cfg.PlainHTTP))
		}
	}
	if fc.LogLevel != nil {
		if err := cfg.LogLevel.UnmarshalText([]byte(*fc.LogLevel)); err != nil {
			bad("log_level", "Invalid log level", fmt.Sprintf("%q is not one of debug, info, warn, error.", *fc.LogLevel))
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return cfg, diags
}

// ParseSiteKey reads a site key as site_key and site_key_file hold it:
// 32 bytes in base64.
func ParseSiteKey(text string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	switch {
	case err != nil:
		return nil, fmt.Errorf("the site key must be 32 bytes written in base64 (%v). Generate one with: head -c 32 /dev/urandom | base64", err)
	case len(key) != 32:
		return nil, fmt.Errorf("the site key must be 32 bytes, this one is %d. Generate one with: head -c 32 /dev/urandom | base64", len(key))
	}
	return key, nil
}

// JoinAddress turns a join entry ("host" or "host:apiport") into the
// peer's membership address (API port + 1).
func JoinAddress(s string) (string, error) {
	host, port := s, spec.DefaultAPIPort
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65533 {
			return "", fmt.Errorf("%q: bad port %q", s, p)
		}
		host, port = h, n
	}
	if host == "" {
		return "", fmt.Errorf("%q: missing host", s)
	}
	return net.JoinHostPort(host, strconv.Itoa(port+1)), nil
}

// advertiseAddr is the address peers reach this agent at.
// APIAddr is the URL of this agent's API as its own server reaches it
// (Agent.Addr; vigil config import reports to it).
func (c *Config) APIAddr() string {
	host := c.advertiseAddr()
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(c.Port))
}

func (c *Config) advertiseAddr() string {
	if c.Advertise != "" {
		return c.Advertise
	}
	return c.Bind
}

// DefaultStorageRoots are where the spec's absolute storage paths may lie
// when the agent's configuration names no storage_roots: the appliance's
// data partition and the usual mount points of recording disks.
var DefaultStorageRoots = []string{"/var/lib/vigil", "/srv", "/mnt", "/media", "/data"}

// checkVolume refuses a storage path outside the agent's data directory
// and storage roots; the spec's own rule (spec.CheckStoragePath) has kept
// system directories and ".." out already.
func (c *Config) checkVolume(path string) error {
	roots := c.StorageRoots
	if len(roots) == 0 {
		roots = DefaultStorageRoots
	}
	path = filepath.Clean(path)
	for _, r := range append([]string{c.DataDir}, roots...) {
		if rel, err := filepath.Rel(filepath.Clean(r), path); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return nil
		}
	}
	return fmt.Errorf("storage path %s is outside this server's data directory and storage roots (%s); add its parent to storage_roots in the agent's configuration", path, strings.Join(roots, ", "))
}

// MinTokenLength is the shortest API token accepted.
const MinTokenLength = 16

// secretFileMode warns when a secret's file may be read by other users.
func secretFileMode(path string, subject *hhcl.Range) hhcl.Diagnostics {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	return hhcl.Diagnostics{{
		Severity: hhcl.DiagWarning,
		Summary:  "Secret file readable by others",
		Detail:   fmt.Sprintf("%s has mode %04o: users other than the agent's can read or change it. Run: chmod 600 %s", path, fi.Mode().Perm(), path),
		Subject:  subject,
	}}
}

// checkToken compares a presented token with the configured one in
// constant time.
func (c *Config) checkToken(got string) bool {
	return c.Token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(c.Token)) == 1
}
