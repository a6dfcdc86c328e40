package scheduler

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder/conf"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// pool returns the state of pool host from a report of caps taken at t0.
func pool(host string, caps map[string]any) *poolState {
	p := &poolState{host: host}
	p.update(caps, t0, "nova")
	return p
}

func thinPool(total, free, provisioned float64) map[string]any {
	return map[string]any{
		"total_capacity_gb": total, "free_capacity_gb": free, "provisioned_capacity_gb": provisioned,
		"thin_provisioning_support": true, "thick_provisioning_support": false,
		"max_over_subscription_ratio": "20.0", "reserved_percentage": 0.0,
	}
}

func thickPool(total, free, allocated float64) map[string]any {
	return map[string]any{
		"total_capacity_gb": total, "free_capacity_gb": free, "allocated_capacity_gb": allocated,
		"thin_provisioning_support": false, "thick_provisioning_support": true,
		"reserved_percentage": 0.0,
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	c := maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		c[kv[i].(string)] = kv[i+1]
	}
	return c
}

func TestCapacityFilter(t *testing.T) {
	thick := map[string]string{"provisioning:type": "thick"}
	for _, tc := range []struct {
		name  string
		caps  map[string]any
		size  int
		specs map[string]string
		want  bool
	}{
		// thick: min(free, total - reserved - provisioned)
		{"thick fits in free", thickPool(100, 10, 0), 10, nil, true},
		{"thick beyond free", thickPool(100, 10, 0), 11, nil, false},
		{"thick limited by allocated", thickPool(100, 100, 95), 6, nil, false},
		{"thick reserved floor(100*15%)=15", with(thickPool(100, 100, 0), "reserved_percentage", 15.0), 85, nil, true},
		{"thick reserved leaves 85", with(thickPool(100, 100, 0), "reserved_percentage", 15.0), 86, nil, false},
		// thin: (total - reserved) * ratio - provisioned, ratio check
		{"thin oversubscribes beyond free", thinPool(10, 1, 0), 150, nil, true},
		{"thin up to ratio", thinPool(10, 1, 0), 200, nil, true},
		{"thin beyond ratio", thinPool(10, 1, 0), 201, nil, false},
		{"thin counts provisioned", thinPool(10, 1, 190), 11, nil, false},
		{"thin reserved", with(thinPool(10, 10, 0), "reserved_percentage", 50.0), 101, nil, false},
		{"thin ratio 1 is thick-like on total", with(thinPool(10, 1, 0), "max_over_subscription_ratio", 1.0), 10, nil, true},
		{"thin ratio below 1 rejected", with(thinPool(10, 10, 0), "max_over_subscription_ratio", 0.5), 1, nil, false},
		{"thin pool, thick type uses free", thinPool(10, 1, 0), 2, thick, false},
		{"missing ratio defaults to 20", with(thinPool(10, 1, 0), "max_over_subscription_ratio", nil), 200, nil, true},
		{"auto ratio with nothing provisioned is 20", with(thinPool(10, 1, 0), "max_over_subscription_ratio", "auto"), 200, nil, true},
		// auto: 1 + provisioned/(used+1) = 1 + 18/(9+1) = 2.8 → 28 GiB available
		{"auto ratio from use", with(thinPool(10, 1, 18), "max_over_subscription_ratio", "auto"), 10, nil, true},
		{"auto ratio from use, too big", with(thinPool(10, 1, 18), "max_over_subscription_ratio", "auto"), 11, nil, false},
		// words
		{"infinite free passes", with(thickPool(0, 0, 0), "free_capacity_gb", "infinite"), 1000, nil, true},
		{"unknown free passes", with(thickPool(0, 0, 0), "free_capacity_gb", "unknown"), 1000, nil, true},
		{"unknown total, no reserve passes", with(thickPool(0, 5, 0), "total_capacity_gb", "unknown"), 1000, nil, true},
		{"infinite total with reserve fails", with(thickPool(0, 5, 0), "total_capacity_gb", "infinite", "reserved_percentage", 5.0), 1, nil, false},
		{"zero total fails", thickPool(0, 0, 0), 1, nil, false},
		{"missing stats fail", map[string]any{}, 1, nil, false},
		{"size 0 (manage) passes", thickPool(0, 0, 0), 0, nil, true},
		{"numeric strings are read", with(thickPool(0, 0, 0), "total_capacity_gb", "100", "free_capacity_gb", "50"), 50, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &request{size: tc.size, extraSpecs: tc.specs}
			if got := capacityFilter(pool("h@b#p", tc.caps), r); got != tc.want {
				t.Errorf("capacityFilter = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCapacityWeight(t *testing.T) {
	for _, tc := range []struct {
		name  string
		caps  map[string]any
		specs map[string]string
		want  float64
	}{
		{"thick: free", thickPool(100, 40, 10), nil, 40},
		{"thick: total-reserved-allocated below free", with(thickPool(100, 100, 30), "reserved_percentage", 10.0), nil, 60},
		{"thin: virtual", thinPool(10, 1, 50), nil, 150},
		{"thin pool, thick type", thinPool(10, 1, 50), map[string]string{"provisioning:type": "thick"}, -40},
		{"infinite", with(thinPool(10, 1, 0), "free_capacity_gb", "infinite"), nil, -1},
		{"unknown total", with(thinPool(10, 1, 0), "total_capacity_gb", "unknown"), nil, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := capacityWeight(pool("h@b#p", tc.caps), &request{size: 1, extraSpecs: tc.specs}); got != tc.want {
				t.Errorf("capacityWeight = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMatchSpec(t *testing.T) {
	for _, tc := range []struct {
		value any
		req   string
		want  bool
	}{
		{"lvm", "lvm", true},
		{"lvm", "nfs", false},
		{true, "True", false}, // plain equality is string equality, as in Python
		{true, "<is> True", true},
		{true, "<is> true", true},
		{false, "<is> True", false},
		{"True", "<is> True", true},
		{"no", "<is> False", true},
		{nil, "<is> False", false},
		{"thin,thick", "<in> thick", true},
		{"thin", "<in> thick", false},
		{1.0, "<in> 1", false},
		{"b", "<or> a <or> b <or> c", true},
		{"d", "<or> a <or> b <or> c", false},
		{"a", "<or>", false},
		{100.0, ">= 50", true},
		{10.0, ">= 50", false},
		{"100", ">= 50", true},
		{100.0, "<= 50", false},
		{50.0, "== 50", true},
		{50.0, "!= 50", false},
		{50.0, "= 40", true}, // '=' means at least
		{"abc", ">= 5", false},
		{"abc", "s== abc", true},
		{"abc", "s!= abc", false},
		{1.0, "s!= abc", true},
		{"abc", "s< abd", true},
		{"abc", "s> abd", false},
		{"abc", "s>= abc", true},
		{"abc", "s<= abb", false},
		{"x", ">=", false}, // an operator without an argument
	} {
		if got := matchSpec(tc.value, tc.req); got != tc.want {
			t.Errorf("matchSpec(%#v, %q) = %v, want %v", tc.value, tc.req, got, tc.want)
		}
	}
}

func TestCapabilitiesFilter(t *testing.T) {
	b := &backendState{pools: map[string]*poolState{}}
	b.update("h@thin", map[string]any{
		"volume_backend_name": "thin", "vendor_name": "Open Source", "storage_protocol": "iSCSI",
		"pools": []any{with(thinPool(10, 10, 0), "pool_name", "thin", "QoS_support", false,
			"nested", map[string]any{"level": "gold"})},
	}, t0, "nova")
	p := b.pools["thin"]
	for _, tc := range []struct {
		name  string
		specs map[string]string
		want  bool
	}{
		{"no specs", nil, true},
		{"backend name steers", map[string]string{"volume_backend_name": "thin"}, true},
		{"other backend name", map[string]string{"volume_backend_name": "thick"}, false},
		{"prefixed", map[string]string{"capabilities:thin_provisioning_support": "<is> True"}, true},
		{"prefixed false", map[string]string{"capabilities:thick_provisioning_support": "<is> True"}, false},
		{"other scope ignored", map[string]string{"provisioning:type": "thin", "qos:maxIOPS": "5"}, true},
		{"missing capability", map[string]string{"replication_enabled": "<is> True"}, false},
		{"nested", map[string]string{"capabilities:nested:level": "gold"}, true},
		{"nested miss", map[string]string{"capabilities:nested:level": "silver"}, false},
		{"list: any variant", map[string]string{"storage_protocol": "iscsi"}, true},
		{"list: none", map[string]string{"storage_protocol": "FC"}, false},
		{"numeric", map[string]string{"total_capacity_gb": ">= 10"}, true},
		{"all must match", map[string]string{"volume_backend_name": "thin", "QoS_support": "<is> True"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := capabilitiesFilter(p, &request{extraSpecs: tc.specs}); got != tc.want {
				t.Errorf("capabilitiesFilter = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAvailabilityZoneFilter(t *testing.T) {
	p := pool("h@b#p", thickPool(10, 10, 0)) // zone nova
	if !availabilityZoneFilter(p, &request{}) {
		t.Error("no zone requested: want pass")
	}
	if !availabilityZoneFilter(p, &request{availabilityZone: "nova"}) {
		t.Error("same zone: want pass")
	}
	if availabilityZoneFilter(p, &request{availabilityZone: "az2"}) {
		t.Error("other zone: want reject")
	}
	// A volume type's zones (RESKEY:availability_zones).
	if !availabilityZoneFilter(p, &request{availabilityZones: []string{"az2", "nova"}}) {
		t.Error("one of the type's zones: want pass")
	}
	if availabilityZoneFilter(p, &request{availabilityZones: []string{"az2", "az3"}}) {
		t.Error("none of the type's zones: want reject")
	}
}

// defaults returns the filters and weighers of Cinder's defaults.
func defaults(t *testing.T) ([]filter, []weigher) {
	t.Helper()
	s, err := New(&conf.Config{
		SchedulerDefaultFilters:  []string{"AvailabilityZoneFilter", "CapacityFilter", "CapabilitiesFilter"},
		SchedulerDefaultWeighers: []string{"CapacityWeigher"},
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.filters, s.weighers
}

func TestRankPrefersMostFreeAndNamesTheRejectingFilter(t *testing.T) {
	fs, ws := defaults(t)
	small := pool("h@a#a", thickPool(100, 10, 90))
	big := pool("h@b#b", thickPool(100, 60, 40))
	other := pool("h@c#c", thickPool(1000, 1000, 0))
	other.availabilityZone = "az2"

	ranked, _ := rank([]*poolState{small, big, other}, fs, ws, &request{size: 5, availabilityZone: "nova"})
	if len(ranked) != 2 || ranked[0] != big || ranked[1] != small {
		t.Fatalf("rank = %v, want [h@b#b h@a#a]", hosts(ranked))
	}
	ranked, by := rank([]*poolState{small, big}, fs, ws, &request{size: 61})
	if len(ranked) != 0 || by != "CapacityFilter" {
		t.Fatalf("rank of 61 GiB = %v rejected by %q, want none by CapacityFilter", hosts(ranked), by)
	}
}

func TestConsumeSpreadsABurst(t *testing.T) {
	fs, ws := defaults(t)
	a := pool("h@a#a", thickPool(100, 30, 0))
	b := pool("h@b#b", thickPool(100, 20, 0))
	var got []string
	for range 5 {
		ranked, _ := rank([]*poolState{a, b}, fs, ws, &request{size: 10})
		if len(ranked) == 0 {
			got = append(got, "none")
			continue
		}
		ranked[0].consume(10, t0.Add(time.Minute))
		got = append(got, ranked[0].host)
	}
	// 30/20 → a; 20/20 → a (tie keeps order); 10/20 → b; 10/10 → a; 0/10 → b
	want := "h@a#a h@a#a h@b#b h@a#a h@b#b"
	if strings.Join(got, " ") != want {
		t.Fatalf("placements = %v, want %v", got, want)
	}
	if ranked, _ := rank([]*poolState{a, b}, fs, ws, &request{size: 1}); len(ranked) != 0 {
		t.Fatalf("after filling both pools rank = %v, want none", hosts(ranked))
	}
}

func TestConsumedCapacitySurvivesOlderReports(t *testing.T) {
	p := pool("h@a#a", thickPool(100, 50, 0))
	p.consume(20, t0.Add(time.Minute))
	p.update(thickPool(100, 50, 0), t0.Add(30*time.Second), "nova") // taken before the consume
	if p.free.gb != 30 || p.allocated != 20 {
		t.Fatalf("after an older report free=%v allocated=%v, want 30 and 20", p.free.gb, p.allocated)
	}
	p.update(thickPool(100, 35, 15), t0.Add(2*time.Minute), "nova")
	if p.free.gb != 35 || p.allocated != 15 {
		t.Fatalf("after a newer report free=%v allocated=%v, want 35 and 15", p.free.gb, p.allocated)
	}
}

// A report taken before the last placement still applies, with that
// placement counted on top: under steady load every report is older than
// some placement, and capacity consumed must not only grow.
func TestOlderReportRefreshesCapacity(t *testing.T) {
	p := pool("h@a#a", thickPool(100, 50, 50))
	p.consume(10, t0.Add(time.Second))
	p.consume(20, t0.Add(time.Minute))
	p.update(thickPool(100, 80, 20), t0.Add(30*time.Second), "nova") // a volume deleted, the first placement created
	if p.free.gb != 60 || p.allocated != 40 {
		t.Fatalf("after a report older than a placement free=%v allocated=%v, want 60 and 40", p.free.gb, p.allocated)
	}
	p.update(thickPool(100, 90, 10), t0, "nova") // older than the one applied
	if p.free.gb != 60 || p.allocated != 40 {
		t.Fatalf("after a report older than the one applied free=%v allocated=%v, want 60 and 40", p.free.gb, p.allocated)
	}
}

func TestBackendUpdateExpandsPools(t *testing.T) {
	b := &backendState{pools: map[string]*poolState{}}
	b.update("h@multi", map[string]any{
		"volume_backend_name": "multi", "vendor_name": "Open Source", "driver_version": "1.0",
		"storage_protocol": "file", "sparse_copy_volume": true,
		"pools": []any{
			with(thickPool(10, 10, 0), "pool_name", "p1"),
			with(thickPool(20, 20, 0), "pool_name", "p2", "volume_backend_name", "own"),
		},
	}, t0, "az1")
	if len(b.pools) != 2 {
		t.Fatalf("pools = %d, want 2", len(b.pools))
	}
	p1, p2 := b.pools["p1"], b.pools["p2"]
	if p1.host != "h@multi#p1" || p1.availabilityZone != "az1" || p1.total.gb != 10 {
		t.Errorf("p1 = %+v", p1)
	}
	if p1.capabilities["volume_backend_name"] != "multi" || p2.capabilities["volume_backend_name"] != "own" {
		t.Errorf("volume_backend_name p1=%v p2=%v, want multi and own", p1.capabilities["volume_backend_name"], p2.capabilities["volume_backend_name"])
	}
	if p1.capabilities["timestamp"] != "2025-01-01T00:00:00.000000" || p1.capabilities["vendor_name"] != "Open Source" {
		t.Errorf("backend keys not filled in: %v", p1.capabilities)
	}
	if _, ok := p1.capabilities["sparse_copy_volume"]; ok {
		t.Errorf("backend-only key copied into the pool: %v", p1.capabilities)
	}

	b.update("h@multi", map[string]any{"pools": []any{with(thickPool(10, 5, 5), "pool_name", "p1")}}, t0.Add(time.Minute), "az1")
	if len(b.pools) != 1 || b.pools["p1"] != p1 || p1.free.gb != 5 {
		t.Fatalf("after p2 vanished pools = %v, p1 free %v", b.pools, p1.free.gb)
	}

	legacy := &backendState{pools: map[string]*poolState{}}
	legacy.update("h@old", with(thickPool(5, 5, 0), "volume_backend_name", "old"), t0, "nova")
	if p := legacy.pools["old"]; p == nil || p.host != "h@old#old" || p.total.gb != 5 {
		t.Fatalf("legacy backend pools = %v, want one named old", legacy.pools)
	}
}

func TestNewRejectsUnknownNames(t *testing.T) {
	_, err := New(&conf.Config{SchedulerDefaultFilters: []string{"CapacityFilter", "RetryFilter"}}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), `"RetryFilter"`) {
		t.Errorf("unknown filter: err = %v, want one naming RetryFilter", err)
	}
	_, err = New(&conf.Config{SchedulerDefaultWeighers: []string{"GoodnessWeigher"}}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), `"GoodnessWeigher"`) {
		t.Errorf("unknown weigher: err = %v, want one naming GoodnessWeigher", err)
	}
}

func hosts(pools []*poolState) []string {
	var out []string
	for _, p := range pools {
		out = append(out, p.host)
	}
	return out
}
