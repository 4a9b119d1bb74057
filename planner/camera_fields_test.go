package planner

import (
	"reflect"
	"testing"
	"time"

	"vigil/hcl/spec"
)

// sameCamera and cameraAttrs must cover the same fields: a field added to
// spec.Camera but missed by either would make its changes vanish from plans.
// Each field is changed in turn, by reflection.
func TestSameCameraCoversEveryField(t *testing.T) {
	base := func() *spec.Camera {
		return &spec.Camera{Name: "c", URL: "rtsp://10.0.0.1/s", Server: "rec-1", Backup: []string{"rec-2"},
			Redundancy: spec.RedundancyNormal, Transport: "tcp", SegmentDuration: time.Minute, StallTimeout: 5 * time.Second,
			Balance: true, Labels: map[string]string{"zone": "a"}}
	}
	typ := reflect.TypeFor[spec.Camera]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		switch f.Name {
		case "Name", "DeclRange", "Ranges": // identity and source positions
			continue
		}
		changed := base()
		v := reflect.ValueOf(changed).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + "x")
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.Int64: // time.Duration
			v.SetInt(v.Int() + int64(time.Second))
		case reflect.Slice:
			v.Set(reflect.ValueOf([]string{"rec-3"}))
		case reflect.Map:
			v.Set(reflect.ValueOf(map[string]string{"zone": "b"}))
		default:
			t.Fatalf("spec.Camera.%s: kind %s not handled by this test", f.Name, v.Kind())
		}
		if sameCamera(base(), changed) {
			t.Errorf("sameCamera misses a change of %s", f.Name)
		}
		if reflect.DeepEqual(attrValues(cameraAttrs(base())), attrValues(cameraAttrs(changed))) {
			t.Errorf("cameraAttrs misses a change of %s", f.Name)
		}
	}
}

// attrValues are the attributes' values (attr holds funcs, which DeepEqual
// never finds equal).
func attrValues(as []attr) []any {
	out := make([]any, len(as))
	for i, a := range as {
		out[i] = a.val
	}
	return out
}
