package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/rpc"
)

func TestListServices(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA", cinder.BinaryScheduler, 5*time.Second, false)
	e.addService("hostA@fake1", cinder.BinaryVolume, 5*time.Second, false)
	e.addService("hostA@fake2", cinder.BinaryVolume, 2*time.Minute, true)
	e.sched.pools = []cinder.Pool{{Name: "hostA@fake1#fake", Capabilities: map[string]any{"backend_state": "down"}}}

	r := e.get("/v3/admin/os-services").expect(t, http.StatusOK)
	sameKeys(t, "scheduler service", r.keys(t, "services", "0"),
		[]string{"binary", "host", "zone", "status", "state", "updated_at", "cluster", "disabled_reason"})
	sameKeys(t, "volume service", r.keys(t, "services", "1"),
		[]string{"binary", "host", "zone", "status", "state", "updated_at", "backend_state", "cluster", "disabled_reason",
			"replication_status", "active_backend_id", "frozen"})
	fake1, fake2 := r.obj(t, "services", "1"), r.obj(t, "services", "2")
	if fake1["state"] != "up" || fake1["status"] != "enabled" || fake1["zone"] != "nova" || fake1["backend_state"] != "down" {
		t.Fatalf("fake1 %v", fake1)
	}
	if fake2["state"] != "down" || fake2["status"] != "disabled" || fake2["backend_state"] != nil {
		t.Fatalf("fake2 %v", fake2)
	}
	if !timestamp.MatchString(fake1["updated_at"].(string)) {
		t.Fatalf("updated_at %v", fake1["updated_at"])
	}
	if n := len(e.get("/v3/admin/os-services?binary=cinder-volume").body["services"].([]any)); n != 2 {
		t.Fatalf("%d cinder-volume services", n)
	}
	if n := len(e.get("/v3/admin/os-services?host=hostA@fake2").body["services"].([]any)); n != 1 {
		t.Fatalf("%d services on hostA@fake2", n)
	}
	// A host matches its backends too, as Cinder's _filter_host.
	if n := len(e.get("/v3/admin/os-services?host=hostA").body["services"].([]any)); n != 3 {
		t.Fatalf("%d services on hostA, want the scheduler and both backends", n)
	}
	if n := len(e.get("/v3/admin/os-services?host=hostA&binary=cinder-volume").body["services"].([]any)); n != 2 {
		t.Fatalf("%d cinder-volume services on hostA", n)
	}
	old := e.get("/v3/admin/os-services", "OpenStack-API-Version", "")
	sameKeys(t, "volume service at 3.0", old.keys(t, "services", "1"),
		[]string{"binary", "host", "zone", "status", "state", "updated_at", "disabled_reason", "replication_status", "active_backend_id", "frozen"})
	// The list still answers when the scheduler does not.
	e.sched.poolsErr = errBrokerDown
	e.get("/v3/admin/os-services").expect(t, http.StatusOK)
}

func TestUpdateServices(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	r := e.put("/v3/admin/os-services/disable-log-reason", `{"host": "hostA@fake1", "binary": "cinder-volume", "disabled_reason": "maintenance"}`).expect(t, http.StatusOK)
	sameKeys(t, "disable-log-reason", r.keys(t), []string{"disabled_reason", "disabled", "host", "service", "binary", "status"})
	if r.body["disabled"] != true || r.body["status"] != "disabled" || r.body["disabled_reason"] != "maintenance" {
		t.Fatalf("answer %s", r.raw)
	}
	svc := e.get("/v3/admin/os-services?host=hostA@fake1").obj(t, "services", "0")
	if svc["status"] != "disabled" || svc["disabled_reason"] != "maintenance" {
		t.Fatalf("after disable %v", svc)
	}
	e.put("/v3/admin/os-services/enable", `{"host": "hostA@fake1", "binary": "cinder-volume"}`).expect(t, http.StatusOK)
	if st := e.get("/v3/admin/os-services?host=hostA@fake1").obj(t, "services", "0")["status"]; st != "enabled" {
		t.Fatalf("after enable %v", st)
	}
	e.put("/v3/admin/os-services/disable", `{"host": "hostA@fake1", "service": "cinder-volume"}`).expect(t, http.StatusOK)

	msg := e.put("/v3/admin/os-services/disable", `{"host": "hostB", "binary": "cinder-volume"}`).fault(t, http.StatusNotFound, "itemNotFound")
	if msg != "Could not find binary cinder-volume on host hostB." {
		t.Fatalf("unknown service message %q", msg)
	}
	msg = e.put("/v3/admin/os-services/disable", `{"binary": "cinder-volume"}`).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Invalid input received: Host field is missing." {
		t.Fatalf("no host message %q", msg)
	}
	e.put("/v3/admin/os-services/disable", `{"host": "hostA@fake1"}`).fault(t, http.StatusBadRequest, "badRequest")
	e.put("/v3/admin/os-services/disable-log-reason", `{"host": "hostA@fake1", "binary": "cinder-volume", "disabled_reason": " "}`).fault(t, http.StatusBadRequest, "badRequest")
	e.put("/v3/admin/os-services/frobnicate", `{"host": "hostA@fake1", "binary": "cinder-volume"}`).fault(t, http.StatusBadRequest, "badRequest")
}

func TestGetPools(t *testing.T) {
	e := newEnv(t)
	e.sched.pools = []cinder.Pool{
		{Name: "hostA@fake1#fake", Capabilities: map[string]any{"pool_name": "fake", "total_capacity_gb": "infinite", "storage_protocol": "fake"}},
		{Name: "hostA@fake2#fake", Capabilities: map[string]any{"pool_name": "fake", "storage_protocol": []any{"iSCSI", "FC"}}},
	}
	brief := e.get("/v3/admin/scheduler-stats/get_pools").expect(t, http.StatusOK)
	sameKeys(t, "pool", brief.keys(t, "pools", "0"), []string{"name"})
	if brief.obj(t, "pools", "1")["name"] != "hostA@fake2#fake" {
		t.Fatalf("pools %s", brief.raw)
	}
	detail := e.get("/v3/admin/scheduler-stats/get_pools?detail=True").expect(t, http.StatusOK)
	sameKeys(t, "detailed pool", detail.keys(t, "pools", "0"), []string{"name", "capabilities"})
	if c := detail.obj(t, "pools", "0", "capabilities"); c["total_capacity_gb"] != "infinite" || c["pool_name"] != "fake" {
		t.Fatalf("capabilities %v", c)
	}
	if p := detail.obj(t, "pools", "1", "capabilities")["storage_protocol"]; p != "iSCSI" {
		t.Fatalf("a list storage_protocol shows as %v", p)
	}
	e.get("/v3/admin/scheduler-stats/get_pools?detail=sure").fault(t, http.StatusBadRequest, "badRequest")
	e.sched.poolsErr = errBrokerDown
	e.get("/v3/admin/scheduler-stats/get_pools").fault(t, http.StatusServiceUnavailable, "serviceUnavailable")
}

func TestCapabilities(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	props := map[string]any{"thin_provisioning": map[string]any{"title": "Thin Provisioning", "description": "Sets thin provisioning.", "type": "boolean"}}
	e.volumes.caps = map[string]any{"vendor_name": "Open Source", "volume_backend_name": "fake", "driver_version": "3.0.0",
		"storage_protocol": []any{"local", "file"}, "sparse_copy_volume": true, "properties": props, "pool_name": nil}

	r := e.get("/v3/admin/capabilities/hostA@fake1").expect(t, http.StatusOK)
	sameKeys(t, "capabilities", r.keys(t), []string{"namespace", "vendor_name", "volume_backend_name", "pool_name", "driver_version",
		"storage_protocol", "display_name", "description", "visibility", "replication_targets", "properties"})
	if r.body["namespace"] != "OS::Storage::Capabilities::hostA@fake1" || r.body["storage_protocol"] != "local" ||
		r.body["vendor_name"] != "Open Source" || len(r.body["replication_targets"].([]any)) != 0 {
		t.Fatalf("capabilities %s", r.raw)
	}
	if _, ok := r.body["sparse_copy_volume"]; ok {
		t.Fatal("sparse_copy_volume is shown")
	}
	// Pool-tolerant, and host alone finds its first backend.
	e.get("/v3/admin/capabilities/hostA@fake1#fake").expect(t, http.StatusOK)
	e.get("/v3/admin/capabilities/hostA").expect(t, http.StatusOK)
	if calls := e.volumes.called(); len(calls) != 3 || calls[2] != "capabilities hostA@fake1" {
		t.Fatalf("cinder-volume calls %v", calls)
	}
	msg := e.get("/v3/admin/capabilities/hostB@fake1").fault(t, http.StatusNotFound, "itemNotFound")
	if msg != "Can't find service: hostB@fake1" {
		t.Fatalf("unknown host message %q", msg)
	}
	e.volumes.capsErr = &rpc.TimeoutError{Method: "get_capabilities", Target: "cinder-volume.hostA@fake1", Timeout: time.Second}
	msg = e.get("/v3/admin/capabilities/hostA@fake1").fault(t, http.StatusBadGateway, "computeFault")
	if msg != "Timeout while requesting capabilities from backend hostA@fake1." {
		t.Fatalf("timeout message %q", msg)
	}
	e.volumes.capsErr = errBrokerDown
	msg = e.get("/v3/admin/capabilities/hostA@fake1").fault(t, http.StatusServiceUnavailable, "serviceUnavailable")
	if msg != "Could not get the capabilities of hostA@fake1: the message bus is unreachable. Try again later." {
		t.Fatalf("unreachable message %q", msg)
	}
}

func TestAvailabilityZones(t *testing.T) {
	e := newEnv(t)
	r := e.get("/v3/admin/os-availability-zone").expect(t, http.StatusOK)
	if zones := r.body["availabilityZoneInfo"].([]any); len(zones) != 0 {
		t.Fatalf("zones without services: %s", r.raw)
	}
	e.addService("hostA", cinder.BinaryScheduler, 0, false)
	e.addService("hostA@fake1", cinder.BinaryVolume, time.Hour, false)
	e.addService("hostA@fake2", cinder.BinaryVolume, 0, false)
	r = e.get("/v3/admin/os-availability-zone").expect(t, http.StatusOK)
	zones := r.body["availabilityZoneInfo"].([]any)
	if len(zones) != 1 {
		t.Fatalf("zones %s", r.raw)
	}
	sameKeys(t, "zone", r.keys(t, "availabilityZoneInfo", "0"), []string{"zoneName", "zoneState"})
	if z := r.obj(t, "availabilityZoneInfo", "0"); z["zoneName"] != "nova" || z["zoneState"].(map[string]any)["available"] != true {
		t.Fatalf("zone %v", z)
	}
}

func TestExtensions(t *testing.T) {
	e := newEnv(t)
	r := e.get("/v3/admin/extensions").expect(t, http.StatusOK)
	list := r.body["extensions"].([]any)
	if len(list) != len(extensions) {
		t.Fatalf("%d extensions, want %d", len(list), len(extensions))
	}
	sameKeys(t, "extension", r.keys(t, "extensions", "0"), []string{"name", "alias", "description", "updated", "links"})
	if got := e.get("/v3/admin/extensions/os-services").expect(t, http.StatusOK).obj(t, "extension"); got["name"] != "Services" {
		t.Fatalf("os-services extension %v", got)
	}
	e.get("/v3/admin/extensions/os-image-create").fault(t, http.StatusNotFound, "itemNotFound") // upload to image: not built
}

// TestRequestOutlivesItsClient: a request whose client hangs up midway
// runs to its end with its context intact, as under Cinder's WSGI server
// (a cancelled query would cost pgx its PostgreSQL connection).
func TestRequestOutlivesItsClient(t *testing.T) {
	// net/http ends the context it gives the handler when it reads the
	// client's hang-up: the held call goes on only after that.
	hungUp := make(chan struct{})
	e := newEnv(t, func(e *env) {
		e.wrap = func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				go func() { <-r.Context().Done(); close(hungUp) }()
				h.ServeHTTP(w, r)
			})
		}
	})
	h := &held{started: make(chan struct{}), release: make(chan struct{}), err: make(chan error, 1)}
	e.sched.held = h
	ctx, cancel := context.WithCancel(context.Background())
	hr, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v3/admin/scheduler-stats/get_pools", nil)
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("X-Auth-Token", "admin:admin")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(hr)
		if err == nil {
			_ = resp.Body.Close() // nothing to read
		}
		done <- err
	}()
	<-h.started
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the cancelled client got an answer")
	}
	select {
	case <-hungUp:
	case <-time.After(10 * time.Second):
		t.Fatal("the server never saw its client hang up")
	}
	close(h.release)
	if err := <-h.err; err != nil {
		t.Fatalf("the request's context ended with its client: %v", err)
	}
}
