package camsim

import (
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"vigil/runtime/storage"
)

// WriteFootage writes d of a clip (see LoadClip; H.264) as a camera's
// recordings from start, in segments of segment with 1-second parts,
// through store as the recorder writes them: footage for benchmarks of
// listing, playback and export without the minutes it takes to record.
func WriteFootage(store *storage.Store, clip *Clip, camera, server string, start time.Time, d, segment time.Duration) error {
	init, err := storage.EncodeInit([]storage.Track{{ID: 1, TimeScale: 90000, Codec: &codecs.H264{SPS: clip.SPS, PPS: clip.PPS}}})
	if err != nil {
		return err
	}
	perPart := clip.FPS
	tick := uint32(90000 / clip.FPS)
	au := 0
	for segStart := start; segStart.Before(start.Add(d)); segStart = segStart.Add(segment) {
		f, err := store.Create(camera, segStart)
		if err != nil {
			return err
		}
		if err := f.WriteInit(init); err != nil {
			return err
		}
		parts := int(segment / time.Second)
		for part := range parts {
			var samples []storage.Sample
			for range perPart {
				u := clip.Units[au%len(clip.Units)]
				s := storage.Sample{Duration: tick, NonSync: !clip.Keys[au%len(clip.Units)]}
				for _, nalu := range u {
					n := len(nalu)
					s.Data = append(s.Data, []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, nalu)
					s.Size += uint32(4 + n)
				}
				samples = append(samples, s)
				au++
			}
			if err := f.WritePart([]storage.PartTrack{{ID: 1, BaseTime: uint64(part) * 90000, Samples: samples}}); err != nil {
				return err
			}
		}
		if _, err := f.Close(segStart.Add(time.Duration(parts)*time.Second), "h264", server); err != nil {
			return err
		}
	}
	return nil
}
