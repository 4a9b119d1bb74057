package spec

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// User is a person who may use the API and the console of a site. A user
// block may sit in a site (that site only) or at the top level, where it
// belongs to every site of the configuration.
type User struct {
	Name string `json:"name"`
	// Role is one of Roles.
	Role string `json:"role"`
	// Cameras are the camera names or glob patterns (path.Match) the user
	// may see; empty means every camera.
	Cameras []string `json:"cameras,omitempty"`
	// PasswordHash is an argon2id hash ("$argon2id$v=19$m=...") made by
	// vigil user hash. Sensitive: plans show "(sensitive)" and the API a
	// fingerprint.
	PasswordHash string `json:"password_hash,omitempty"`

	DeclRange Range            `json:"-"`
	Ranges    map[string]Range `json:"-"`
}

// Token is a named API token (for scripts, CI, Prometheus). Like a user, a
// token block may sit in a site, so that each site of a domain has its own
// tokens, or at the top level (every site).
type Token struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Cameras limits what the token sees, as User.Cameras (a display of
	// the lobby cameras, say); empty means every camera.
	Cameras []string `json:"cameras,omitempty"`
	// Hash is "sha256:" and the hex SHA-256 of the token, as vigil token
	// new prints it. Sensitive like User.PasswordHash.
	Hash string `json:"hash"`

	DeclRange Range            `json:"-"`
	Ranges    map[string]Range `json:"-"`
}

// Roles are the values of a user's or token's role, least allowed first
// (runtime/access.Roles, which the model cannot import).
var Roles = []string{"viewer", "operator", "admin"}

// TokenHashPrefix starts a token's hash.
const TokenHashPrefix = "sha256:"

// User returns the named user of the site, or nil.
func (s *Site) User(name string) *User {
	for _, u := range s.Users {
		if u.Name == name {
			return u
		}
	}
	return nil
}

// Token returns the named token of the site, or nil.
func (s *Site) Token(name string) *Token {
	for _, t := range s.Tokens {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// CheckTokenHashFormat checks that h is "sha256:" and 64 hex digits.
func CheckTokenHashFormat(h string) error {
	hexSum, ok := strings.CutPrefix(h, TokenHashPrefix)
	if !ok {
		return fmt.Errorf("the hash must start with %q", TokenHashPrefix)
	}
	if b, err := hex.DecodeString(hexSum); err != nil || len(b) != 32 {
		return fmt.Errorf("after %q the hash must be 64 hex digits (a SHA-256 sum)", TokenHashPrefix)
	}
	return nil
}

// CheckPasswordHashFormat checks that h has the form of an argon2id hash in
// the PHC string format: $argon2id$v=19$m=M,t=T,p=P$SALT$HASH, salt and
// hash in unpadded base64. Whether a password matches it is the agent's
// to check (runtime/access).
func CheckPasswordHashFormat(h string) error {
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return fmt.Errorf("the hash must have the form $argon2id$v=19$m=...,t=...,p=...$SALT$HASH")
	}
	if parts[2] != "v=19" {
		return fmt.Errorf("argon2id version %q is not supported (want v=19)", parts[2])
	}
	params := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, val, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil || n == 0 || !slices.Contains([]string{"m", "t", "p"}, k) || params[k] {
			return fmt.Errorf("the parameters %q must be m=...,t=...,p=... with positive numbers", parts[3])
		}
		params[k] = true
	}
	if len(params) != 3 {
		return fmt.Errorf("the parameters %q must be m=...,t=...,p=... with positive numbers", parts[3])
	}
	for _, p := range parts[4:] {
		if b, err := base64.RawStdEncoding.DecodeString(p); err != nil || len(b) < 8 {
			return fmt.Errorf("the salt and the hash must be unpadded base64 of at least 8 bytes")
		}
	}
	return nil
}

// redactAccess fingerprints the users' and tokens' hashes (see
// Site.Redacted).
func redactAccess(s *Site, fp Fingerprinter) {
	for _, p := range s.AccessSecrets() {
		*p.Value = fp(*p.Value)
	}
}

// AccessSecret is one secret of a site's users and tokens.
type AccessSecret struct {
	// Kind is "user" or "token", Name its name.
	Kind, Name string
	Value      *string
}

// AccessSecrets returns the hashes of the site's users and tokens, for code
// that must keep or hide them (the agent puts committed hashes back where
// a spec carries fingerprints).
func (s *Site) AccessSecrets() []AccessSecret {
	var out []AccessSecret
	for _, u := range s.Users {
		out = append(out, AccessSecret{"user", u.Name, &u.PasswordHash})
	}
	for _, t := range s.Tokens {
		out = append(out, AccessSecret{"token", t.Name, &t.Hash})
	}
	return out
}

func copyAccessRanges(from, to *Site) {
	for i, u := range from.Users {
		to.Users[i].DeclRange, to.Users[i].Ranges = u.DeclRange, u.Ranges
	}
	for i, t := range from.Tokens {
		to.Tokens[i].DeclRange, to.Tokens[i].Ranges = t.DeclRange, t.Ranges
	}
}
