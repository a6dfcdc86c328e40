package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cinder-go/cinder"
)

var groupKeys = []string{"id", "status", "availability_zone", "created_at", "name", "description", "group_type",
	"volume_types", "group_snapshot_id", "source_group_id", "replication_status", "project_id"}

func TestGroups(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	e.post("/v3/admin/group_types", `{"group_type": {"name": "generic"}}`).expect(t, http.StatusAccepted)
	e.post("/v3/admin/types", `{"volume_type": {"name": "gold"}}`).expect(t, http.StatusOK)
	e.post("/v3/admin/groups", `{"group": {"group_type": "generic", "volume_types": ["gold"]}}`, "OpenStack-API-Version", "volume 3.12").
		fault(t, http.StatusNotFound, "itemNotFound")

	created := e.post("/v3/admin/groups", `{"group": {"name": " g1 ", "description": "d", "group_type": "generic", "volume_types": ["gold", "`+cinder.DefaultVolumeType+`"]}}`)
	created.expect(t, http.StatusAccepted)
	sameKeys(t, "created group", created.keys(t, "group"), []string{"id", "name"})
	id := created.obj(t, "group")["id"].(string)
	if created.obj(t, "group")["name"] != "g1" {
		t.Fatalf("created %s", created.raw)
	}
	shown := e.get("/v3/admin/groups/"+id, "OpenStack-API-Version", "volume 3.64").expect(t, http.StatusOK)
	sameKeys(t, "group", shown.keys(t, "group"), groupKeys)
	g := shown.obj(t, "group")
	if g["status"] != "available" || g["availability_zone"] != "nova" || g["description"] != "d" || len(g["volume_types"].([]any)) != 2 ||
		g["group_snapshot_id"] != nil || g["replication_status"] != "disabled" || g["project_id"] != "admin" {
		t.Fatalf("shown %s", shown.raw)
	}
	sameKeys(t, "group at 3.13", e.get("/v3/admin/groups/"+id, "OpenStack-API-Version", "volume 3.13").keys(t, "group"),
		[]string{"id", "status", "availability_zone", "created_at", "name", "description", "group_type", "volume_types"})
	if n := len(e.get("/v3/admin/groups").body["groups"].([]any)); n != 1 {
		t.Fatalf("%d groups listed", n)
	}
	sameKeys(t, "listed group", e.get("/v3/admin/groups/detail").keys(t, "groups", "0"), groupKeys)

	// A volume of the group: of one of its types, on its backend, group_id shown.
	vol := e.createVolume(`{"volume": {"size": 1, "volume_type": "gold", "group_id": "` + id + `"}}`)
	if v := e.volume(vol); v.GroupID != id {
		t.Fatalf("volume in group %q", v.GroupID)
	}
	if spec := e.sched.creates[len(e.sched.creates)-1]; spec.ResourceBackend != "hostA@fake1" {
		t.Fatalf("volume of the group placed with resource backend %q", spec.ResourceBackend)
	}
	if got := e.get("/v3/admin/volumes/"+vol).obj(t, "volume")["group_id"]; got != id {
		t.Fatalf("volume view group_id %v", got)
	}
	e.post("/v3/admin/volumes", `{"volume": {"size": 1, "group_id": "`+id+`"}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.post("/v3/admin/volumes", `{"volume": {"size": 1, "volume_type": "gold", "group_id": "00000000-0000-0000-0000-000000000000"}}`).
		fault(t, http.StatusNotFound, "itemNotFound")
	msg := e.del("/v3/admin/volumes/"+vol).fault(t, http.StatusBadRequest, "badRequest")
	if !strings.Contains(msg, "belong to a group") {
		t.Fatalf("deleting a grouped volume: %q", msg)
	}
	list := e.get("/v3/admin/groups/"+id+"?list_volume=True", "OpenStack-API-Version", "volume 3.25").obj(t, "group")["volumes"].([]any)
	if len(list) != 1 || list[0] != vol {
		t.Fatalf("group volumes %v", list)
	}

	// Update: remove, add back, rename; the rules of group/api.py.
	other := e.createVolume(`{"volume": {"size": 1}}`)
	e.put("/v3/admin/groups/"+id, `{"group": {"remove_volumes": "`+vol+`"}}`).expect(t, http.StatusAccepted)
	if v := e.volume(vol); v.GroupID != "" {
		t.Fatalf("removed volume still in group %q", v.GroupID)
	}
	e.put("/v3/admin/groups/"+id, `{"group": {"add_volumes": "`+vol+`,`+other+`,", "name": "g2"}}`).expect(t, http.StatusAccepted)
	if v := e.volume(other); v.GroupID != id {
		t.Fatalf("added volume in group %q", v.GroupID)
	}
	if g := e.get("/v3/admin/groups/"+id).obj(t, "group"); g["name"] != "g2" || g["status"] != "available" {
		t.Fatalf("updated group %v", g)
	}
	for _, body := range []string{
		`{"group": {"add_volumes": "` + other + `", "remove_volumes": "` + other + `"}}`, // both lists
		`{"group": {"remove_volumes": "00000000-0000-0000-0000-000000000000"}}`,          // not in the group
		`{"group": {"add_volumes": "00000000-0000-0000-0000-000000000000"}}`,             // no such volume
		`{"group": {"name": "g2"}}`, // nothing changes
		`{"group": {}}`, `{"group": {"size": 1}}`, `{"group": {"name": 1}}`,
	} {
		e.put("/v3/admin/groups/"+id, body).fault(t, http.StatusBadRequest, "badRequest")
	}

	// Delete: refused with volumes unless delete-volumes, which deletes
	// them through the group's backend.
	msg = e.post("/v3/admin/groups/"+id+"/action", `{"delete": {}}`).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Invalid Group: Group "+id+" still contains volumes. The delete-volumes flag is required to delete it." {
		t.Fatalf("delete message %q", msg)
	}
	e.post("/v3/admin/groups/"+id+"/action", `{"delete": {"delete-volumes": true}}`).expect(t, http.StatusAccepted)
	if v := e.volume(vol); v.Status != cinder.StatusDeleting {
		t.Fatalf("volume of a deleted group %s", v.Status)
	}
	if !slices.Contains(e.volumes.called(), "delete_group "+id) {
		t.Fatalf("backend calls %v", e.volumes.called())
	}
	if g := e.get("/v3/admin/groups/"+id).obj(t, "group"); g["status"] != "deleting" {
		t.Fatalf("group %v", g)
	}

	// reset_status (3.20, admin), any status Cinder knows.
	e.post("/v3/admin/groups/"+id+"/action", `{"reset_status": {"status": "Available"}}`, "OpenStack-API-Version", "volume 3.20").expect(t, http.StatusAccepted)
	if g := e.get("/v3/admin/groups/"+id).obj(t, "group"); g["status"] != "available" {
		t.Fatalf("reset group %v", g)
	}
	e.post("/v3/admin/groups/"+id+"/action", `{"reset_status": {"status": "available"}}`, "OpenStack-API-Version", "volume 3.19").fault(t, http.StatusBadRequest, "badRequest")
	e.post("/v3/admin/groups/"+id+"/action", `{"reset_status": {"status": "weird"}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.post("/v3/admin/groups/"+id+"/action", `{"delete": {"delete-volumes": "maybe"}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.post("/v3/admin/groups/"+id+"/action", `{"frobnicate": {}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.post("/v3/admin/groups/00000000-0000-0000-0000-000000000000/action", `{"delete": {}}`).fault(t, http.StatusNotFound, "itemNotFound")

	// Group types in use stay; bad creates are 4xx.
	gt := e.get("/v3/admin/group_types").obj(t, "group_types", "0")["id"].(string)
	if msg := e.del("/v3/admin/group_types/"+gt).fault(t, http.StatusBadRequest, "badRequest"); msg != "Target group type is still in use." {
		t.Fatalf("deleting a group type in use: %q", msg)
	}
	for body, status := range map[string]int{
		`{"group": {"group_type": "generic"}}`:                                                        400,
		`{"group": {"group_type": "generic", "volume_types": []}}`:                                    400,
		`{"group": {"group_type": "generic", "volume_types": ["gold", "gold"]}}`:                      400,
		`{"group": {"group_type": "generic", "volume_types": "gold"}}`:                                400,
		`{"group": {"group_type": "generic", "volume_types": ["gold"], "size": 1}}`:                   400,
		`{"group": {"group_type": "nope", "volume_types": ["gold"]}}`:                                 404,
		`{"group": {"group_type": "generic", "volume_types": ["nope"]}}`:                              404,
		`{"group": {"group_type": "generic", "volume_types": ["gold"], "availability_zone": "mars"}}`: 400,
	} {
		if r := e.post("/v3/admin/groups", body); r.status != status {
			t.Errorf("POST %s: %d, want %d: %s", body, r.status, status, r.raw)
		}
	}
}

func TestGroupQuota(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.QuotaGroups = 1 })
	e.post("/v3/admin/group_types", `{"group_type": {"name": "generic"}}`).expect(t, http.StatusAccepted)
	body := `{"group": {"group_type": "generic", "volume_types": ["` + cinder.DefaultVolumeType + `"]}}`
	id := e.post("/v3/admin/groups", body).expect(t, http.StatusAccepted).obj(t, "group")["id"].(string)
	msg := e.post("/v3/admin/groups", body).fault(t, http.StatusRequestEntityTooLarge, "overLimit")
	if msg != "GroupLimitExceeded: Maximum number of groups allowed (1) exceeded" {
		t.Fatalf("over quota message %q", msg)
	}
	usage := e.get("/v3/admin/os-quota-sets/admin?usage=True").obj(t, "quota_set", "groups")
	if usage["in_use"] != float64(1) {
		t.Fatalf("groups usage %v", usage)
	}
	e.post("/v3/admin/groups/"+id+"/action", `{"delete": {}}`).expect(t, http.StatusAccepted)
}
