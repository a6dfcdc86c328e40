package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
)

// The attachment RPCs of fakeVolumes record "method volume [attachment]";
// an update answers a local connection info.

func (f *fakeVolumes) AttachmentUpdate(ctx context.Context, v *cinder.Volume, connector map[string]any, id string) (json.RawMessage, error) {
	f.record("attachment_update " + v.ID + " " + id)
	if f.connErr != nil {
		return nil, f.connErr
	}
	return json.RawMessage(`{"device_path": "/dev/fake/` + v.ID + `", "driver_volume_type": "local", "attachment_id": "` + id + `"}`), nil
}

func (f *fakeVolumes) AttachmentDelete(ctx context.Context, v *cinder.Volume, id string) error {
	f.record("attachment_delete " + v.ID + " " + id)
	return f.connErr
}

func (f *fakeVolumes) AttachVolume(ctx context.Context, v *cinder.Volume, req cinder.Attach) (*cinder.Attachment, error) {
	f.record("attach " + v.ID)
	return &cinder.Attachment{VolumeID: v.ID}, f.castErr
}

func (f *fakeVolumes) DetachVolume(ctx context.Context, v *cinder.Volume, id string) error {
	f.record("detach " + v.ID + " " + id)
	return f.castErr
}

// attachmentKeys are the members of an attachment's detailed view.
var attachmentKeys = []string{"id", "status", "instance", "volume_id", "attached_at", "detached_at", "attach_mode", "connection_info"}

// v354 asks for microversion 3.54, where attachments take a mode.
var v354 = []string{"OpenStack-API-Version", "volume 3.54"}

func TestAttachmentLifecycle(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	const server = "3b8b6631-1cf7-4fd7-9afb-c01e541a073c"
	r := e.post("/v3/admin/attachments", `{"attachment": {"volume_uuid": "`+id+`", "instance_uuid": "`+server+`"}}`, v354...).expect(t, http.StatusOK)
	sameKeys(t, "attachment", r.keys(t, "attachment"), attachmentKeys)
	att := r.obj(t, "attachment")
	aid := att["id"].(string)
	if att["status"] != "reserved" || att["instance"] != server || att["volume_id"] != id || att["attached_at"] != "" ||
		att["attach_mode"] != "null" || att["connection_info"] != nil {
		t.Fatalf("reserved attachment %s", r.raw)
	}
	if v := e.volume(id); v.Status != cinder.StatusReserved {
		t.Fatalf("volume after a reservation: %s", v.Status)
	}
	if calls := e.volumes.called(); len(calls) != 0 {
		t.Fatalf("a reservation asked cinder-volume %v", calls)
	}

	upd := e.put("/v3/admin/attachments/"+aid, `{"attachment": {"connector": {"host": "node1", "mountpoint": "/dev/vdb"}}}`, v354...).
		expect(t, http.StatusOK)
	if info := upd.obj(t, "attachment", "connection_info"); info["device_path"] != "/dev/fake/"+id || info["attachment_id"] != aid {
		t.Fatalf("update %s", upd.raw)
	}
	// os-complete from 3.44 only.
	complete := "/v3/admin/attachments/" + aid + "/action"
	e.post(complete, `{"os-complete": null}`, "OpenStack-API-Version", "volume 3.43").fault(t, http.StatusNotFound, "itemNotFound")
	if r := e.post(complete, `{"os-complete": null}`, v354...).expect(t, http.StatusNoContent); len(r.raw) != 0 {
		t.Fatalf("os-complete answered %s", r.raw)
	}
	if v := e.volume(id); v.Status != cinder.StatusInUse || v.AttachStatus != cinder.AttachAttached {
		t.Fatalf("volume after os-complete: %s/%s", v.Status, v.AttachStatus)
	}

	// The volume lists the attached attachment, as Cinder's view.
	at := time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.UTC)
	if _, _, err := e.store.UpdateAttachment(context.Background(), aid, func(a *cinder.Attachment, _ *cinder.Volume) error {
		a.AttachedHost, a.Mountpoint, a.AttachTime = "node1", "/dev/vdb", &at
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	show := e.get("/v3/admin/volumes/"+id).expect(t, http.StatusOK)
	sameKeys(t, "volume attachment", show.keys(t, "volume", "attachments", "0"),
		[]string{"id", "attachment_id", "volume_id", "server_id", "host_name", "device", "attached_at"})
	va := show.obj(t, "volume", "attachments", "0")
	if va["id"] != id || va["attachment_id"] != aid || va["server_id"] != server || va["host_name"] != "node1" ||
		va["device"] != "/dev/vdb" || va["attached_at"] != "2026-01-02T03:04:05.600000" || show.obj(t, "volume")["status"] != "in-use" {
		t.Fatalf("volume view %s", show.raw)
	}
	detail := e.get("/v3/admin/volumes/detail").expect(t, http.StatusOK)
	if va := detail.obj(t, "volumes", "0", "attachments", "0"); va["attachment_id"] != aid {
		t.Fatalf("volume list %s", detail.raw)
	}

	for path, n := range map[string]int{
		"/v3/admin/attachments":                          1,
		"/v3/admin/attachments/detail":                   1,
		"/v3/admin/attachments?volume_id=" + id:          1,
		"/v3/admin/attachments?instance_id=" + server:    1,
		"/v3/admin/attachments?attach_status=attached":   1,
		"/v3/admin/attachments?attach_status=reserved":   0,
		"/v3/admin/attachments?status=attached":          0, // Cinder: volume_attachment has no status column
		"/v3/admin/attachments?all_tenants=1&limit=1":    1,
		"/v3/admin/attachments?all_tenants=1&project_id": 1,
	} {
		list := e.get(path, v354...).expect(t, http.StatusOK)
		if items := list.body["attachments"].([]any); len(items) != n {
			t.Errorf("%s: %d attachments, want %d: %s", path, len(items), n, list.raw)
		}
	}
	sameKeys(t, "summary", e.get("/v3/admin/attachments", v354...).keys(t, "attachments", "0"), attachmentKeys[:4])
	sameKeys(t, "detail", e.get("/v3/admin/attachments/detail", v354...).keys(t, "attachments", "0"), attachmentKeys)
	if got := e.get("/v3/admin/attachments/"+aid, v354...).expect(t, http.StatusOK).obj(t, "attachment"); got["status"] != "attached" {
		t.Fatalf("show %v", got)
	}

	// An attached volume is not deleted, even by force.
	msg := e.del("/v3/admin/volumes/"+id).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer." {
		t.Fatalf("delete of an attached volume: %q", msg)
	}
	e.post("/v3/admin/volumes/"+id+"/action", `{"os-force_delete": {}}`).fault(t, http.StatusBadRequest, "badRequest")

	left := e.del("/v3/admin/attachments/"+aid, v354...).expect(t, http.StatusOK)
	if items, ok := left.body["attachments"].([]any); !ok || len(items) != 0 {
		t.Fatalf("delete answered %s", left.raw)
	}
	if v := e.volume(id); v.Status != cinder.StatusAvailable || v.AttachStatus != cinder.AttachDetached {
		t.Fatalf("volume after the last attachment went: %s/%s", v.Status, v.AttachStatus)
	}
	want := []string{"attachment_update " + id + " " + aid, "attachment_delete " + id + " " + aid}
	if calls := e.volumes.called(); !slices.Equal(calls, want) {
		t.Fatalf("cinder-volume calls %v, want %v", calls, want)
	}
	e.get("/v3/admin/attachments/"+aid, v354...).fault(t, http.StatusNotFound, "itemNotFound")
	if got := e.get("/v3/admin/volumes/"+id).obj(t, "volume"); len(got["attachments"].([]any)) != 0 {
		t.Fatalf("volume attachments after delete %v", got["attachments"])
	}
}

func TestAttachmentBadInput(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	e.get("/v3/admin/attachments", "OpenStack-API-Version", "volume 3.26").fault(t, http.StatusNotFound, "itemNotFound")
	e.post("/v3/admin/attachments", `{"attachment": {"volume_uuid": "`+id+`"}}`, "OpenStack-API-Version", "volume 3.26").
		fault(t, http.StatusNotFound, "itemNotFound")
	for _, tc := range []struct {
		body, version string
		status        int
	}{
		{`{"attachment": {}}`, "", http.StatusBadRequest},
		{`{"attachment": {"volume_uuid": "nope"}}`, "", http.StatusBadRequest},
		{`{"attachment": {"volume_uuid": null}}`, "", http.StatusBadRequest},
		{`{"attachment": {"volume_uuid": "00000000-0000-0000-0000-000000000000"}}`, "", http.StatusNotFound},
		{`{"attachment": {"volume_uuid": "` + id + `", "instance_uuid": "x"}}`, "", http.StatusBadRequest},
		{`{"attachment": {"volume_uuid": "` + id + `", "connector": "c"}}`, "", http.StatusBadRequest},
		{`{"attachment": {"volume_uuid": "` + id + `", "mode": "rw"}}`, "volume 3.53", http.StatusBadRequest},
		{`{"attachment": {"volume_uuid": "` + id + `", "mode": "wo"}}`, "", http.StatusBadRequest},
		{`{"attachment": {"volume_uuid": "` + id + `"}, "extra": 1}`, "", http.StatusBadRequest},
		{`{"attachment": []}`, "", http.StatusBadRequest},
		{`{"attachment": {"volume_uuid": "` + id + `", "mode": "ro", "connector": null}}`, "", http.StatusOK},
		{`{"attachment": {"volume_uuid": "` + id + `"}}`, "", http.StatusBadRequest}, // reserved by the one before
	} {
		version := cmpOr(tc.version, "volume 3.54")
		if r := e.post("/v3/admin/attachments", tc.body, "OpenStack-API-Version", version); r.status != tc.status {
			t.Errorf("%s at %s: %d, want %d: %s", tc.body, version, r.status, tc.status, r.raw)
		}
	}
	aid := e.get("/v3/admin/attachments", v354...).obj(t, "attachments", "0")["id"].(string)
	for _, body := range []string{`{"attachment": {}}`, `{"attachment": {"connector": {}}}`, `{"attachment": {"connector": 1}}`,
		`{"attachment": {"connector": {"host": "h"}, "mode": "rw"}}`, `{}`} {
		e.put("/v3/admin/attachments/"+aid, body, v354...).fault(t, http.StatusBadRequest, "badRequest")
	}
	e.put("/v3/admin/attachments/00000000-0000-0000-0000-000000000000", `{"attachment": {"connector": {"host": "h"}}}`, v354...).
		fault(t, http.StatusNotFound, "itemNotFound")
	e.del("/v3/admin/attachments/nope", v354...).fault(t, http.StatusNotFound, "itemNotFound")
	e.post("/v3/admin/attachments/"+aid+"/action", `{"os-frobnicate": null}`, v354...).fault(t, http.StatusBadRequest, "badRequest")
	e.post("/v3/admin/attachments/nope/action", `{"os-complete": null}`, v354...).fault(t, http.StatusNotFound, "itemNotFound")
	e.get("/v3/admin/attachments?sort=size", v354...).fault(t, http.StatusBadRequest, "badRequest")
	e.get("/v3/admin/attachments?limit=x", v354...).fault(t, http.StatusBadRequest, "badRequest")
	e.get("/v3/admin/attachments?marker=nope", v354...).fault(t, http.StatusNotFound, "itemNotFound")

	// A volume in error takes no attachment.
	e.setVolume(id, func(v *cinder.Volume) { v.Status = cinder.StatusError })
	msg := e.put("/v3/admin/attachments/"+aid, `{"attachment": {"connector": {"host": "h"}}}`, v354...).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Invalid volume: Volume attachments can not be updated if the volume is in an error state. The Volume "+id+" currently has a status of: error " {
		t.Fatalf("update in error: %q", msg)
	}
	// A backend failure is Cinder's 500.
	e.setVolume(id, func(v *cinder.Volume) { v.Status = cinder.StatusReserved })
	e.volumes.connErr = cinder.VolumeBackendAPIException("no export")
	msg = e.put("/v3/admin/attachments/"+aid, `{"attachment": {"connector": {"host": "h"}}}`, v354...).fault(t, http.StatusInternalServerError, "computeFault")
	if msg != "Unable to update attachment.(Bad or unexpected response from the storage volume backend API: no export)." {
		t.Fatalf("backend failure: %q", msg)
	}
}

// cmpOr is a, or b when a is empty.
func cmpOr(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

// TestAttachActions drives the volume actions of the attach family.
func TestAttachActions(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	action := "/v3/admin/volumes/" + id + "/action"
	e.post(action, `{"os-reserve": {}}`).expect(t, http.StatusAccepted)
	if st := e.volume(id).Status; st != cinder.StatusAttaching {
		t.Fatalf("after os-reserve: %s", st)
	}
	msg := e.post(action, `{"os-reserve": null}`).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Invalid volume: Volume status must be available to reserve, but the status is attaching." {
		t.Fatalf("reserve twice: %q", msg)
	}
	e.post(action, `{"os-unreserve": {}}`).expect(t, http.StatusAccepted)
	if st := e.volume(id).Status; st != cinder.StatusAvailable {
		t.Fatalf("after os-unreserve: %s", st)
	}
	e.post(action, `{"os-begin_detaching": {}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.setVolume(id, func(v *cinder.Volume) { v.Status, v.AttachStatus = cinder.StatusInUse, cinder.AttachAttached })
	e.post(action, `{"os-begin_detaching": {}}`).expect(t, http.StatusAccepted)
	if st := e.volume(id).Status; st != cinder.StatusDetaching {
		t.Fatalf("after os-begin_detaching: %s", st)
	}
	e.post(action, `{"os-roll_detaching": {}}`).expect(t, http.StatusAccepted)
	if st := e.volume(id).Status; st != cinder.StatusInUse {
		t.Fatalf("after os-roll_detaching: %s", st)
	}
	e.setVolume(id, func(v *cinder.Volume) { v.Status, v.AttachStatus = cinder.StatusAvailable, cinder.AttachDetached })

	const server = "3b8b6631-1cf7-4fd7-9afb-c01e541a073c"
	e.post(action, `{"os-attach": {"instance_uuid": "`+server+`", "mountpoint": "/dev/vdb", "mode": "rw"}}`).expect(t, http.StatusAccepted)
	e.post(action, `{"os-attach": {"host_name": "node1", "mountpoint": "/dev/vdb"}}`).expect(t, http.StatusAccepted)
	for _, body := range []string{`{"os-attach": {"instance_uuid": "` + server + `"}}`, `{"os-attach": {"mountpoint": "/dev/vdb"}}`,
		`{"os-attach": {"instance_uuid": "x", "mountpoint": "/dev/vdb"}}`, `{"os-attach": {"host_name": "h", "mountpoint": ""}}`,
		`{"os-attach": {"host_name": "h", "mountpoint": "/dev/vdb", "mode": "wo"}}`, `{"os-attach": {"host_name": "h", "mountpoint": "/m", "x": 1}}`,
		`{"os-attach": null}`, `{"os-detach": {"attachment_id": "x"}}`, `{"os-detach": {"other": 1}}`, `{"os-detach": 7}`,
		`{"os-force_detach": {"connector": 7}}`, `{"os-force_detach": {"attachment_id": 7}}`} {
		e.post(action, body).fault(t, http.StatusBadRequest, "badRequest")
	}
	e.post(action, `{"os-detach": null}`).expect(t, http.StatusAccepted)
	e.post(action, `{"os-detach": {"attachment_id": null}}`).expect(t, http.StatusAccepted)
	e.post(action, `{"os-force_detach": {"connector": {"host": "node1"}}}`).expect(t, http.StatusAccepted)
	e.post(action, `{"os-force_detach": {"connector": "node1", "attachment_id": null}}`).expect(t, http.StatusAccepted)
	want := []string{"attach " + id, "attach " + id, "detach " + id + " ", "detach " + id + " ",
		"terminate " + id, "detach " + id + " ", "terminate " + id, "detach " + id + " "}
	if calls := e.volumes.called(); !slices.Equal(calls, want) {
		t.Fatalf("cinder-volume calls %v, want %v", calls, want)
	}
	e.post("/v3/admin/volumes/xxx/action", `{"os-detach": {}}`).fault(t, http.StatusNotFound, "itemNotFound")
	e.post("/v3/admin/volumes/00000000-0000-0000-0000-000000000000/action", `{"os-reserve": {}}`).fault(t, http.StatusNotFound, "itemNotFound")
}

// TestAttachmentsOfOtherProjects: a member sees its project's attachments
// only, no host name in a volume's view, and may not use other filters
// from 3.31.
func TestAttachmentsOfOtherProjects(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.AuthStrategy = conf.AuthNoAuthRoles })
	mine := e.as(memberP, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 1}}`}).
		expect(t, http.StatusAccepted).obj(t, "volume")["id"].(string)
	theirs := e.as(otherP, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 1}}`}).
		expect(t, http.StatusAccepted).obj(t, "volume")["id"].(string)
	var ids []string // mine, then theirs
	for i, p := range []persona{memberP, otherP} {
		vol := []string{mine, theirs}[i]
		a := e.as(p, req{method: "POST", path: "/v3/{p}/attachments", body: `{"attachment": {"volume_uuid": "` + vol + `"}}`}).
			expect(t, http.StatusOK).obj(t, "attachment")["id"].(string)
		e.as(p, req{method: "POST", path: "/v3/{p}/attachments/" + a + "/action", body: `{"os-complete": null}`}).expect(t, http.StatusNoContent)
		ids = append(ids, a)
	}
	if _, _, err := e.store.UpdateAttachment(context.Background(), ids[0], func(a *cinder.Attachment, _ *cinder.Volume) error {
		a.AttachedHost = "node1"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	list := e.as(memberP, req{method: "GET", path: "/v3/{p}/attachments?all_tenants=1"}).expect(t, http.StatusOK)
	if items := list.body["attachments"].([]any); len(items) != 1 || items[0].(map[string]any)["volume_id"] != mine {
		t.Fatalf("member's list %s", list.raw)
	}
	for _, id := range ids {
		code := http.StatusOK
		if id != ids[0] {
			code = http.StatusNotFound
		}
		e.as(memberP, req{method: "GET", path: "/v3/{p}/attachments/" + id}).expect(t, code)
	}
	if va := e.as(memberP, req{method: "GET", path: "/v3/{p}/volumes/" + mine}).obj(t, "volume", "attachments", "0"); va["host_name"] != nil {
		t.Fatalf("a member sees the host name %v", va)
	}
	if va := e.as(adminP, req{method: "GET", path: "/v3/{p}/volumes/" + mine}).obj(t, "volume", "attachments", "0"); va["host_name"] != "node1" {
		t.Fatalf("an admin sees host name %v", va["host_name"])
	}
	msg := e.as(memberP, req{method: "GET", path: "/v3/{p}/attachments?mountpoint=x&instance_uuid=y"}).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Invalid filters instance_uuid,mountpoint are found in query options." {
		t.Fatalf("invalid filters: %q", msg)
	}
	old := e.as(memberP, req{method: "GET", path: "/v3/{p}/attachments?mountpoint=x", headers: []string{"OpenStack-API-Version", "volume 3.30"}}).
		expect(t, http.StatusOK)
	if items := old.body["attachments"].([]any); len(items) != 1 {
		t.Fatalf("before 3.31 an unknown filter is dropped: %s", old.raw)
	}
}

// TestAttachmentListFilters: attachment lists filter through Cinder's
// general filtering with resource_filters.json's attachment entry: a
// non-admin by volume_id, status, instance_id and attach_status (others
// 400 from 3.31, dropped before); an admin by any column of
// volume_attachment, instance_id read as instance_uuid, and a key naming
// no column (status among them) or a like filter selects none.
func TestAttachmentListFilters(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.AuthStrategy = conf.AuthNoAuthRoles })
	const server = "3b8b6631-1cf7-4fd7-9afb-c01e541a073c"
	attach := func(instance string) (vol, att string) {
		vol = e.as(memberP, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 1}}`}).
			expect(t, http.StatusAccepted).obj(t, "volume")["id"].(string)
		att = e.as(memberP, req{method: "POST", path: "/v3/{p}/attachments", body: `{"attachment": {"volume_uuid": "` + vol + `", "instance_uuid": "` + instance + `"}}`}).
			expect(t, http.StatusOK).obj(t, "attachment")["id"].(string)
		return vol, att
	}
	va, a := attach(server)
	_, b := attach("9d0c7f9e-57a4-4d53-a2b3-52d1a7d8a0c1")
	e.as(memberP, req{method: "POST", path: "/v3/{p}/attachments/" + a + "/action", body: `{"os-complete": null}`}).expect(t, http.StatusNoContent)
	for _, tc := range []struct {
		who            persona
		query, version string
		want           []string
	}{
		{memberP, "volume_id=" + va, "3.31", []string{a}},
		{memberP, "instance_id=" + server, "3.64", []string{a}},
		{memberP, "attach_status=reserved", "3.64", []string{b}},
		{memberP, "status=attached", "3.64", []string{}}, // allowed, but no column: none, as Cinder
		{memberP, "all_tenants=1&attach_status=attached", "3.64", []string{a}},
		{memberP, "instance_uuid=" + server + "&mountpoint=x", "3.30", sorted(a, b)}, // dropped before 3.31
		{adminP, "instance_uuid=" + server, "3.64", []string{a}},
		{adminP, "instance_id=" + server + "&attach_status=attached", "3.64", []string{a}},
		{adminP, "attach_mode=null", "3.64", sorted(a, b)},
		{adminP, "attach_mode=rw", "3.64", []string{}},
		{adminP, "project_id=p1&all_tenants=1", "3.64", sorted(a, b)},
		{adminP, "mountpoint=x", "3.64", []string{}},
		{adminP, "colour=red", "3.64", []string{}},
		{adminP, "volume_id~=" + va[:8], "3.64", []string{}}, // no like filters on attachments
	} {
		r := e.as(tc.who, req{method: "GET", path: "/v3/{p}/attachments?" + tc.query, headers: []string{"OpenStack-API-Version", "volume " + tc.version}})
		if got := r.expect(t, http.StatusOK).listedIDs(t, "attachments"); !slices.Equal(got, tc.want) {
			t.Errorf("%s attachments?%s at %s: %v, want %v", tc.who.name, tc.query, tc.version, got, tc.want)
		}
	}
	for query, msg := range map[string]string{
		"project_id=p1":                 "Invalid filters project_id are found in query options.",
		"instance_uuid=x&attach_mode=x": "Invalid filters attach_mode,instance_uuid are found in query options.",
		"volume_id~=x":                  "Invalid filters volume_id~ are found in query options.",
	} {
		if got := e.as(memberP, req{method: "GET", path: "/v3/{p}/attachments?" + query}).fault(t, http.StatusBadRequest, "badRequest"); got != msg {
			t.Errorf("member attachments?%s: %q, want %q", query, got, msg)
		}
	}
}

// TestReadonlyAttach: a volume flagged readonly is attached ro only, as
// Cinder's attach: os-attach in rw (the default) is InvalidVolumeAttachMode
// and asks cinder-volume nothing, ro is attached; an attachment of it
// takes mode ro whatever it asked, as Cinder's attachment_create.
func TestReadonlyAttach(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	e.setVolume(id, func(v *cinder.Volume) { v.Status = cinder.StatusAvailable })
	action := "/v3/admin/volumes/" + id + "/action"
	e.post(action, `{"os-update_readonly_flag": {"readonly": true}}`).expect(t, http.StatusAccepted)
	want := "Invalid attaching mode 'rw' for volume " + id + "."
	for _, body := range []string{`{"os-attach": {"host_name": "node1", "mountpoint": "/dev/vdb", "mode": "rw"}}`,
		`{"os-attach": {"host_name": "node1", "mountpoint": "/dev/vdb"}}`} {
		if msg := e.post(action, body).fault(t, http.StatusBadRequest, "badRequest"); msg != want {
			t.Errorf("%s: %q, want %q", body, msg, want)
		}
	}
	if calls := e.volumes.called(); len(calls) != 0 {
		t.Fatalf("a refused attach asked cinder-volume %v", calls)
	}
	if v := e.volume(id); v.Status != cinder.StatusAvailable || v.AttachStatus != cinder.AttachDetached {
		t.Fatalf("a refused attach left %s/%s", v.Status, v.AttachStatus)
	}
	e.post(action, `{"os-attach": {"host_name": "node1", "mountpoint": "/dev/vdb", "mode": "ro"}}`).expect(t, http.StatusAccepted)
	if calls := e.volumes.called(); !slices.Equal(calls, []string{"attach " + id}) {
		t.Fatalf("cinder-volume calls %v", calls)
	}

	r := e.post("/v3/admin/attachments", `{"attachment": {"volume_uuid": "`+id+`", "mode": "rw"}}`, v354...).expect(t, http.StatusOK)
	att := r.obj(t, "attachment")
	if att["attach_mode"] != "ro" {
		t.Fatalf("attachment of a readonly volume: %s", r.raw)
	}
	if a, err := e.store.GetAttachment(context.Background(), att["id"].(string)); err != nil || a.AttachMode != "ro" {
		t.Fatalf("stored attachment %+v, %v", a, err)
	}
}
