package hcl

import "vigil/hcl/spec"

// The model moved to package spec (issue 18). These aliases keep the old
// names working while the rest of the tree switches to spec; they go away
// once nothing outside this package uses them.

type (
	Domain          = spec.Domain
	Site            = spec.Site
	Server          = spec.Server
	Storage         = spec.Storage
	Network         = spec.Network
	Interface       = spec.Interface
	Route           = spec.Route
	Group           = spec.Group
	Camera          = spec.Camera
	Balancing       = spec.Balancing
	HourWindow      = spec.HourWindow
	Hold            = spec.Hold
	Notifier        = spec.Notifier
	SMTPNotifier    = spec.SMTPNotifier
	WebhookNotifier = spec.WebhookNotifier
	MQTTNotifier    = spec.MQTTNotifier
	Alert           = spec.Alert
	User            = spec.User
	Token           = spec.Token
	Diagnostic      = spec.Diagnostic
	Range           = spec.Range
	Pos             = spec.Pos
)

const (
	KindRecording          = spec.KindRecording
	KindStandby            = spec.KindStandby
	KindWitness            = spec.KindWitness
	KindVirtual            = spec.KindVirtual
	RedundancyNormal       = spec.RedundancyNormal
	RedundancyFast         = spec.RedundancyFast
	RedundancyConstant     = spec.RedundancyConstant
	DefaultAPIPort         = spec.DefaultAPIPort
	DefaultKeepalive       = spec.DefaultKeepalive
	DefaultSegmentDuration = spec.DefaultSegmentDuration
	DefaultStallTimeout    = spec.DefaultStallTimeout
	DefaultTimeZone        = spec.DefaultTimeZone
	DefaultHistoryDays     = spec.DefaultHistoryDays
	DefaultMinDaysBetween  = spec.DefaultMinDaysBetween
	DefaultTolerance       = spec.DefaultTolerance
	MaxAlertFor            = spec.MaxAlertFor
)

var (
	AlertConditions  = spec.AlertConditions
	ApplyDefaults    = spec.ApplyDefaults
	ValidName        = spec.ValidName
	CheckStoragePath = spec.CheckStoragePath
	Fingerprint      = spec.Fingerprint
	IsFingerprint    = spec.IsFingerprint
	ParseDuration    = spec.ParseDuration
	FormatDuration   = spec.FormatDuration
	ParseSize        = spec.ParseSize
	FormatSize       = spec.FormatSize
	FormatSizeExact  = spec.FormatSizeExact
	ParseHourWindow  = spec.ParseHourWindow
	FormatHourWindow = spec.FormatHourWindow
	ParseWeekday     = spec.ParseWeekday
	ParseTime        = spec.ParseTime
	Roles            = spec.Roles
)
