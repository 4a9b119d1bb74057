package access

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"vigil/hcl/spec"
)

// tokenPrefix starts every token NewToken makes, so that secret scanners
// and people recognise one in a log or a paste.
const tokenPrefix = "vigil_"

// NewToken returns a random API token (256 bits) and its hash as a token
// block's hash holds it.
func NewToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken is "sha256:" and the hex SHA-256 of token. A token is random
// and long, so a plain hash suffices: nothing offline recovers it.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return spec.TokenHashPrefix + hex.EncodeToString(sum[:])
}

// TokenMatches reports whether token hashes to hash, comparing the sums in
// constant time.
func TokenMatches(hash, token string) bool {
	want, ok := strings.CutPrefix(hash, spec.TokenHashPrefix)
	if !ok {
		return false
	}
	got := HashToken(token)[len(spec.TokenHashPrefix):]
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
