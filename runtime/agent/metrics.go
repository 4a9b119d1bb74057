package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the agent's own Prometheus series; the recorder registers its
// per-camera series in the same registry.
type metrics struct {
	revision      prometheus.Gauge
	master        prometheus.Gauge
	servers       *prometheus.GaugeVec
	cameras       *prometheus.GaugeVec
	assigned      prometheus.Gauge
	reconcile     prometheus.Histogram
	events        *prometheus.CounterVec
	eventsDropped prometheus.Counter
	// historyDropped counts events not kept on disk (the queue was full).
	historyDropped prometheus.Counter
	requests       *prometheus.CounterVec
	// refused counts requests refused by the authentication or the
	// permissions, by endpoint and reason.
	refused      *prometheus.CounterVec
	connsRefused prometheus.Counter
	// Alerting, on the master.
	alertPending    *prometheus.GaugeVec
	alertDeliveries *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, cfg *Config) *metrics {
	m := &metrics{
		revision: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_spec_revision", Help: "Revision of the committed site spec (0: none yet).",
		}),
		master: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_master", Help: "1 when this server is the site's master.",
		}),
		servers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_servers", Help: "Servers of the site by health, as this agent sees them.",
		}, []string{"health"}),
		cameras: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_cameras", Help: "Cameras of the site by state, as this agent sees them.",
		}, []string{"state"}),
		assigned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_cameras_assigned", Help: "Cameras the assignment gives this server.",
		}),
		reconcile: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vigil_reconcile_duration_seconds", Help: "Time of one pass of the agent's reconcile loop.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8),
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_events_total", Help: "Events raised, by kind.",
		}, []string{"kind"}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_events_dropped_total", Help: "Events not delivered to a slow /v1/events subscriber.",
		}),
		historyDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_event_history_dropped_total", Help: "Events not kept in the event history because the disk fell behind.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_api_requests_total", Help: "HTTP API requests by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_api_refused_total", Help: "API requests refused, by endpoint and reason: unauthenticated (401), role or camera (403).",
		}, []string{"endpoint", "reason"}),
		connsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_api_connections_refused_total", Help: "API connections closed at once for being over the per-source or total limit.",
		}),
		alertPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_alert_outbox", Help: "Notifications waiting for delivery to each notifier (on the master).",
		}, []string{"notifier"}),
		alertDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_alert_deliveries_total", Help: "Attempts to deliver a notification, by notifier and result (ok, failed).",
		}, []string{"notifier", "result"}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "vigil_agent_info",
		Help:        "Constant 1, labelled with the agent's identity.",
		ConstLabels: prometheus.Labels{"server": cfg.Server, "site": cfg.Site, "version": cfg.Version},
	})
	info.Set(1)
	reg.MustRegister(m.revision, m.master, m.servers, m.cameras, m.assigned, m.reconcile,
		m.events, m.eventsDropped, m.historyDropped, m.requests, m.refused, m.connsRefused, m.alertPending, m.alertDeliveries, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
