package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

var groupSnapshotKeys = []string{"id", "group_id", "group_type_id", "status", "created_at", "name", "description", "project_id"}

// groupWithVolume creates a group of type generic and volume type gold
// with one volume, and returns the group's and the volume's ids.
func (e *env) groupWithVolume() (string, string) {
	e.t.Helper()
	e.post("/v3/admin/group_types", `{"group_type": {"name": "generic"}}`).expect(e.t, http.StatusAccepted)
	e.post("/v3/admin/types", `{"volume_type": {"name": "gold"}}`).expect(e.t, http.StatusOK)
	id := e.post("/v3/admin/groups", `{"group": {"group_type": "generic", "volume_types": ["gold"]}}`).
		expect(e.t, http.StatusAccepted).obj(e.t, "group")["id"].(string)
	return id, e.createVolume(`{"volume": {"size": 1, "volume_type": "gold", "group_id": "` + id + `"}}`)
}

// setGroupSnapshotStatus sets group snapshot id's status and its snapshots'.
func (e *env) setGroupSnapshotStatus(id, status string) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.store.UpdateGroupSnapshot(ctx, id, func(gs *cinder.GroupSnapshot) error { gs.Status = status; return nil }); err != nil {
		e.t.Fatal(err)
	}
	snaps, err := e.store.ListSnapshots(ctx, db.SnapshotFilter{GroupSnapshot: id})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range snaps {
		e.setSnapshot(s.ID, func(s *cinder.Snapshot) { s.Status = status })
	}
}

func TestGroupSnapshots(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	group, vol := e.groupWithVolume()
	body := `{"group_snapshot": {"group_id": "` + group + `", "name": "gs", "description": "d"}}`
	e.post("/v3/admin/group_snapshots", body, "OpenStack-API-Version", "volume 3.13").fault(t, http.StatusNotFound, "itemNotFound")

	created := e.post("/v3/admin/group_snapshots", body).expect(t, http.StatusAccepted)
	sameKeys(t, "created group snapshot", created.keys(t, "group_snapshot"), []string{"id", "name", "group_type_id"})
	id := created.obj(t, "group_snapshot")["id"].(string)
	if !slices.Contains(e.volumes.called(), "create_group_snapshot "+id) {
		t.Fatalf("backend calls %v", e.volumes.called())
	}
	shown := e.get("/v3/admin/group_snapshots/"+id, "OpenStack-API-Version", "volume 3.58").expect(t, http.StatusOK)
	sameKeys(t, "group snapshot", shown.keys(t, "group_snapshot"), groupSnapshotKeys)
	gs := shown.obj(t, "group_snapshot")
	if gs["status"] != "creating" || gs["group_id"] != group || gs["name"] != "gs" || gs["description"] != "d" || gs["project_id"] != "admin" {
		t.Fatalf("shown %s", shown.raw)
	}
	sameKeys(t, "group snapshot at 3.14", e.get("/v3/admin/group_snapshots/"+id, "OpenStack-API-Version", "volume 3.14").keys(t, "group_snapshot"),
		groupSnapshotKeys[:7])
	snaps := e.get("/v3/admin/snapshots/detail?volume_id="+vol).expect(t, http.StatusOK).body["snapshots"].([]any)
	if len(snaps) != 1 || snaps[0].(map[string]any)["group_snapshot_id"] != id || snaps[0].(map[string]any)["status"] != "creating" {
		t.Fatalf("snapshots of the group's volume %v", snaps)
	}
	snap := snaps[0].(map[string]any)["id"].(string)

	// Lists: summaries of id and name; detail; filters and paging from 3.29.
	sameKeys(t, "listed group snapshot", e.get("/v3/admin/group_snapshots").keys(t, "group_snapshots", "0"), []string{"id", "name"})
	sameKeys(t, "listed detail", e.get("/v3/admin/group_snapshots/detail", "OpenStack-API-Version", "volume 3.58").keys(t, "group_snapshots", "0"), groupSnapshotKeys)
	for query, want := range map[string]int{"?status=creating": 1, "?status=available": 0, "?group_id=" + group: 1, "?name=nope": 0, "?limit=0": 0, "?bogus=1": 0} {
		if n := len(e.get("/v3/admin/group_snapshots" + query).body["group_snapshots"].([]any)); n != want {
			t.Errorf("%s listed %d, want %d", query, n, want)
		}
	}
	if n := len(e.get("/v3/admin/group_snapshots?status=available", "OpenStack-API-Version", "volume 3.28").body["group_snapshots"].([]any)); n != 1 {
		t.Errorf("filters applied before 3.29: %d listed", n)
	}
	if links := e.get("/v3/admin/group_snapshots?limit=1").body["group_snapshot_links"]; links == nil {
		t.Error("a full page has no group_snapshot_links")
	}
	e.get("/v3/admin/group_snapshots?marker=00000000-0000-0000-0000-000000000000").fault(t, http.StatusNotFound, "itemNotFound")
	e.cfg.AuthStrategy = "noauth_roles"
	e.get("/v3/p1/group_snapshots?status=creating", "X-Auth-Token", "u:p1", "X-Roles", "member").expect(t, http.StatusOK)
	if n := len(e.get("/v3/p1/group_snapshots", "X-Auth-Token", "u:p1", "X-Roles", "member").body["group_snapshots"].([]any)); n != 0 {
		t.Fatalf("another project lists %d group snapshots", n)
	}
	e.get("/v3/p1/group_snapshots/"+id, "X-Auth-Token", "u:p1", "X-Roles", "member").fault(t, http.StatusNotFound, "itemNotFound")
	e.post("/v3/admin/group_snapshots/"+id+"/action", `{"reset_status": {"status": "error"}}`, "X-Auth-Token", "u:admin", "X-Roles", "member").
		fault(t, http.StatusForbidden, "forbidden")
	e.cfg.AuthStrategy = "noauth"

	// Its snapshots cannot be deleted alone; nor can its group, nor can it while creating.
	e.del("/v3/admin/snapshots/"+snap).fault(t, http.StatusBadRequest, "badRequest")
	if msg := e.post("/v3/admin/groups/"+group+"/action", `{"delete": {"delete-volumes": true}}`).fault(t, http.StatusBadRequest, "badRequest"); msg != "Invalid Group: Group has existing snapshots." {
		t.Fatalf("delete of a group with a group snapshot: %q", msg)
	}
	e.del("/v3/admin/group_snapshots/"+id).fault(t, http.StatusBadRequest, "badRequest")

	// reset_status: 3.19, admin, a status of GroupSnapshotStatus.
	reset := func(status, version string) *response {
		return e.post("/v3/admin/group_snapshots/"+id+"/action", `{"reset_status": {"status": "`+status+`"}}`, "OpenStack-API-Version", "volume "+version)
	}
	reset("available", "3.18").fault(t, http.StatusNotFound, "itemNotFound")
	reset("bogus", "3.19").fault(t, http.StatusBadRequest, "badRequest")
	reset("", "3.19").fault(t, http.StatusBadRequest, "badRequest")
	e.post("/v3/admin/group_snapshots/00000000-0000-0000-0000-000000000000/action", `{"reset_status": {"status": "error"}}`).fault(t, http.StatusNotFound, "itemNotFound")
	for _, bad := range []string{`{"reset_status": {}}`, `{"reset_status": {"status": 1}}`, `{"reset_status": {"status": "error", "x": 1}}`, `{"frob": {}}`, `[]`} {
		e.post("/v3/admin/group_snapshots/"+id+"/action", bad).fault(t, http.StatusBadRequest, "badRequest")
	}
	reset("Available", "3.19").expect(t, http.StatusAccepted)
	if got := e.get("/v3/admin/group_snapshots/"+id).obj(t, "group_snapshot")["status"]; got != "available" {
		t.Fatalf("after reset: %v", got)
	}
	e.setGroupSnapshotStatus(id, "available")

	e.del("/v3/admin/group_snapshots/"+id, "OpenStack-API-Version", "volume 3.13").fault(t, http.StatusNotFound, "itemNotFound")
	e.del("/v3/admin/group_snapshots/00000000-0000-0000-0000-000000000000").fault(t, http.StatusNotFound, "itemNotFound")
	e.del("/v3/admin/group_snapshots/"+id).expect(t, http.StatusAccepted)
	if got := e.get("/v3/admin/group_snapshots/"+id).obj(t, "group_snapshot")["status"]; got != "deleting" {
		t.Fatalf("after delete: %v", got)
	}
	if s := e.snapshot(snap); s.Status != cinder.SnapshotDeleting {
		t.Fatalf("snapshot of a deleted group snapshot %s", s.Status)
	}
	if !slices.Contains(e.volumes.called(), "delete_group_snapshot "+id) {
		t.Fatalf("backend calls %v", e.volumes.called())
	}
}

func TestGroupSnapshotCreateFaults(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	group, vol := e.groupWithVolume()
	for body, code := range map[string]int{
		`{"group_snapshot": {}}`:                                                                        http.StatusBadRequest,
		`{"group_snapshot": {"group_id": "nope"}}`:                                                      http.StatusBadRequest,
		`{"group_snapshot": {"group_id": 1}}`:                                                           http.StatusBadRequest,
		`{"group_snapshot": {"group_id": "` + group + `", "x": 1}}`:                                     http.StatusBadRequest,
		`{"group_snapshot": {"group_id": "` + group + `", "name": 1}}`:                                  http.StatusBadRequest,
		`{"group_snapshot": {"group_id": "` + group + `", "name": "` + strings.Repeat("n", 256) + `"}}`: http.StatusBadRequest,
		`{"group_snapshot": "x"}`:                                                                       http.StatusBadRequest,
		`{"snapshot": {}}`:                                                                              http.StatusBadRequest,
		`{"group_snapshot": {"group_id": "00000000-0000-0000-0000-000000000000"}}`:                      http.StatusNotFound,
	} {
		resp := e.post("/v3/admin/group_snapshots", body)
		if resp.status != code {
			t.Errorf("%s: %d %s, want %d", body, resp.status, resp.raw, code)
		}
	}
	e.setVolume(vol, func(v *cinder.Volume) { v.Status = cinder.StatusError })
	msg := e.post("/v3/admin/group_snapshots", `{"group_snapshot": {"group_id": "`+group+`"}}`).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Invalid volume: The snapshot cannot be created when the volume is in error status." {
		t.Fatalf("snapshot of a group with a volume in error: %q", msg)
	}
}

func TestCreateGroupFromSrcAPI(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	group, _ := e.groupWithVolume()
	gsID := e.post("/v3/admin/group_snapshots", `{"group_snapshot": {"group_id": "`+group+`"}}`).expect(t, http.StatusAccepted).
		obj(t, "group_snapshot")["id"].(string)
	e.setGroupSnapshotStatus(gsID, "available")

	from := func(body string, version ...string) *response {
		return e.post("/v3/admin/groups/action", body, append([]string{"OpenStack-API-Version", "volume 3.14"}, version...)...)
	}
	e.post("/v3/admin/groups/action", `{"create-from-src": {"group_snapshot_id": "`+gsID+`"}}`, "OpenStack-API-Version", "volume 3.13").
		fault(t, http.StatusNotFound, "itemNotFound")
	for _, body := range []string{
		`{"create-from-src": {"group_snapshot_id": "` + gsID + `", "source_group_id": "` + group + `"}}`,
		`{"create-from-src": {"name": "x"}}`,
		`{"create-from-src": {"group_snapshot_id": "nope"}}`,
		`{"create-from-src": {"group_snapshot_id": null}}`,
		`{"create-from-src": {"source_group_id": "` + group + `", "size": 1}}`,
		`{"create-from-src": {"source_group_id": "` + group + `", "name": 5}}`,
		`{"create-from-src": []}`, `{"frob": {}}`, `{}`,
	} {
		from(body).fault(t, http.StatusBadRequest, "badRequest")
	}
	from(`{"create-from-src": {"group_snapshot_id": "00000000-0000-0000-0000-000000000000"}}`).fault(t, http.StatusNotFound, "itemNotFound")
	from(`{"create-from-src": {"source_group_id": "00000000-0000-0000-0000-000000000000"}}`).fault(t, http.StatusNotFound, "itemNotFound")

	for _, src := range []string{`"group_snapshot_id": "` + gsID + `"`, `"source_group_id": "` + group + `"`} {
		created := from(`{"create-from-src": {`+src+`, "name": " copy ", "description": null}}`).expect(t, http.StatusAccepted)
		sameKeys(t, "created group", created.keys(t, "group"), []string{"id", "name"})
		g := created.obj(t, "group")
		if g["name"] != "copy" {
			t.Fatalf("created %s", created.raw)
		}
		shown := e.get("/v3/admin/groups/"+g["id"].(string)).obj(t, "group")
		if shown["status"] != "creating" || (shown["group_snapshot_id"] == nil) == (shown["source_group_id"] == nil) {
			t.Fatalf("group made from %s: %v", src, shown)
		}
		if !slices.Contains(e.volumes.called(), "create_group_from_src "+g["id"].(string)) {
			t.Fatalf("backend calls %v", e.volumes.called())
		}
	}

	// A backend without room for the volumes refuses, leaving no group.
	groups := len(e.get("/v3/admin/groups").listedIDs(t, "groups"))
	e.sched.full = true
	if msg := from(`{"create-from-src": {"source_group_id": "`+group+`"}}`).fault(t, http.StatusBadRequest, "badRequest"); !strings.Contains(msg, "No valid host to create group") {
		t.Fatalf("no room on the backend: %q", msg)
	}
	if n := len(e.get("/v3/admin/groups").listedIDs(t, "groups")); n != groups {
		t.Fatalf("%d groups after a refused create-from-src, want %d", n, groups)
	}
	e.sched.full = false

	// As Cinder's controller, a Cinder exception is a 400: over quota too.
	e.put("/v3/admin/os-quota-sets/admin", `{"quota_set": {"groups": 1}}`).expect(t, http.StatusOK)
	if msg := from(`{"create-from-src": {"source_group_id": "`+group+`"}}`).fault(t, http.StatusBadRequest, "badRequest"); !strings.Contains(msg, "groups") {
		t.Fatalf("over the groups quota: %q", msg)
	}
}
