package api

import (
	"net/http"
	"slices"
	"testing"

	"github.com/cinder-go/cinder"
)

// snapshotKeys are the members of a snapshot's view at 3.64 for an admin
// (Cinder's v3 view and the extended snapshot attributes).
var snapshotKeys = []string{"id", "created_at", "updated_at", "name", "description", "volume_id", "status", "size",
	"metadata", "group_snapshot_id", "user_id", "os-extended-snapshot-attributes:progress",
	"os-extended-snapshot-attributes:project_id"}

// createSnapshot takes a snapshot of volume id through the API, answered
// 202, and returns its view.
func (e *env) createSnapshot(id, extra string) map[string]any {
	e.t.Helper()
	return e.post("/v3/admin/snapshots", `{"snapshot": {"volume_id": "`+id+`", "name": "snap"`+extra+`}}`).
		expect(e.t, http.StatusAccepted).obj(e.t, "snapshot")
}

func TestSnapshotLifecycle(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 2}}`)
	snap := e.createSnapshot(id, `, "description": "d", "metadata": {"k": "v"}`)
	sid := snap["id"].(string)
	if snap["status"] != "creating" || snap["size"] != 2.0 || snap["name"] != "snap" || snap["description"] != "d" ||
		snap["volume_id"] != id || snap["os-extended-snapshot-attributes:progress"] != nil {
		t.Fatalf("create view %v", snap)
	}
	r := e.get("/v3/admin/snapshots/"+sid).expect(t, http.StatusOK)
	sameKeys(t, "snapshot", r.keys(t, "snapshot"), snapshotKeys)
	if p := r.obj(t, "snapshot")["os-extended-snapshot-attributes:progress"]; p != "0%" {
		t.Fatalf("progress %v", p)
	}
	if calls := e.volumes.called(); !slices.Contains(calls, "create_snapshot "+sid) {
		t.Fatalf("cinder-volume calls %v", calls)
	}
	e.setSnapshot(sid, func(s *cinder.Snapshot) { s.Status = cinder.SnapshotAvailable })

	for _, path := range []string{"/v3/admin/snapshots", "/v3/admin/snapshots/detail", "/v3/admin/snapshots?volume_id=" + id,
		"/v3/admin/snapshots?status=available&with_count=true"} {
		list := e.get(path).expect(t, http.StatusOK)
		if items := list.body["snapshots"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != sid {
			t.Fatalf("%s: %s", path, list.raw)
		}
	}
	if n := len(e.get("/v3/admin/snapshots?status=error").body["snapshots"].([]any)); n != 0 {
		t.Fatalf("%d snapshots in error", n)
	}

	upd := e.put("/v3/admin/snapshots/"+sid, `{"snapshot": {"name": "renamed"}}`).expect(t, http.StatusOK).obj(t, "snapshot")
	if upd["name"] != "renamed" || upd["description"] != "d" {
		t.Fatalf("update view %v", upd)
	}

	// Metadata: merge, replace, one key.
	meta := "/v3/admin/snapshots/" + sid + "/metadata"
	if md := e.post(meta, `{"metadata": {"a": "1"}}`).expect(t, http.StatusOK).obj(t, "metadata"); len(md) != 2 {
		t.Fatalf("merged metadata %v", md)
	}
	if md := e.put(meta, `{"metadata": {"b": "2"}}`).expect(t, http.StatusOK).obj(t, "metadata"); len(md) != 1 || md["b"] != "2" {
		t.Fatalf("replaced metadata %v", md)
	}
	e.put(meta+"/c", `{"meta": {"c": "3"}}`).expect(t, http.StatusOK)
	e.put(meta+"/c", `{"meta": {"d": "3"}}`).fault(t, http.StatusBadRequest, "badRequest")
	if got := e.get(meta+"/c").expect(t, http.StatusOK).obj(t, "meta"); got["c"] != "3" {
		t.Fatalf("meta c %v", got)
	}
	e.del(meta+"/c").expect(t, http.StatusOK)
	e.get(meta+"/c").fault(t, http.StatusNotFound, "itemNotFound")

	// A volume with a snapshot is not deleted, unless cascade.
	e.del("/v3/admin/volumes/"+id).fault(t, http.StatusBadRequest, "badRequest")
	e.del("/v3/admin/snapshots/"+sid).expect(t, http.StatusAccepted)
	if st := e.snapshot(sid).Status; st != cinder.SnapshotDeleting {
		t.Fatalf("after delete: %s", st)
	}
	// Nor while a snapshot is deleting, as Cinder's undeletable snapshots.
	e.del("/v3/admin/volumes/"+id+"?cascade=true").fault(t, http.StatusBadRequest, "badRequest")
	e.setSnapshot(sid, func(s *cinder.Snapshot) { s.Status = cinder.SnapshotError })
	e.del("/v3/admin/volumes/"+id+"?cascade=true").expect(t, http.StatusAccepted)
	if st := e.snapshot(sid).Status; st != cinder.SnapshotDeleting {
		t.Fatalf("snapshot after a cascade delete: %s", st)
	}
}

func TestSnapshotBadInput(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	e.setVolume(id, func(v *cinder.Volume) { v.Status = cinder.StatusInUse })
	for _, tc := range []struct {
		body, version string
		status        int
	}{
		{`{"snapshot": {}}`, "", http.StatusBadRequest},
		{`{"snapshot": {"volume_id": "nope"}}`, "", http.StatusBadRequest},
		{`{"snapshot": {"volume_id": "00000000-0000-0000-0000-000000000000"}}`, "", http.StatusNotFound},
		{`{"snapshot": {"volume_id": "` + id + `", "colour": "red"}}`, "", http.StatusBadRequest},
		{`{"snapshot": {"volume_id": "` + id + `"}}`, "", http.StatusBadRequest},                   // in-use without force
		{`{"snapshot": {"volume_id": "` + id + `", "force": "maybe"}}`, "", http.StatusBadRequest}, // not a boolean
		{`{"snapshot": {"volume_id": "` + id + `", "force": false}}`, "volume 3.66", http.StatusBadRequest},
		{`{"snapshot": {"volume_id": "` + id + `", "force": true}}`, "", http.StatusAccepted},
		{`{"snapshot": {"volume_id": "` + id + `"}}`, "volume 3.66", http.StatusAccepted},
	} {
		var headers []string
		if tc.version != "" {
			headers = []string{"OpenStack-API-Version", tc.version}
		}
		if r := e.post("/v3/admin/snapshots", tc.body, headers...); r.status != tc.status {
			t.Errorf("%s at %q: %d, want %d: %s", tc.body, tc.version, r.status, tc.status, r.raw)
		}
	}
	e.get("/v3/admin/snapshots/nope").fault(t, http.StatusNotFound, "itemNotFound")
}

func TestSnapshotActions(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	sid := e.createSnapshot(id, "")["id"].(string)
	action := "/v3/admin/snapshots/" + sid + "/action"
	e.post(action, `{"os-update_snapshot_status": {"status": "available", "progress": "100%"}}`).expect(t, http.StatusAccepted)
	if s := e.snapshot(sid); s.Status != cinder.SnapshotAvailable || s.Progress != "100%" {
		t.Fatalf("after update_snapshot_status: %+v", s)
	}
	e.post(action, `{"os-update_snapshot_status": {"status": "creating"}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.post(action, `{"os-reset_status": {"status": "error"}}`).expect(t, http.StatusAccepted)
	e.post(action, `{"os-reset_status": {"status": "sleeping"}}`).fault(t, http.StatusBadRequest, "badRequest")
	if s := e.snapshot(sid); s.Status != cinder.SnapshotError {
		t.Fatalf("after reset: %s", s.Status)
	}
	e.post(action, `{"os-frobnicate": {}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.post(action, `{"os-force_delete": {}}`).expect(t, http.StatusAccepted)

	// Revert: from 3.40, to the latest snapshot only.
	revert := "/v3/admin/volumes/" + id + "/action"
	newer := e.createSnapshot(id, "")["id"].(string)
	e.setSnapshot(newer, func(s *cinder.Snapshot) { s.Status = cinder.SnapshotAvailable })
	e.post(revert, `{"revert": {"snapshot_id": "`+newer+`"}}`, "OpenStack-API-Version", "volume 3.39").fault(t, http.StatusBadRequest, "badRequest")
	e.post(revert, `{"revert": {"snapshot_id": "`+sid+`"}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.post(revert, `{"revert": {"snapshot_id": "`+newer+`"}}`).expect(t, http.StatusAccepted)
	if v := e.volume(id); v.Status != cinder.StatusReverting {
		t.Fatalf("reverting volume: %s", v.Status)
	}
	msg := e.post(revert, `{"revert": {"snapshot_id": "`+newer+`"}}`).fault(t, http.StatusConflict, "conflictingRequest")
	if msg != "Invalid volume: Can't revert volume "+id+" to its latest snapshot "+newer+". Volume's status must be 'available'." {
		t.Fatalf("conflict message %q", msg)
	}
}

// TestCreateVolumeFromSnapshot: a volume from a snapshot takes its size
// unless larger, and goes to its source's backend.
func TestCreateVolumeFromSnapshot(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false) // in zone nova, the source's
	id := e.createVolume(`{"volume": {"size": 2}}`)
	sid := e.createSnapshot(id, "")["id"].(string)
	e.post("/v3/admin/volumes", `{"volume": {"snapshot_id": "`+sid+`"}}`).fault(t, http.StatusBadRequest, "badRequest") // creating
	e.setSnapshot(sid, func(s *cinder.Snapshot) { s.Status = cinder.SnapshotAvailable })
	v := e.post("/v3/admin/volumes", `{"volume": {"snapshot_id": "`+sid+`"}}`).expect(t, http.StatusAccepted).obj(t, "volume")
	if v["size"] != 2.0 || v["snapshot_id"] != sid {
		t.Fatalf("volume from a snapshot %v", v)
	}
	spec := e.sched.creates[len(e.sched.creates)-1]
	if spec.SnapshotID != sid || spec.ResourceBackend != "hostA@fake1" {
		t.Fatalf("request spec %+v", spec)
	}
	e.post("/v3/admin/volumes", `{"volume": {"size": 1, "snapshot_id": "`+sid+`"}}`).fault(t, http.StatusBadRequest, "badRequest")
	clone := e.post("/v3/admin/volumes", `{"volume": {"source_volid": "`+id+`", "size": 3}}`).expect(t, http.StatusAccepted).obj(t, "volume")
	if clone["size"] != 3.0 || clone["source_volid"] != id {
		t.Fatalf("clone %v", clone)
	}
}
