package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/runtime/api"
)

// Each site of a domain can have its own API token, so that a token
// reaches only the servers of its own site:
//
//   - VIGIL_TOKEN_<SITE>: the site's name in upper case, every character
//     other than A-Z and 0-9 written _ (site "north-1": VIGIL_TOKEN_NORTH_1);
//   - else the file named as the site in the directory VIGIL_TOKEN_DIR;
//   - else VIGIL_TOKEN.
const envTokenDir = "VIGIL_TOKEN_DIR"

// siteTokenEnv is the name of the variable that holds a site's token.
func siteTokenEnv(site string) string {
	var b strings.Builder
	b.WriteString(api.EnvToken + "_")
	for _, r := range strings.ToUpper(site) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// siteToken is the API token of a site (see siteTokenEnv, envTokenDir).
func siteToken(site string) (string, error) {
	if tok := os.Getenv(siteTokenEnv(site)); tok != "" {
		return strings.TrimSpace(tok), nil
	}
	if dir := os.Getenv(envTokenDir); dir != "" {
		b, err := os.ReadFile(filepath.Join(dir, site))
		switch {
		case err == nil:
			return strings.TrimSpace(string(b)), nil
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("reading the token of site %s: %w", site, err)
		}
	}
	return api.TokenFromEnv(), nil
}

// siteTokens maps every API address of the sites to its site's token, so
// that a token is sent only to the addresses the configuration gives its
// own site. An address that two sites claim (a mistake in the
// configuration) gets no token at all.
func siteTokens(sites []*spec.Site) (map[string]string, error) {
	out := map[string]string{}
	owner := map[string]string{}
	for _, s := range sites {
		tok, err := siteToken(s.Name)
		if err != nil {
			return nil, err
		}
		for _, a := range planner.SiteAddresses(s) {
			if o, ok := owner[a]; ok && o != s.Name {
				out[a] = ""
				continue
			}
			owner[a], out[a] = s.Name, tok
		}
	}
	return out, nil
}
