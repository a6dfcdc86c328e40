package tests

import (
	"strings"
	"testing"
)

// The scheduler places by volume_backend_name, by free capacity, and sends a
// volume no backend can hold to error.
func TestSchedulerPlacement(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, setup{backends: map[string]string{
		"small": "volume_driver = thick\nvolume_clear = none\ntotal_capacity_gb = 4\n",
		"big":   "volume_driver = thick\nvolume_clear = none\ntotal_capacity_gb = 40\n",
		"thin":  "volume_driver = thin\ntotal_capacity_gb = 2\nmax_over_subscription_ratio = 1.0\n",
	}})
	d.startAll()

	// volume_backend_name in the type's extra specs steers the scheduler.
	typ := d.do("POST", "/admin/types", map[string]any{"volume_type": map[string]any{"name": "small-only"}}, 200)["volume_type"].(map[string]any)
	d.do("POST", "/admin/types/"+typ["id"].(string)+"/extra_specs",
		map[string]any{"extra_specs": map[string]string{"volume_backend_name": "small"}}, 200)
	id := d.createVolume(1, map[string]any{"volume_type": "small-only"})
	if host := d.waitStatus(id, "available")["os-vol-host-attr:host"].(string); !strings.HasPrefix(host, "hostA@small#") {
		t.Fatalf("volume of type small-only placed on %s", host)
	}

	// Without a type, the CapacityWeigher prefers the backend with the most
	// free space; 3 GiB fits small (4) and big (40), not thin (2).
	id = d.createVolume(3, nil)
	if host := d.waitStatus(id, "available")["os-vol-host-attr:host"].(string); !strings.HasPrefix(host, "hostA@big#") {
		t.Fatalf("3 GiB volume placed on %s, want the backend with most free capacity", host)
	}

	// 100 GiB fits nowhere: the volume goes to error.
	id = d.createVolume(100, nil)
	v := d.waitStatusAny(id, "error")
	if v["os-vol-host-attr:host"] != nil && v["os-vol-host-attr:host"] != "" {
		t.Fatalf("unplaceable volume has a host: %v", v)
	}
	if !strings.Contains(d.log("cinder-all"), "No valid backend") {
		t.Fatal("scheduler log does not give the reason")
	}
	// The user sees why in a user message (microversion 3.3+).
	msgs := d.do("GET", "/admin/messages", nil, 200)["messages"].([]any)
	found := false
	for _, m := range msgs {
		m := m.(map[string]any)
		if m["resource_uuid"] == id && m["event_id"] == "VOLUME_VOLUME_001_003" &&
			strings.Contains(m["user_message"].(string), "Could not find any available weighted backend") {
			found = true
			d.do("GET", "/admin/messages/"+m["id"].(string), nil, 200)
			d.do("DELETE", "/admin/messages/"+m["id"].(string), nil, 204)
			d.do("GET", "/admin/messages/"+m["id"].(string), nil, 404)
		}
	}
	if !found {
		t.Fatalf("no user message explains the error: %v", msgs)
	}
}
