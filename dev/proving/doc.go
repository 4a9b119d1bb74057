// Package proving is vigil's failover proving ground: real `vigil agent`
// processes, one per network namespace, recording a camera simulator that
// runs in a "camera network" namespace, with failures made the way they
// happen on site (kill -9, a cable pulled, a slow link, a camera that stops,
// a full disk) and the result measured from the recordings themselves.
//
// The proving ground is test code: the harness (harness_test.go,
// failover_test.go) and the scenarios (scenario_test.go, alerts_test.go) are
// _test.go files, so nothing of it, and no "testing", reaches a binary;
// measure and netns are its plain-Go helpers. `make e2e` runs them all,
// `make bench-failover` runs the benchmark (scenarios 1-4 at full scale) and
// `go test ./...` runs a short subset. Every test skips with one line when
// the machine cannot make namespaces (not root, no iproute2).
//
// Topology of a run (prefix vgp<pid>, x = pid%250+1):
//
//	vgp<pid>-sw     bridges "site" (10.231.x.0/24) and "cams" (10.232.x.0/24)
//	vgp<pid>-s1...  agents: site .1..., cams .1... (API :53540 on the site side)
//	vgp<pid>-cams   vigil camsim on cams .200 (RTSP :8554, control :8080)
//	vgp<pid>-ctl    the test process's client: site .250 and cams .250
//
// Cameras sit on their own network, as on most sites, so cutting a server
// off the site network leaves it its cameras: both sides of a partition can
// record. The harness never adds an address or a route to the root
// namespace; the test process reaches the namespaces by opening its sockets
// inside the ctl namespace (netns.Host.Dial), the dialer of the site's own
// HTTP client.
package proving
