package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
)

// TestHosts lists the enabled services as os-hosts, and a backend's usage
// per project, every number a string, the total first.
func TestHosts(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA", cinder.BinaryScheduler, 0, false)
	e.addService("hostA@fake1", cinder.BinaryVolume, 2*time.Minute, false)
	e.addService("hostA@fake2", cinder.BinaryVolume, 0, true)
	e.createVolume(`{"volume": {"size": 2}}`)
	e.createVolume(`{"volume": {"size": 3}}`)
	e.createVolumeWithToken("u2:p2", 4)

	r := e.get("/v3/admin/os-hosts").expect(t, http.StatusOK)
	sameKeys(t, "host", r.keys(t, "hosts", "0"), []string{"host_name", "service", "zone", "service-status", "service-state", "last-update"})
	hosts := r.body["hosts"].([]any)
	if len(hosts) != 2 {
		t.Fatalf("hosts %s", r.raw)
	}
	if h := r.obj(t, "hosts", "1"); h["host_name"] != "hostA@fake1" || h["service"] != "cinder-volume" || h["zone"] != "nova" ||
		h["service-status"] != "unavailable" || h["service-state"] != "enabled" || !timestamp.MatchString(h["last-update"].(string)) {
		t.Fatalf("hostA@fake1 %v", h)
	}
	if r.obj(t, "hosts", "0")["service-status"] != "available" {
		t.Fatalf("scheduler %s", r.raw)
	}
	if n := len(e.get("/v3/admin/os-hosts?zone=other").body["hosts"].([]any)); n != 0 {
		t.Fatalf("%d hosts in zone other", n)
	}

	r = e.get("/v3/admin/os-hosts/hostA").expect(t, http.StatusOK)
	want := []map[string]any{
		{"host": "hostA", "project": "(total)", "volume_count": "3", "total_volume_gb": "9", "snapshot_count": "0", "total_snapshot_gb": "0"},
		{"host": "hostA", "project": "admin", "volume_count": "2", "total_volume_gb": "5", "snapshot_count": "0", "total_snapshot_gb": "0"},
		{"host": "hostA", "project": "p2", "volume_count": "1", "total_volume_gb": "4", "snapshot_count": "0", "total_snapshot_gb": "0"},
	}
	sameKeys(t, "resource", r.keys(t, "host", "0", "resource"), []string{"host", "project", "volume_count", "total_volume_gb", "snapshot_count", "total_snapshot_gb"})
	for i, w := range want {
		got := r.obj(t, "host", strconv.Itoa(i), "resource")
		for k, v := range w {
			if got[k] != v {
				t.Errorf("resource %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
	}
	msg := e.get("/v3/admin/os-hosts/hostA@fake2").fault(t, http.StatusNotFound, "itemNotFound")
	if msg != "Service cinder-volume could not be found on host hostA@fake2." {
		t.Fatalf("disabled backend: %s", msg)
	}
	e.get("/v3/admin/os-hosts/nohost").fault(t, http.StatusNotFound, "itemNotFound")
}

// TestFreezeThawServices: freeze and thaw answer 200 without a body and
// show in the service list; a bad body, a host that is no backend, and a
// second freeze are 400s.
func TestFreezeThawServices(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	e.addService("hostA@fake2", cinder.BinaryVolume, 0, false)
	r := e.put("/v3/admin/os-services/freeze", `{"host": "hostA@fake1"}`).expect(t, http.StatusOK)
	if len(r.raw) != 0 {
		t.Fatalf("freeze answered %s", r.raw)
	}
	if !slices.Contains(e.volumes.called(), "freeze_host hostA@fake1") {
		t.Fatalf("backend not told: %v", e.volumes.called())
	}
	frozen := func(i string) any { return e.get("/v3/admin/os-services").obj(t, "services", i)["frozen"] }
	if frozen("0") != true || frozen("1") != false {
		t.Fatalf("frozen %v %v", frozen("0"), frozen("1"))
	}
	vol := e.createVolume(`{"volume": {"size": 1}}`)
	if msg := e.del("/v3/admin/volumes/"+vol).fault(t, 400, "badRequest"); msg != "Invalid input received: Modification operations are not allowed on frozen storage backends." {
		t.Fatalf("delete on a frozen backend: %s", msg)
	}
	for _, tc := range []struct{ body, version, want string }{
		{`{"host": "hostA@fake1"}`, "volume 3.64", "No service could be changed"},
		{`{"host": "nohost"}`, "volume 3.64", "Invalid input received: No service found with host=nohost"},
		{`{"host": "hostA"}`, "volume 3.64", "Services from different clusters found."},
		{`{}`, "volume 3.0", "Invalid input received: Host field is missing."},
		{`{"host": "hostA@fake1", "cluster": "c"}`, "volume 3.26", "Invalid input received: One and only one of cluster and host must be set."},
		{`{"cluster": "c"}`, "volume 3.26", "Invalid input received: No service found with cluster=c"},
		{`{"host": "hostA@fake1", "binary": "cinder-volume"}`, "volume 3.64", "'binary' was unexpected"},
		{`{"host": 5}`, "volume 3.64", "is not of type 'string', 'null'"},
	} {
		msg := e.put("/v3/admin/os-services/freeze", tc.body, "OpenStack-API-Version", tc.version).fault(t, 400, "badRequest")
		if !strings.Contains(msg, tc.want) {
			t.Errorf("freeze %s at %s: %s, want %q", tc.body, tc.version, msg, tc.want)
		}
	}
	e.put("/v3/admin/os-services/thaw", `{"host": "hostA@fake1"}`).expect(t, http.StatusOK)
	if frozen("0") != false {
		t.Fatal("still frozen after thaw")
	}
	e.del("/v3/admin/volumes/"+vol).expect(t, http.StatusAccepted)
	e.volumes.castErr = errBrokerDown
	e.put("/v3/admin/os-services/freeze", `{"host": "hostA@fake2"}`).fault(t, http.StatusServiceUnavailable, "serviceUnavailable")
}

// TestClusters: no route below 3.7; an empty list while no service joins a
// cluster; a cluster's summary, detail and replication fields by
// microversion; enable and disable; Cinder's faults.
func TestClusters(t *testing.T) {
	e := newEnv(t)
	e.get("/v3/admin/clusters", "OpenStack-API-Version", "volume 3.6").fault(t, 404, "itemNotFound")
	r := e.get("/v3/admin/clusters/detail").expect(t, http.StatusOK)
	if string(r.raw) != `{"clusters": []}` {
		t.Fatalf("no clusters: %s", r.raw)
	}
	msg := e.get("/v3/admin/clusters/c1").fault(t, 404, "itemNotFound")
	if msg != "Cluster {'binary': 'cinder-volume', 'name': 'c1'} could not be found." {
		t.Fatalf("show of no cluster: %s", msg)
	}

	ctx := context.Background()
	if err := e.store.CreateCluster(ctx, &cinder.Cluster{Name: "c1", Binary: cinder.BinaryVolume}); err != nil {
		t.Fatal(err)
	}
	svc := e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	if _, err := e.store.UpdateService(ctx, svc.ID, func(s *cinder.Service) error { s.ClusterName = "c1"; return nil }); err != nil {
		t.Fatal(err)
	}
	summary := []string{"name", "binary", "state", "status"}
	detail := append(slices.Clone(summary), "num_hosts", "num_down_hosts", "last_heartbeat", "created_at", "updated_at", "disabled_reason")
	r = e.get("/v3/admin/clusters?is_up=true&num_hosts=1").expect(t, http.StatusOK)
	sameKeys(t, "summary", r.keys(t, "clusters", "0"), append(slices.Clone(summary), "replication_status"))
	sameKeys(t, "summary at 3.7", e.get("/v3/admin/clusters", "OpenStack-API-Version", "volume 3.7").keys(t, "clusters", "0"), summary)
	sameKeys(t, "detail at 3.7", e.get("/v3/admin/clusters/detail", "OpenStack-API-Version", "volume 3.7").keys(t, "clusters", "0"), detail)
	r = e.get("/v3/admin/clusters/c1").expect(t, http.StatusOK)
	sameKeys(t, "show", r.keys(t, "cluster"), append(slices.Clone(detail), "replication_status", "frozen", "active_backend_id"))
	if c := r.obj(t, "cluster"); c["state"] != "up" || c["status"] != "enabled" || c["num_hosts"] != 1.0 || c["updated_at"] != "" ||
		c["replication_status"] != "not-capable" || c["disabled_reason"] != nil {
		t.Fatalf("cluster %v", c)
	}
	if n := len(e.get("/v3/admin/clusters?disabled=true").body["clusters"].([]any)); n != 0 {
		t.Fatalf("%d disabled clusters", n)
	}

	r = e.put("/v3/admin/clusters/disable", `{"name": "c1", "disabled_reason": " upgrade "}`).expect(t, http.StatusOK)
	sameKeys(t, "update", r.keys(t, "cluster"), append(slices.Clone(summary), "replication_status", "disabled_reason"))
	if c := r.obj(t, "cluster"); c["status"] != "disabled" || c["disabled_reason"] != "upgrade" {
		t.Fatalf("disable %v", c)
	}
	if n := len(e.get("/v3/admin/clusters?disabled=true").body["clusters"].([]any)); n != 1 {
		t.Fatalf("%d disabled clusters", n)
	}
	if c := e.put("/v3/admin/clusters/enable", `{"name": "c1", "binary": null}`).expect(t, 200).obj(t, "cluster"); c["status"] != "enabled" || c["disabled_reason"] != nil {
		t.Fatalf("enable %v", c)
	}
	for _, tc := range []struct {
		method, path, body, version, want string
		status                            int
	}{
		{"GET", "/v3/admin/clusters?frozen=true", "", "volume 3.7", "Invalid input received: Invalid filter keys: frozen", 400},
		{"GET", "/v3/admin/clusters?is_up=maybe", "", "volume 3.64", "Value 'maybe' for 'is_up' is not a boolean.", 400},
		{"PUT", "/v3/admin/clusters/reboot", `{"name": "c1"}`, "volume 3.64", "Unknown action", 404},
		{"PUT", "/v3/admin/clusters/enable", `{"name": "c1", "disabled_reason": "x"}`, "volume 3.64", "'disabled_reason' was unexpected", 400},
		{"PUT", "/v3/admin/clusters/disable", `{}`, "volume 3.64", "'name' is a required property", 400},
		{"PUT", "/v3/admin/clusters/disable", `{"name": "c9"}`, "volume 3.64", "could not be found", 404},
		{"PUT", "/v3/admin/clusters/enable", `{"name": "c1"}`, "volume 3.6", "The resource could not be found.", 404},
	} {
		kind := map[int]string{400: "badRequest", 404: "itemNotFound"}[tc.status]
		msg := e.do(req{method: tc.method, path: tc.path, body: tc.body, headers: []string{"OpenStack-API-Version", tc.version}}).fault(t, tc.status, kind)
		if !strings.Contains(msg, tc.want) {
			t.Errorf("%s %s %s: %s, want %q", tc.method, tc.path, tc.body, msg, tc.want)
		}
	}
	if n := len(e.get("/v3/admin/clusters?replication_status=enabled", "OpenStack-API-Version", "volume 3.26").body["clusters"].([]any)); n != 0 {
		t.Fatalf("%d clusters replicating", n)
	}
}
