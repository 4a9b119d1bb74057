package agent

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"net/http"

	"vigil/runtime/api"
)

// errNoExportKey: the site has not committed a spec since export keys
// exist, so it has none yet.
var errNoExportKey = errors.New("the site has no export key yet: it is made by the first `vigil apply` (on a site formed before export keys, by the next one)")

// exportKey is the site's export key (runtime/evidence signs with it),
// replicated with the committed state. It never leaves the agent.
func (a *Agent) exportKey() (ed25519.PrivateKey, error) {
	k, ok := a.cl.ExportKey()
	if !ok {
		return nil, errNoExportKey
	}
	return k, nil
}

// handleExportPublicKey answers GET /v1/export/public-key with the public
// half of the site's export key.
func (a *Agent) handleExportPublicKey(w http.ResponseWriter, r *http.Request) {
	k, err := a.exportKey()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, api.Error{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, api.ExportPublicKey{Site: a.cfg.Site, PublicKey: hex.EncodeToString(k.Public().(ed25519.PublicKey))})
}
