package access

import (
	"strings"
	"testing"
)

// The reference implementation's test vectors (phc-winner-argon2, src/test.c):
// hashes made by another encoder must check.
func TestCheckPasswordReferenceVectors(t *testing.T) {
	for _, hash := range []string{
		"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
	} {
		if err := ValidPasswordHash(hash); err != nil {
			t.Errorf("ValidPasswordHash(%s) = %v", hash, err)
		}
		if !CheckPassword(hash, "password") {
			t.Errorf("%s does not check 'password'", hash)
		}
		if CheckPassword(hash, "passwore") {
			t.Errorf("%s checks 'passwore'", hash)
		}
	}
}

func TestHashPassword(t *testing.T) {
	h1, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %s: want the PHC form with m=19456,t=2,p=1", h1)
	}
	if err := ValidPasswordHash(h1); err != nil {
		t.Errorf("ValidPasswordHash of a new hash: %v", err)
	}
	if !CheckPassword(h1, "correct horse") || CheckPassword(h1, "correct horse ") || CheckPassword(h1, "") {
		t.Error("the hash checks the wrong passwords")
	}
	h2, _ := HashPassword("correct horse")
	if h1 == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if _, err := HashPassword(""); err == nil {
		t.Error("an empty password was hashed")
	}
}

func TestValidPasswordHashSaysWhatIsWrong(t *testing.T) {
	const salt, key = "c29tZXNhbHQ", "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	for _, c := range []struct{ hash, want string }{
		{"", "empty"},
		{"hunter2", "has the form $argon2id$v=19$m=…,t=…,p=…$SALT$HASH (make one with 'vigil user hash')"},
		{"$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ012", "has the form"},
		{"$argon2i$v=19$m=256,t=2,p=1$" + salt + "$" + key, `of "argon2i"; vigil accepts only argon2id`},
		{"$argon2id$v=16$m=256,t=2,p=1$" + salt + "$" + key, `version is "v=16"`},
		{"$argon2id$v=19$t=2,m=256,p=1$" + salt + "$" + key, "not m=…,t=…,p=…"},
		{"$argon2id$v=19$m=256,t=2$" + salt + "$" + key, "not m=…,t=…,p=…"},
		{"$argon2id$v=19$m=4294967295,t=2,p=1$" + salt + "$" + key, "m=4294967295 is not a number from 1 to 262144"},
		{"$argon2id$v=19$m=256,t=0,p=1$" + salt + "$" + key, "t=0 is not a number from 1 to 16"},
		{"$argon2id$v=19$m=256,t=2,p=-1$" + salt + "$" + key, "p=-1 is not a number"},
		{"$argon2id$v=19$m=16,t=2,p=4$" + salt + "$" + key, "below 8 KiB per lane"},
		{"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ=$" + key, "salt is not unpadded base64"},
		{"$argon2id$v=19$m=256,t=2,p=1$c2FsdA$" + key, "salt has 4 bytes; it must have 8 to 64"},
		{"$argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + "c2hvcnQ", "hash has 5 bytes; it must have 16 to 64"},
		{"$argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + key + "$", "has the form"},
	} {
		err := ValidPasswordHash(c.hash)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ValidPasswordHash(%q) = %v, want it to say %q", c.hash, err, c.want)
		}
		if CheckPassword(c.hash, "password") {
			t.Errorf("the malformed hash %q checks a password", c.hash)
		}
	}
}

// FuzzParsePasswordHash: no input panics the parser, and a hash it accepts
// prints back to a string that parses to the same hash.
func FuzzParsePasswordHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4")
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2id$v=19$m=08,t=01,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePasswordHash(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		again, err := parsePasswordHash(h.String())
		if err != nil {
			t.Fatalf("%q parsed, but its printed form %q does not: %v", s, h.String(), err)
		}
		if again.String() != h.String() {
			t.Fatalf("%q prints as %q, which prints as %q", s, h.String(), again.String())
		}
	})
}

// BenchmarkCheckPassword is the cost of one login's password check with
// the parameters vigil user hash uses (README: Console login and sessions).
func BenchmarkCheckPassword(b *testing.B) {
	hash, err := HashPassword("correct horse")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !CheckPassword(hash, "correct horse") {
			b.Fatal("the password does not check")
		}
	}
}
