package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"

	"github.com/vishvananda/netns"

	"vigil/appliance/network"
	"vigil/appliance/systemd"
	"vigil/runtime/agent"
	"vigil/runtime/clock"
	"vigil/runtime/reload"
)

// agentExtensions are the parts of vigil agent that run beside the agent:
// the clock offset to the master, time_sync (SNTP on the master, the NTP
// client pointed at it), hot reload of config_dir and, with
// -manage-network, the network block and the virtual IP.
type agentExtensions struct {
	log     *slog.Logger
	timeSrv *clock.Responder
	sntp    *clock.SNTPServer
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
	// time_sync: the master answers SNTP on the NTP port (which needs root;
	// only one agent per host can have it).
	serveSNTP := func() bool {
		st := a.State()
		return st.Spec != nil && st.Spec.TimeSync && st.Master == a.Name()
	}
	if ext.sntp, err = clock.ServeSNTP(net.JoinHostPort(cfg.Bind, "123"), serveSNTP); err != nil {
		cfg.Logger.Info("time_sync: this server cannot answer NTP clients as the master", "err", err)
	}
	opts := clock.Options{Key: cfg.SiteKey, Registerer: a.Registry(), Logger: cfg.Logger}
	// Under systemd (a service has INVOCATION_ID) the other servers'
	// systemd-timesyncd follows the master.
	if os.Getenv("INVOCATION_ID") != "" {
		opts.Timesyncd = &clock.Timesyncd{Path: clock.TimesyncdConf, Log: cfg.Logger, Restart: restartTimesyncd}
	}
	if ext.clock, err = clock.Start(a, opts); err != nil {
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
	if e.sntp != nil {
		e.sntp.Close()
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

// restartTimesyncd makes systemd-timesyncd read its changed drop-in; it is
// left alone when it is not running.
func restartTimesyncd() error {
	out, err := exec.Command("systemctl", "try-restart", "systemd-timesyncd.service").CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl try-restart systemd-timesyncd: %v: %s", err, out)
	}
	return nil
}
