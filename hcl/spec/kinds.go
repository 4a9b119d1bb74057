package spec

// ServerKind is what a server does for its site. The empty kind, in a
// spec that arrived without the language's defaults, is KindRecording.
type ServerKind string

// Server kinds.
const (
	// KindRecording records its own cameras and covers for failed servers.
	KindRecording ServerKind = "recording"
	// KindStandby records only while covering for a failed server (N+1).
	KindStandby ServerKind = "standby"
	// KindWitness votes in the site's quorum and records nothing.
	KindWitness ServerKind = "witness"
	// KindVirtual is organisational: no cameras, no vote (except in a
	// virtual site).
	KindVirtual ServerKind = "virtual"
)

// OrDefault is the kind, KindRecording when it is empty.
func (k ServerKind) OrDefault() ServerKind {
	if k == "" {
		return KindRecording
	}
	return k
}

// Valid reports whether k is one of the four kinds.
func (k ServerKind) Valid() bool {
	switch k {
	case KindRecording, KindStandby, KindWitness, KindVirtual:
		return true
	}
	return false
}

// CanRecord reports whether a server of this kind records cameras:
// recording servers (also the empty kind) and standby servers do, witness
// and virtual servers never do.
func (k ServerKind) CanRecord() bool {
	switch k.OrDefault() {
	case KindRecording, KindStandby:
		return true
	}
	return false
}

// Votes reports whether a server of this kind votes in the site's raft
// quorum. Recording, standby and witness servers vote. Virtual servers are
// left out, except in a site whose servers are all virtual (AllVirtual),
// which has no one else to hold its committed spec.
func (k ServerKind) Votes(allVirtual bool) bool {
	return k != KindVirtual || allVirtual
}

// AllVirtual reports whether every server of the site is virtual.
func (s *Site) AllVirtual() bool {
	for _, v := range s.Servers {
		if v.Kind != KindVirtual {
			return false
		}
	}
	return true
}

// Redundancy says how a camera is covered when its server fails.
type Redundancy string

// Redundancy modes of a camera.
const (
	// RedundancyNormal: a backup takes over when the server is declared dead.
	RedundancyNormal Redundancy = "normal"
	// RedundancyFast: a backup takes over as soon as the server is suspect.
	RedundancyFast Redundancy = "fast"
	// RedundancyConstant: the first backup records all the time too.
	RedundancyConstant Redundancy = "constant"
)

// Valid reports whether r is one of the three modes.
func (r Redundancy) Valid() bool {
	switch r {
	case RedundancyNormal, RedundancyFast, RedundancyConstant:
		return true
	}
	return false
}

// Transport is how a camera's RTSP stream travels.
type Transport string

// Transports of a camera's stream.
const (
	TransportTCP Transport = "tcp"
	TransportUDP Transport = "udp"
)

// Valid reports whether t is one of the two transports.
func (t Transport) Valid() bool { return t == TransportTCP || t == TransportUDP }
