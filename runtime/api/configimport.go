package api

import (
	"context"
	"net/http"
)

// ConfigImportReport is what `vigil config import` tells the agent of its
// own server after a configuration stick was imported or refused (POST
// /v1/config/import-report, token): the agent raises config.imported or
// config.import_refused, so that the import is in the event history beside
// the reload it causes.
type ConfigImportReport struct {
	// Source names the stick (its device).
	Source string `json:"source"`
	// Imported lists the files written into config_dir.
	Imported []string `json:"imported,omitempty"`
	// Signer is the public key whose signature was checked; empty for an
	// unsigned import.
	Signer string `json:"signer,omitempty"`
	// Refused is why nothing was imported; empty for an import.
	Refused string `json:"refused,omitempty"`
}

// ReportConfigImport sends rep to the agent, which raises its event.
func (c *Client) ReportConfigImport(ctx context.Context, rep ConfigImportReport) error {
	var out struct{}
	return c.do(ctx, http.MethodPost, "/v1/config/import-report", rep, &out)
}
