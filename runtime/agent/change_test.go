package agent

import (
	"reflect"
	"testing"
	"time"

	"vigil/runtime/assign"
	"vigil/runtime/cluster"
)

// The reconcile loop's change detection must see a change of every field of
// the types it compares by hand, or name why it need not: a field added to
// cluster.Member and missed by sameMember would leave /v1/state's cached
// answer stale. Each field is changed in turn, by reflection; a new field of
// a kind changed makes the test fail until it is compared or listed here.
func TestChangeDetectionCoversEveryField(t *testing.T) {
	t.Run("cluster.Member", func(t *testing.T) {
		eachField(t, cluster.Member{}, map[string]string{
			"Heard": "moves on every answer of the member; the gap tracker reads it when it runs",
		}, func(x, y cluster.Member) bool { return sameMember(x, y) })
	})
	t.Run("assign.Member", func(t *testing.T) {
		eachField(t, assign.Member{}, nil, func(x, y assign.Member) bool { return sameHealth(x, y) })
	})
	t.Run("assignInputs", func(t *testing.T) {
		eachField(t, assignInputs{}, nil, func(x, y assignInputs) bool { return x.same(y) })
	})
	t.Run("view", func(t *testing.T) {
		eachField(t, view{}, map[string]string{
			"health":  "an input of the assignment: a change reruns it (assignInputs)",
			"result":  "the assignment's result, compared by the pass that reruns it",
			"mine":    "derived from result",
			"warm":    "derived from health and result",
			"failing": "derived from health and the members' Late",
			"input":   "the assignment's input of result",
			"gen":     "the generation sameAs decides",
		}, func(x, y view) bool { return x.sameAs(y) })
	})
}

// eachField changes each field of base in turn but those of skip (name →
// why), and fails when same does not see the change.
func eachField[T any](t *testing.T, base T, skip map[string]string, same func(x, y T) bool) {
	t.Helper()
	typ := reflect.TypeFor[T]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if _, ok := skip[f.Name]; ok {
			continue
		}
		changed := base
		v := reflect.ValueOf(&changed).Elem().Field(i)
		v = reflect.NewAt(v.Type(), v.Addr().UnsafePointer()).Elem() // unexported fields too
		if !change(v) {
			t.Fatalf("%s.%s: kind %s not handled by this test", typ, f.Name, v.Kind())
		}
		if same(base, changed) {
			t.Errorf("a change of %s.%s is not detected: compare it, or say in this test why it need not be", typ, f.Name)
		}
	}
	for name := range skip {
		if _, ok := typ.FieldByName(name); !ok {
			t.Errorf("%s has no field %s any more: remove it from this test", typ, name)
		}
	}
}

// change sets v, a zero value, to a value that differs from zero; false when
// its kind is not handled.
func change(v reflect.Value) bool {
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Unix(1, 0)))
	case v.Kind() == reflect.String:
		v.SetString("x")
	case v.Kind() == reflect.Bool:
		v.SetBool(true)
	case v.CanInt():
		v.SetInt(1)
	case v.CanUint():
		v.SetUint(1)
	case v.Kind() == reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
	case v.Kind() == reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
	case v.Kind() == reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.Zero(v.Type().Key()), reflect.Zero(v.Type().Elem()))
		v.Set(m)
	default:
		return false
	}
	return true
}
