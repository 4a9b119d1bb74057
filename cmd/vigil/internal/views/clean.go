package views

import (
	"fmt"
	"reflect"
	"strings"
)

// Text from the site (a camera's error, an event message, a name) reaches
// the operator's terminal: a camera that answers with escape sequences
// could otherwise move the cursor, rewrite earlier lines or retitle the
// window. clean shows control characters as \xNN instead.
func clean(s string) string {
	if strings.IndexFunc(s, control) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if control(r) {
			fmt.Fprintf(&b, `\x%02x`, r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// control reports C0 and C1 control characters and DEL.
func control(r rune) bool { return r < 0x20 || r >= 0x7f && r < 0xa0 }

// cleanAll applies clean to every string reachable from v (a pointer),
// in place.
func cleanAll(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			cleanAll(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				cleanAll(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			cleanAll(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			cleanAll(e)
			v.SetMapIndex(k, e)
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString(clean(v.String()))
		}
	}
}
