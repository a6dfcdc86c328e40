package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/volume"
)

// WorkCleanup answers that no service had anything to clean.
func (f *fakeScheduler) WorkCleanup(ctx context.Context, req cinder.CleanupRequest) (cleaning, unavailable []*cinder.Service, err error) {
	return nil, nil, nil
}

// cleaningScheduler is a fakeScheduler whose work_cleanup records the
// requests and answers the services it holds.
type cleaningScheduler struct {
	*fakeScheduler
	reqs                  []cinder.CleanupRequest
	cleaning, unavailable []*cinder.Service
}

func (c *cleaningScheduler) WorkCleanup(ctx context.Context, req cinder.CleanupRequest) ([]*cinder.Service, []*cinder.Service, error) {
	c.reqs = append(c.reqs, req)
	return c.cleaning, c.unavailable, nil
}

// TestWorkersCleanup: no route below 3.24; the answer lists the services
// cinder-scheduler asked and those down; the body is read as Cinder's
// schema, booleans and resource types included.
func TestWorkersCleanup(t *testing.T) {
	sched := &cleaningScheduler{}
	e := newEnv(t, func(e *env) { sched.fakeScheduler = e.sched; e.schedOverride = sched })
	up := e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	down := e.addService("hostB@fake1", cinder.BinaryVolume, 0, false)
	sched.cleaning, sched.unavailable = []*cinder.Service{up}, []*cinder.Service{down}

	e.post("/v3/admin/workers/cleanup", "", "OpenStack-API-Version", "volume 3.23").fault(t, 404, "itemNotFound")
	r := e.post("/v3/admin/workers/cleanup", "").expect(t, http.StatusAccepted)
	sameKeys(t, "answer", r.keys(t), []string{"cleaning", "unavailable"})
	sameKeys(t, "service", r.keys(t, "cleaning", "0"), []string{"id", "host", "binary", "cluster_name"})
	if c, u := r.obj(t, "cleaning", "0"), r.obj(t, "unavailable", "0"); c["host"] != "hostA@fake1" || c["id"] != float64(up.ID) ||
		c["cluster_name"] != nil || u["host"] != "hostB@fake1" {
		t.Fatalf("answer %s", r.raw)
	}
	if req := sched.reqs[0]; req.IsUp || req.Disabled != nil || req.ServiceID != nil || req.Until == nil {
		t.Fatalf("request %+v", req)
	}

	e.post("/v3/admin/workers/cleanup", `{"host": "hostA@fake1", "is_up": "yes", "disabled": false, "binary": "cinder-volume",
		"service_id": "12", "resource_type": "volume", "cluster_name": null}`).expect(t, http.StatusAccepted)
	if req := sched.reqs[1]; req.Host != "hostA@fake1" || !req.IsUp || req.Disabled == nil || *req.Disabled ||
		req.Binary != cinder.BinaryVolume || req.ServiceID == nil || *req.ServiceID != 12 || req.ResourceType != cinder.CleanableVolume {
		t.Fatalf("request %+v", req)
	}
	for body, want := range map[string]string{
		`{"host": ""}`:                       "is too short",
		`{"host": "a b"}`:                    "does not match",
		`{"binary": "cinder-backup"}`:        "is not one of ['cinder-volume', 'cinder-scheduler']",
		`{"is_up": "maybe"}`:                 "is not a boolean",
		`{"resource_type": "backup"}`:        "Invalid input received: Resource type Backup not valid, must be Volume or Snapshot",
		`{"resource_id": "x"}`:               "is not valid under any of the given schemas",
		`{"service_id": "1a"}`:               "does not match '^[0-9]*$'",
		`{"service_id": 1.5}`:                "is not of type 'integer', 'string', 'null'",
		`{"other": 1}`:                       "'other' was unexpected",
		`[]`:                                 "is not of type 'object'",
		`{"resource_id": "` + up.UUID + `"}`: "pending cleanup",
	} {
		if msg := e.post("/v3/admin/workers/cleanup", body).fault(t, 400, "badRequest"); !strings.Contains(msg, want) {
			t.Errorf("%s: %s, want %q", body, msg, want)
		}
	}
}

// TestExtendVolumeCompletionAction: the action exists from 3.71, for
// admins; it completes only an extend that awaits it.
func TestExtendVolumeCompletionAction(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.AuthStrategy = conf.AuthNoAuthRoles })
	v371 := []string{"OpenStack-API-Version", "volume 3.71"}
	vol := e.as(memberP, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 1}}`}).expect(t, 202).obj(t, "volume")["id"].(string)
	action := func(p persona, body string, headers ...string) *response {
		return e.as(p, req{method: "POST", path: "/v3/{p}/volumes/" + vol + "/action", body: body, headers: headers})
	}
	msg := action(adminP, `{"os-extend_volume_completion": {"error": false}}`).fault(t, 400, "badRequest")
	if !strings.HasPrefix(msg, "There is no such action: os-extend_volume_completion") {
		t.Fatalf("below 3.71: %s", msg)
	}
	action(memberP, `{"os-extend_volume_completion": {}}`, v371...).fault(t, 403, "forbidden")
	action(otherP, `{"os-extend_volume_completion": {}}`, v371...).fault(t, 404, "itemNotFound")
	action(adminP, `{"os-extend_volume_completion": {"error": "x"}}`, v371...).fault(t, 400, "badRequest")
	action(adminP, `{"os-extend_volume_completion": {"size": 1}}`, v371...).fault(t, 400, "badRequest")
	if msg := action(adminP, `{"os-extend_volume_completion": {}}`, v371...).fault(t, 400, "badRequest"); !strings.HasPrefix(msg, "Invalid volume: ") {
		t.Fatalf("not extending: %s", msg)
	}
	e.setVolume(vol, func(v *cinder.Volume) { v.Status = cinder.StatusExtending })
	if err := e.store.SetVolumeAdminMetadata(context.Background(), vol, volume.ExtendNewSize, "3"); err != nil {
		t.Fatal(err)
	}
	action(adminP, `{"os-extend_volume_completion": {"error": false}}`, v371...).expect(t, http.StatusAccepted)
	if !slices.Contains(e.volumes.called(), "extend_completion "+vol+" 3 false") {
		t.Fatalf("backend not asked: %v", e.volumes.called())
	}
}
