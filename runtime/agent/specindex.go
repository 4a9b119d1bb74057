package agent

import (
	"sync"

	"vigil/hcl/spec"
	"vigil/runtime/recorder"
)

// specIndex is what the reconcile pass and the API look up in one committed
// revision of the spec, computed once per revision: the spec's lists are
// searched linearly, and a site has thousands of cameras.
type specIndex struct {
	revision uint64
	spec     *spec.Site
	// cameras is the recorder's configuration of every camera, by name.
	cameras map[string]recorder.Camera

	fp         spec.Fingerprinter
	redactOnce sync.Once
	redacted   *spec.Site
}

func newSpecIndex(rev uint64, s *spec.Site, fp spec.Fingerprinter) *specIndex {
	idx := &specIndex{revision: rev, spec: s, fp: fp, cameras: make(map[string]recorder.Camera, len(s.Cameras))}
	for _, c := range s.Cameras {
		idx.cameras[c.Name] = recorder.Camera{
			Name:            c.Name,
			URL:             c.URL,
			Username:        c.Username,
			Password:        c.Password,
			Transport:       string(c.Transport),
			TLSFingerprint:  c.TLSFingerprint,
			TLSInsecure:     c.TLSInsecure,
			SegmentDuration: c.SegmentDuration,
			StallTimeout:    c.StallTimeout,
			Retention:       c.Retention,
		}
	}
	return idx
}

// redactedSpec is the spec as /v1/state shows it, redacted once.
func (idx *specIndex) redactedSpec() *spec.Site {
	idx.redactOnce.Do(func() { idx.redacted = idx.spec.Redacted(idx.fp) })
	return idx.redacted
}
