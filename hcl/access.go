package hcl

import (
	"fmt"
	"slices"
	"strings"

	hhcl "github.com/hashicorp/hcl/v2"

	"vigil/hcl/spec"
)

var (
	userSchema  = &hhcl.BodySchema{Attributes: attrs("role", "cameras", "password_hash")}
	tokenSchema = &hhcl.BodySchema{Attributes: attrs("role", "cameras", "hash")}
)

func (d *decoder) user(b *hhcl.Block) *spec.User {
	u := &spec.User{Name: b.Labels[0], DeclRange: specRange(b.DefRange), Ranges: newRanges(b)}
	at := d.content(b, userSchema).Attributes
	d.str(at, "role", &u.Role, u.Ranges)
	d.list(at, "cameras", &u.Cameras, u.Ranges)
	d.strSensitive(at, "password_hash", &u.PasswordHash, u.Ranges, true)
	return u
}

func (d *decoder) token(b *hhcl.Block) *spec.Token {
	t := &spec.Token{Name: b.Labels[0], DeclRange: specRange(b.DefRange), Ranges: newRanges(b)}
	at := d.content(b, tokenSchema).Attributes
	d.str(at, "role", &t.Role, t.Ranges)
	d.list(at, "cameras", &t.Cameras, t.Ranges)
	d.strSensitive(at, "hash", &t.Hash, t.Ranges, true)
	return t
}

// access validates a site's users and tokens. Users and tokens share one
// namespace: the audit log and the events name the caller by it.
func (v *validator) access(s *spec.Site, scope string, cameraNames []string) {
	type declared struct {
		kind string
		at   spec.Range
	}
	seen := map[string]declared{}
	unique := func(kind, name string, decl spec.Range) bool {
		prev, ok := seen[name]
		if !ok {
			seen[name] = declared{kind, decl}
			return true
		}
		where := ""
		if prev.at.Filename != "" {
			where = " at " + rangeString(hclRange(prev.at))
		}
		v.errorf(at(nil, "", decl), "Duplicate "+kind+" name", "%s also has a %s named %q%s: users and tokens share one set of names, which events and the audit log show. Rename one.",
			strings.ToUpper(scope[:1])+scope[1:], prev.kind, name, where)
		return false
	}
	// common checks what users and tokens have in common, and reports
	// whether the name is new.
	common := func(kind, name, role string, cameras []string, rs map[string]spec.Range, decl spec.Range) bool {
		v.name(kind, name, rs, decl)
		if !unique(kind, name, decl) {
			return false
		}
		v.role(fmt.Sprintf("%s%s %q", strings.ToUpper(kind[:1]), kind[1:], name), role, rs, decl)
		v.sees(scope, kind, name, cameras, rs, decl, cameraNames)
		return true
	}
	for _, u := range s.Users {
		if !common("user", u.Name, u.Role, u.Cameras, u.Ranges, u.DeclRange) {
			continue
		}
		owner := fmt.Sprintf("User %q", u.Name)
		if u.PasswordHash == "" && !given(u.Ranges, "password_hash") {
			v.errorf(at(u.Ranges, "password_hash", u.DeclRange), "Missing password hash", "%s needs password_hash: run vigil user hash and paste what it prints.", owner)
		} else if u.PasswordHash != "" && !spec.IsFingerprint(u.PasswordHash) {
			if err := spec.CheckPasswordHashFormat(u.PasswordHash); err != nil {
				v.errorf(at(u.Ranges, "password_hash", u.DeclRange), "Invalid password hash", "%s: %v. Run vigil user hash and paste what it prints; never the password itself.", owner, err)
			}
		}
	}
	for _, t := range s.Tokens {
		if !common("token", t.Name, t.Role, t.Cameras, t.Ranges, t.DeclRange) {
			continue
		}
		owner := fmt.Sprintf("Token %q", t.Name)
		switch {
		case t.Hash == "" && given(t.Ranges, "hash"):
			// It failed to decode, as reported.
		case t.Hash == "":
			v.errorf(at(t.Ranges, "hash", t.DeclRange), "Missing token hash", "%s needs hash: run vigil token new %s and paste the block it prints.", owner, t.Name)
		case spec.IsFingerprint(t.Hash):
		default:
			if err := spec.CheckTokenHashFormat(t.Hash); err != nil {
				v.errorf(at(t.Ranges, "hash", t.DeclRange), "Invalid token hash", "%s: %v. Run vigil token new %s and paste the block it prints; never the token itself.", owner, err, t.Name)
			}
		}
	}
}

// sees checks the cameras a user or token may see.
func (v *validator) sees(scope, kind, name string, cameras []string, rs map[string]spec.Range, decl spec.Range, cameraNames []string) {
	if cameras != nil && len(cameras) == 0 {
		v.errorf(at(rs, "cameras", decl), "Empty camera list", "The %s %q has an empty cameras list. Leave cameras out for every camera, or list names or patterns such as \"lobby-*\".", kind, name)
	}
	v.cameraPatterns(scope, fmt.Sprintf("%s %q", kind, name), cameras, rs, decl, cameraNames,
		fmt.Sprintf("The %s sees that camera once one of that name is declared.", kind))
}

func (v *validator) role(owner, role string, rs map[string]spec.Range, decl spec.Range) {
	switch {
	case role == "" && given(rs, "role"):
	case role == "":
		v.errorf(at(rs, "role", decl), "Missing role", "%s needs a role: one of %s.", owner, strings.Join(spec.Roles, ", "))
	case !slices.Contains(spec.Roles, role):
		hint := ""
		if s := suggest(role, spec.Roles); s != "" {
			hint = fmt.Sprintf(" Did you mean %q?", s)
		}
		v.errorf(at(rs, "role", decl), "Unknown role", "%s has role %q, which is not one of %s.%s", owner, role, strings.Join(spec.Roles, ", "), hint)
	}
}
