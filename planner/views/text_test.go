package views

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"vigil/planner"
)

func TestLongNoteRunsAreCut(t *testing.T) {
	p := &planner.SitePlan{Site: "hq"}
	for i := range 15 {
		p.Notes = append(p.Notes, planner.Note{Kind: planner.NoteCameraFailing, Message: fmt.Sprintf("camera c%d is failing", i)})
	}
	p.Notes = append(p.Notes, planner.Note{Kind: planner.NoteOverride, Message: "balancing moved camera x"})
	var b bytes.Buffer
	if err := Text(&b, p, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "camera c9 is failing") || strings.Contains(out, "camera c10 is failing") {
		t.Errorf("the first %d notes of a kind are shown, no more:\n%s", listLimit, out)
	}
	cut := "  - ... and 5 more cameras failing (vigil plan -json and vigil status list them all)\n  - balancing moved camera x\n"
	if !strings.Contains(out, cut) {
		t.Errorf("want the summary line right after the run:\n%s", out)
	}
}

func TestColourOnlyWhenAsked(t *testing.T) {
	p := &planner.SitePlan{Site: "hq", Changes: []planner.Change{{Address: "site.hq.camera.a", Type: "camera", Name: "a", Action: planner.Create,
		Attributes: []planner.AttributeChange{{Name: "url", After: "rtsp://h/s"}}}}, Summary: planner.Summary{Add: 1}}
	var plain, colour bytes.Buffer
	Text(&plain, p, false)
	Text(&colour, p, true)
	if strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("escape codes without colour:\n%q", plain.String())
	}
	if !strings.Contains(colour.String(), green+"+"+reset) {
		t.Errorf("no green + with colour:\n%q", colour.String())
	}
}
