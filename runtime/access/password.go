package access

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters of new password hashes: OWASP's first recommended
// setting (19 MiB, 2 passes, 1 lane). One check takes about 45 ms on one core
// of a small server, so a login stays well under 100 ms while a guess costs an
// attacker with the hash the same 19 MiB and 45 ms. Hashes made with other
// parameters keep working: the parameters are read from the hash.
const (
	hashMemory  = 19 * 1024 // KiB
	hashPasses  = 2
	hashLanes   = 1
	hashSaltLen = 16
	hashKeyLen  = 32
)

// Bounds on the parameters of a hash that CheckPassword accepts, so that a
// hash in a configuration cannot make every login allocate gigabytes or run
// for minutes.
const (
	maxHashMemory = 256 * 1024 // KiB
	maxHashPasses = 16
	maxHashLanes  = 16
	minSaltLen    = 8
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 64
)

// passwordHash is a parsed PHC string of Argon2id.
type passwordHash struct {
	memory uint32
	passes uint32
	lanes  uint8
	salt   []byte
	key    []byte
}

// HashPassword returns the PHC string of password's Argon2id hash with a
// random salt: $argon2id$v=19$m=19456,t=2,p=1$SALT$HASH (unpadded base64),
// the form of a user block's password_hash.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("the password is empty")
	}
	salt := make([]byte, hashSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("making a salt: %w", err)
	}
	h := passwordHash{memory: hashMemory, passes: hashPasses, lanes: hashLanes, salt: salt}
	h.key = h.derive(password, hashKeyLen)
	return h.String(), nil
}

// CheckPassword reports whether password matches hash, a PHC string of
// Argon2id. The comparison is constant-time; a malformed hash matches no
// password.
func CheckPassword(hash, password string) bool {
	h, err := parsePasswordHash(hash)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(h.derive(password, uint32(len(h.key))), h.key) == 1
}

// ValidPasswordHash says what is wrong with hash, or nil when CheckPassword
// can check passwords against it.
func ValidPasswordHash(hash string) error {
	_, err := parsePasswordHash(hash)
	return err
}

func (h passwordHash) derive(password string, keyLen uint32) []byte {
	return argon2.IDKey([]byte(password), h.salt, h.passes, h.memory, h.lanes, keyLen)
}

// String is the PHC form of h.
func (h passwordHash) String() string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.memory, h.passes, h.lanes, b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

const makeOne = "make one with 'vigil user hash'"

func parsePasswordHash(s string) (passwordHash, error) {
	var h passwordHash
	if s == "" {
		return h, fmt.Errorf("the password hash is empty (%s)", makeOne)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return h, fmt.Errorf("a password hash has the form $argon2id$v=19$m=…,t=…,p=…$SALT$HASH (%s)", makeOne)
	}
	if parts[1] != "argon2id" {
		return h, fmt.Errorf("the password hash is of %q; vigil accepts only argon2id (%s)", truncate(parts[1]), makeOne)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, fmt.Errorf("the password hash's version is %q; vigil accepts only v=%d (%s)", truncate(parts[2]), argon2.Version, makeOne)
	}
	if err := h.parseParams(parts[3]); err != nil {
		return h, err
	}
	var err error
	if h.salt, err = decodeB64("salt", parts[4], minSaltLen, maxSaltLen); err != nil {
		return h, err
	}
	if h.key, err = decodeB64("hash", parts[5], minKeyLen, maxKeyLen); err != nil {
		return h, err
	}
	return h, nil
}

// parseParams reads "m=…,t=…,p=…" in this order, each within its bounds.
func (h *passwordHash) parseParams(s string) error {
	fields := strings.Split(s, ",")
	names := []string{"m", "t", "p"}
	if len(fields) != len(names) {
		return fmt.Errorf("the password hash's parameters are %q, not m=…,t=…,p=…", truncate(s))
	}
	limits := []uint64{maxHashMemory, maxHashPasses, maxHashLanes}
	var vals [3]uint64
	for i, f := range fields {
		name, val, ok := strings.Cut(f, "=")
		if !ok || name != names[i] {
			return fmt.Errorf("the password hash's parameters are %q, not m=…,t=…,p=…", truncate(s))
		}
		v, err := strconv.ParseUint(val, 10, 32)
		if err != nil || v < 1 || v > limits[i] {
			return fmt.Errorf("the password hash's %s=%s is not a number from 1 to %d", name, truncate(val), limits[i])
		}
		vals[i] = v
	}
	h.memory, h.passes, h.lanes = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	if uint64(h.memory) < 8*uint64(h.lanes) {
		return fmt.Errorf("the password hash's m=%d is below 8 KiB per lane (p=%d)", h.memory, h.lanes)
	}
	return nil
}

func decodeB64(what, s string, minLen, maxLen int) ([]byte, error) {
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("the password hash's %s is not unpadded base64", what)
	}
	if len(b) < minLen || len(b) > maxLen {
		return nil, fmt.Errorf("the password hash's %s has %d bytes; it must have %d to %d", what, len(b), minLen, maxLen)
	}
	return b, nil
}

// truncate shortens a piece of a malformed hash quoted in an error message,
// so that a pasted secret does not end up whole in a log.
func truncate(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}
