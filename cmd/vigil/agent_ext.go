package main

import (
	"fmt"
	"log/slog"

	"vigil/runtime/agent"
	"vigil/runtime/reload"
)

// agentExtensions are the parts of vigil agent that run beside the agent:
// hot reload of config_dir.
type agentExtensions struct {
	log     *slog.Logger
	watcher *reload.Watcher
}

// startExtensions starts what the agent configuration asks for.
func startExtensions(a *agent.Agent, cfg *agent.Config) (*agentExtensions, error) {
	ext := &agentExtensions{log: cfg.Logger}
	if cfg.ConfigDir != "" {
		w, err := reload.Start(a, reload.Options{Dir: cfg.ConfigDir, Token: cfg.Token, Logger: cfg.Logger, Registerer: a.Registry()})
		if err != nil {
			return nil, fmt.Errorf("hot reload: %w", err)
		}
		ext.watcher = w
	}
	return ext, nil
}

// reload answers SIGHUP: the configuration directory is loaded again even
// when its content did not change.
func (e *agentExtensions) reload() {
	if e.watcher == nil {
		e.log.Info("SIGHUP ignored: the agent configuration sets no config_dir to reload")
		return
	}
	e.log.Info("SIGHUP: reloading the configuration directory")
	e.watcher.Trigger()
}

// stop stops the extensions.
func (e *agentExtensions) stop() {
	if e.watcher != nil {
		e.watcher.Close()
	}
}
