package cinder

import (
	"reflect"
	"testing"
)

func TestConnectionSpecs(t *testing.T) {
	specs := map[string]string{
		"read_iops_sec_per_gb": "100", "read_iops_sec_per_gb_min": "500", // floor wins on small volumes
		"write_bytes_sec_per_gb": "1000", "write_bytes_sec_max": "5000", // cap wins on large volumes
		"total_iops_sec": "9000",
	}
	for _, c := range []struct {
		consumer string
		size     int
		want     map[string]any
	}{
		{ConsumerBackEnd, 1, nil},
		{ConsumerFrontEnd, 1, map[string]any{"read_iops_sec": int64(500), "write_bytes_sec": int64(1000), "total_iops_sec": "9000"}},
		{ConsumerBoth, 10, map[string]any{"read_iops_sec": int64(1000), "write_bytes_sec": int64(5000), "total_iops_sec": "9000"}},
	} {
		q := &QoSSpecs{ID: "q", Consumer: c.consumer, Specs: specs}
		got, err := q.ConnectionSpecs(c.size)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s, %d GiB: %v, %v; want %v", c.consumer, c.size, got, err, c.want)
		}
	}
	if got, err := (*QoSSpecs)(nil).ConnectionSpecs(1); got != nil || err != nil {
		t.Errorf("no QoS specs: %v, %v", got, err)
	}
	bad := &QoSSpecs{ID: "q", Consumer: ConsumerFrontEnd, Specs: map[string]string{"read_iops_sec_per_gb": "fast"}}
	if _, err := bad.ConnectionSpecs(1); err == nil {
		t.Error("a per-GiB limit that is no number passed")
	}
}
