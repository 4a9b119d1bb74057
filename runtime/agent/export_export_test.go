package agent

import "crypto/ed25519"

// ExportKey gives tests the site's private export key.
func (a *Agent) ExportKey() (ed25519.PrivateKey, error) { return a.exportKey() }
