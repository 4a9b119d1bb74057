package spec

import "regexp"

// Names become directory names and URL path elements, so they are kept to
// a safe alphabet.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// ValidName is the one rule for the names of the model (domain, site,
// server, camera, group, storage): 1 to 63 letters, digits, dots, dashes
// and underscores, starting with a letter or digit. The agent's own
// configuration names its server and site by it too, so that every server
// a configuration declares can also run.
func ValidName(name string) bool { return nameRE.MatchString(name) }
