package agent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"vigil/runtime/api"

	"vigil/hcl/spec"
)

// handleConfigImportReport raises the event of a configuration stick that
// `vigil config import` imported or refused on this server
// (api.ConfigImportReport): the import runs outside the agent, as root,
// when the stick appears.
func (a *Agent) handleConfigImportReport(w http.ResponseWriter, r *http.Request) {
	var rep api.ConfigImportReport
	body, ok := readBody(w, r, 64<<10)
	if !ok {
		return
	}
	if err := json.Unmarshal(body, &rep); err != nil || rep.Source == "" || (rep.Refused == "") == (len(rep.Imported) == 0) {
		writeError(w, http.StatusBadRequest, api.Error{Error: `the request must be a configuration import report: {"source": "DEVICE", "imported": [FILE...] or "refused": "REASON"}`})
		return
	}
	ev := api.Event{Severity: spec.SeverityError, Kind: spec.EventConfigImportRefused,
		Message: fmt.Sprintf("configuration stick %s refused: %s; nothing was imported, the running configuration stays", rep.Source, rep.Refused)}
	if rep.Refused == "" {
		signed := "unsigned"
		if rep.Signer != "" {
			signed = "signed by " + rep.Signer
		}
		ev = api.Event{Severity: spec.SeverityInfo, Kind: spec.EventConfigImported,
			Message: fmt.Sprintf("configuration stick %s imported into config_dir (%s): %s", rep.Source, signed, strings.Join(rep.Imported, ", "))}
	}
	a.emit(ev)
	writeJSON(w, http.StatusOK, struct{}{})
}
