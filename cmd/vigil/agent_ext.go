package main

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/vishvananda/netns"

	"vigil/appliance/network"
	"vigil/appliance/systemd"
	"vigil/runtime/agent"
	"vigil/runtime/clock"
	"vigil/runtime/reload"
)

// agentExtensions are the parts of vigil agent that run beside the agent:
// the clock offset to the master, hot reload of config_dir and, with
// -manage-network, the network block and the virtual IP.
type agentExtensions struct {
	log     *slog.Logger
	timeSrv *clock.Responder
	clock   *clock.Measurer
	watcher *reload.Watcher
	netMgr  *network.Manager
	netCtl  *network.Controller
}

// startExtensions starts what the agent configuration and flags ask for.
func startExtensions(a *agent.Agent, cfg *agent.Config, manageNetwork bool) (*agentExtensions, error) {
	ext := &agentExtensions{log: cfg.Logger}
	// Time requests are UDP on the API port: any server may be the master.
	// Recording does not depend on them, so a failure is only logged.
	srv, err := clock.Serve(net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.Port)), cfg.SiteKey)
	if err != nil {
		cfg.Logger.Warn("peers cannot measure their clock offset to this server", "err", err)
	}
	ext.timeSrv = srv
	if ext.clock, err = clock.Start(a, clock.Options{Key: cfg.SiteKey, Registerer: a.Registry(), Logger: cfg.Logger}); err != nil {
		ext.stop()
		return nil, err
	}
	a.SetClockOffset(ext.clock.Offset)
	if manageNetwork {
		m, err := network.New(netns.None(), cfg.DataDir)
		if err != nil {
			ext.stop()
			return nil, err
		}
		ext.netMgr = m
		ext.netCtl = network.Start(a, m, network.Options{Block: true, Logger: cfg.Logger})
	}
	if cfg.ConfigDir != "" {
		w, err := reload.Start(a, reload.Options{Dir: cfg.ConfigDir, Token: cfg.Token, Logger: cfg.Logger, Registerer: a.Registry(),
			Reloading: systemd.Reloading,
			Reloaded: func(err error) {
				if err != nil {
					systemd.Ready(err.Error())
				} else {
					systemd.Ready(systemd.Summary(a.State()))
				}
			}})
		if err != nil {
			ext.stop()
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

// stop stops the extensions. The network block stays configured; the
// virtual IP leaves with the master role when the agent closes.
func (e *agentExtensions) stop() {
	if e.clock != nil {
		e.clock.Close()
	}
	if e.timeSrv != nil {
		e.timeSrv.Close()
	}
	if e.watcher != nil {
		e.watcher.Close()
	}
	if e.netCtl != nil {
		e.netCtl.Close()
	}
	if e.netMgr != nil {
		e.netMgr.Close()
	}
}
