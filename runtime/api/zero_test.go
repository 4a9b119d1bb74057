package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestZeroesPresent: in the state a client reads, a number or a flag that
// is 0 or false is written, not left out (a master's clock offset is 0 ms,
// a volume that is not full says so).
func TestZeroesPresent(t *testing.T) {
	b, err := json.Marshal(ServerState{Storage: []StorageState{{}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"recording":0`, `"cpu_percent":0`, `"memory_bytes":0`, `"clock_offset_ms":0`, `"clock_offset_known":false`, `"full":false`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("%s lacks %s", b, key)
		}
	}
}

// TestAlertItemEndOnlyWhenEnded: a webhook receiver reads "end" only on an
// item that ended, never the zero time "0001-01-01T00:00:00Z".
func TestAlertItemEndOnlyWhenEnded(t *testing.T) {
	b, err := json.Marshal(AlertItem{Condition: "server.dead", State: ItemStarted})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"end"`) {
		t.Errorf("a started item has an end: %s", b)
	}
}
