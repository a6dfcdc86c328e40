package scheduler

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/cinder-go/cinder/conf"
)

func TestUpdateServiceCapabilitiesKeepsTheNewest(t *testing.T) {
	s, err := New(&conf.Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	send := func(service, ts string, total float64) error {
		raw, _ := json.Marshal(map[string]any{
			"service_name": service, "host": "node1@thin", "cluster_name": nil, "timestamp": ts,
			"capabilities": map[string]any{"total_capacity_gb": total},
		})
		_, err := s.updateServiceCapabilities(context.Background(), raw)
		return err
	}
	held := func() float64 { return s.reports["node1@thin"].capabilities["total_capacity_gb"].(float64) }

	if err := send("volume", "2025-01-01T00:00:10.000000", 10); err != nil {
		t.Fatal(err)
	}
	if err := send("volume", "2025-01-01T00:00:05.000000", 5); err != nil || held() != 10 {
		t.Fatalf("after an older report: held %v (err %v), want 10", held(), err)
	}
	if err := send("volume", "2025-01-01T00:00:20.000000", 20); err != nil || held() != 20 {
		t.Fatalf("after a newer report: held %v (err %v), want 20", held(), err)
	}
	if err := send("backup", "2025-01-01T00:00:30.000000", 30); err != nil || held() != 20 {
		t.Fatalf("after a backup report: held %v (err %v), want 20", held(), err)
	}
	if err := send("volume", "yesterday", 40); err == nil || held() != 20 {
		t.Fatalf("bad timestamp: err %v, held %v; want an error and 20", err, held())
	}
}
