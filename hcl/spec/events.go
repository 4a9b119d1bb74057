package spec

import "log/slog"

// Severity is how much an event or a diagnostic matters.
type Severity string

// Severities of events (info, warning, error) and of diagnostics (warning,
// error).
const (
	SeverityInfo    Severity = "info"
	SeverityWarning Severity = "warning"
	SeverityError   Severity = "error"
)

// Level is the log level an event of this severity is logged at.
func (s Severity) Level() slog.Level {
	switch s {
	case SeverityError:
		return slog.LevelError
	case SeverityWarning:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// Event kinds: what happened, as agents raise it (GET /v1/events, the
// event log, metrics) and as alerts select it (AlertConditions). A kind is
// "subject.what"; an events filter may name the subject alone ("camera").
const (
	// Membership and the site's quorum.
	EventServerAlive       = "server.alive"
	EventServerSuspect     = "server.suspect"
	EventServerDead        = "server.dead"
	EventServerBack        = "server.back"
	EventServerLeft        = "server.left"
	EventServerRefused     = "server.refused"
	EventServerDraining    = "server.draining"
	EventServerUndrained   = "server.undrained"
	EventServerStopTimeout = "server.stop_timeout"
	EventMembershipRefused = "membership.refused"
	EventRaftRefused       = "raft.refused"
	EventMasterElected     = "master.elected"
	EventMasterChanged     = "master.changed"
	EventMasterTransfer    = "master.transfer"
	EventAgentStarted      = "agent.started"

	// Failover.
	EventTakeoverReady    = "takeover.ready"
	EventTakeoverStarted  = "takeover.started"
	EventTakeoverFinished = "takeover.finished"
	EventCameraAssigned   = "camera.assigned"
	EventCameraReleased   = "camera.released"
	EventCameraFailed     = "camera.failed"
	EventBalanceMoved     = "balance.moved"

	// A camera's stream (the recorder).
	EventCameraRecording    = "camera.recording"
	EventCameraUnreachable  = "camera.unreachable"
	EventCameraAuth         = "camera.auth"
	EventCameraCodec        = "camera.codec"
	EventCameraMalformed    = "camera.malformed"
	EventCameraStalled      = "camera.stalled"
	EventCameraDisconnected = "camera.disconnected"
	EventCameraStorage      = "camera.storage"
	EventCameraTimestamps   = "camera.timestamps"
	EventCameraCertificate  = "camera.certificate"
	EventCameraDropped      = "camera.dropped"
	EventCameraDrift        = "camera.drift"

	// Gaps in a camera's recording across the site.
	EventGapOpen      = "gap.open"
	EventGapClosed    = "gap.closed"
	EventGapRetracted = "gap.retracted"

	// Storage.
	EventStorageFull        = "storage.full"
	EventStorageOK          = "storage.ok"
	EventStorageFloor       = "storage.floor"
	EventStorageRetention   = "storage.retention"
	EventStorageQuarantined = "storage.quarantined"
	EventStorageChanged     = "storage.changed"
	EventStorageUnavailable = "storage.unavailable"

	// Time.
	EventClockOffset = "clock.offset"
	EventClockSkew   = "clock.skew"

	// Configuration.
	EventConfigValid         = "config.valid"
	EventConfigInvalid       = "config.invalid"
	EventConfigApplied       = "config.applied"
	EventConfigCommitted     = "config.committed"
	EventConfigApplyFailed   = "config.apply_failed"
	EventConfigReloaded      = "config.reloaded"
	EventConfigRestartNeeded = "config.restart_needed"
	EventConfigImported      = "config.imported"
	EventConfigImportRefused = "config.import_refused"

	// The appliance's network.
	EventNetworkApplied  = "network.applied"
	EventNetworkFailed   = "network.failed"
	EventNetworkReverted = "network.reverted"
	EventVIPAcquired     = "vip.acquired"
	EventVIPReleased     = "vip.released"
	EventVIPFailed       = "vip.failed"

	// Footage, alerts, the API and the event log itself.
	EventFootageExported     = "footage.exported"
	EventFootageExportFailed = "footage.export_failed"
	EventAlertDelivered      = "alert.delivered"
	EventAlertDeliveryFailed = "alert.delivery_failed"
	EventAlertDropped        = "alert.dropped"
	EventAlertTest           = "alert.test"
	EventAlertTestFailed     = "alert.test_failed"
	EventAPIRefused          = "api.refused"
	EventAPIUnauthorized     = "api.unauthorized"
	EventAPIForbidden        = "api.forbidden"
	EventAuthLoginFailed     = "auth.login_failed"
	EventAuditLost           = "audit.lost"
	EventTLSCertFailed       = "tls.certificate_failed"
	EventEventsCorrupt       = "events.corrupt"

	// EventAssignmentPrefix and an api camera state ("assignment.covered")
	// is a change of where a camera is recorded; EventAlertPrefix and a
	// notification's status ("alert.firing") is a notification sent.
	EventAssignmentPrefix = "assignment."
	EventAlertPrefix      = "alert."
)
