package api

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/internal/testdb"
	"github.com/cinder-go/cinder/volume"
)

// The fuzz targets below drive the real handler over SQLite and the
// recording fakes with arbitrary bodies, ids, query strings and
// OpenStack-API-Version headers. Every answer must be below 500, every 4xx
// a Cinder fault, and the fakes must never hear of an id that is not a
// UUID or of a size that is not positive. Their seed corpora run as
// ordinary tests under go test; make fuzz explores further.

// uuidForm is the form of the ids the database gives volumes.
var uuidForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// fuzzAPI is the API handler over SQLite and the fakes (migration included),
// with one available volume on hostA@fake1 and a second backend to migrate to.
type fuzzAPI struct {
	h       http.Handler
	store   *db.DB
	sched   *migratingScheduler
	volumes *fakeVolumes
	vol     cinder.Volume // the fixture volume as created
	created []string      // volumes created by the current input
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	f.Helper()
	ctx := context.Background()
	store := testdb.SQLite(f)
	// Services last seen now stay up for the whole run.
	cfg := testConfig()
	cfg.ServiceDownTime = 24 * time.Hour
	now := time.Now().UTC()
	for _, host := range []string{"hostA@fake1", "hostA@fake2"} {
		s := &cinder.Service{Host: host, Binary: cinder.BinaryVolume, Topic: cinder.BinaryVolume,
			AvailabilityZone: "nova", CreatedAt: now, UpdatedAt: &now}
		if err := store.CreateService(ctx, s); err != nil {
			f.Fatal(err)
		}
	}
	vt, err := store.GetVolumeTypeByName(ctx, cinder.DefaultVolumeType)
	if err != nil {
		f.Fatal(err)
	}
	a := &fuzzAPI{
		store:   store,
		sched:   &migratingScheduler{fakeScheduler: &fakeScheduler{store: store, place: "hostA@fake1#fake"}},
		volumes: &fakeVolumes{},
		vol: cinder.Volume{ProjectID: "admin", UserID: "admin", Size: 1, Status: cinder.StatusAvailable,
			DisplayName: "fixture", Host: "hostA@fake1#fake", AvailabilityZone: "nova", AttachStatus: "detached",
			VolumeTypeID: vt.ID, UseQuota: true},
	}
	if err := store.CreateVolume(ctx, &a.vol); err != nil {
		f.Fatal(err)
	}
	a.h = New(cfg, store, volume.New(cfg, store, a.sched, completingVolumes{a.volumes}, &fakeBackups{}), defaultPolicy(f), nil)
	return a
}

// serve sends one request as admin:admin (OpenStack-API-Version: version
// unless empty) and checks what every answer must be: below 500, and a
// Cinder fault when 4xx. It returns the status and the JSON body, if any.
func (a *fuzzAPI) serve(t *testing.T, method, path, query, version string, body []byte) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, "/", bytes.NewReader(body))
	r.URL.Path, r.URL.RawQuery = path, query
	r.Header.Set("X-Auth-Token", "admin:admin")
	r.Header.Set("Content-Type", "application/json")
	if version != "" {
		r.Header.Set("OpenStack-API-Version", version)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	if w.Code >= 500 {
		t.Fatalf("%s %s?%s %q: status %d: %s", method, path, query, body, w.Code, w.Body)
	}
	var out map[string]any
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s %q: status %d with a body that is not a JSON object: %v: %s", method, path, body, w.Code, err, w.Body)
		}
	}
	if w.Code >= 400 && !isFault(out, w.Code) {
		t.Fatalf("%s %s %q: status %d answered with no Cinder fault: %s", method, path, body, w.Code, w.Body)
	}
	return w.Code, out
}

// isFault reports whether body is Cinder's fault for status: one member,
// the fault's kind, holding a message and code status.
func isFault(body map[string]any, status int) bool {
	if len(body) != 1 {
		return false
	}
	for _, v := range body {
		detail, ok := v.(map[string]any)
		_, hasMessage := detail["message"].(string)
		code, _ := detail["code"].(float64)
		return ok && hasMessage && code == float64(status)
	}
	return false
}

// checkCalls fails unless every call the fakes recorded names UUIDs and
// positive sizes.
func (a *fuzzAPI) checkCalls(t *testing.T) {
	t.Helper()
	s := a.sched
	for _, spec := range s.creates {
		if !uuidForm.MatchString(spec.VolumeID) || spec.Size < 1 || spec.Size > testConfig().QuotaGigabytes {
			t.Fatalf("cinder-scheduler asked to create volume %q of %d GiB", spec.VolumeID, spec.Size)
		}
	}
	for _, m := range s.migrations {
		if id, _, _ := strings.Cut(m, ">"); !uuidForm.MatchString(id) {
			t.Fatalf("cinder-scheduler asked to migrate %q", m)
		}
	}
	for _, call := range a.volumes.called() {
		// "method id [args]", or "capabilities host", "freeze_host host",
		// "thaw_host host", "manageable host sort".
		f := strings.Fields(call)
		if f[0] == "capabilities" || f[0] == "freeze_host" || f[0] == "thaw_host" || f[0] == "manageable" {
			continue
		}
		if len(f) < 2 || !uuidForm.MatchString(f[1]) {
			t.Fatalf("cinder-volume called with %q", call)
		}
		switch f[0] {
		case "extend":
			if n, err := strconv.Atoi(f[2]); err != nil || n < 1 {
				t.Fatalf("cinder-volume asked to extend to %q", call)
			}
		case "complete":
			if !uuidForm.MatchString(f[2]) {
				t.Fatalf("cinder-volume asked to complete a migration to %q", call)
			}
		case "attachment_update", "attachment_delete":
			if len(f) < 3 || !uuidForm.MatchString(f[2]) {
				t.Fatalf("cinder-volume asked of attachment %q", call)
			}
		}
	}
}

// reset puts the fixture volume back as created, destroys the volumes the
// input created and forgets the calls, so that every input starts afresh.
func (a *fuzzAPI) reset(t *testing.T) {
	t.Helper()
	a.sched.creates, a.sched.contexts, a.sched.migrations = nil, nil, nil
	a.volumes.calls = nil
	ctx := context.Background()
	atts, err := a.store.ListAttachments(ctx, db.AttachmentFilter{VolumeID: a.vol.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, att := range atts {
		if _, err := a.store.DetachAttachment(ctx, a.vol.ID, att.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.store.UpdateVolume(ctx, a.vol.ID, func(v *cinder.Volume) error {
		*v = a.vol
		v.Metadata, v.AdminMetadata, v.GlanceMetadata = maps.Clone(a.vol.Metadata), maps.Clone(a.vol.AdminMetadata), maps.Clone(a.vol.GlanceMetadata)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range a.created {
		if err := a.store.DestroyVolume(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	a.created = nil
}

// idOr returns id, or the fixture volume's when empty.
func (a *fuzzAPI) idOr(id string) string {
	if id == "" {
		return a.vol.ID
	}
	return id
}

// FuzzCreateVolume posts bodies to /v3/admin/volumes. A created volume must
// have a size from 1 GiB to the quota.
func FuzzCreateVolume(f *testing.F) {
	f.Add([]byte(`{"volume": {"size": 1, "name": "vol1"}}`), "", "volume 3.64")
	f.Add([]byte(`{"volume": {"size": "2", "metadata": {"k": "v"}}}`), "", "")
	f.Add([]byte(`{"volume": {"size": -1}}`), "", "volume latest")
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, query, version string) {
		defer a.reset(t)
		status, out := a.serve(t, http.MethodPost, "/v3/admin/volumes", query, version, body)
		if status/100 == 2 {
			v, _ := out["volume"].(map[string]any)
			id, _ := v["id"].(string)
			a.created = append(a.created, id)
			if size, _ := v["size"].(float64); !uuidForm.MatchString(id) || size < 1 || size > float64(testConfig().QuotaGigabytes) {
				t.Fatalf("create %q answered %d with volume %v", body, status, v)
			}
		}
		a.checkCalls(t)
	})
}

// FuzzVolumeAction posts bodies to /v3/admin/volumes/{id}/action, id being
// the fixture volume when the fuzzed one is empty.
func FuzzVolumeAction(f *testing.F) {
	f.Add([]byte(`{"os-extend": {"new_size": 2}}`), "", "", "volume 3.64")
	f.Add([]byte(`{"os-migrate_volume": {"host": "hostA@fake2"}}`), "", "", "volume 3.64")
	f.Add([]byte(`{"os-extend": {"new_size": 2}}`), "../../etc/passwd", "", "")
	f.Add([]byte(`{"os-set_image_metadata": {"metadata": {"image_name": "cirros"}}}`), "", "", "volume 3.64")
	f.Add([]byte(`{"os-unset_image_metadata": {"key": "image_name"}}`), "", "", "")
	f.Add([]byte(`{"os-show_image_metadata": null}`), "", "", "")
	f.Add([]byte(`{"os-set_bootable": {"bootable": "yes"}}`), "", "", "volume 3.0")
	f.Add([]byte(`{"os-update_readonly_flag": {"readonly": 1}}`), "", "", "volume 3.64")
	f.Add([]byte(`{"os-attach": {"instance_uuid": "3b8b6631-1cf7-4fd7-9afb-c01e541a073c", "mountpoint": "/dev/vdb", "mode": "ro"}}`), "", "", "")
	f.Add([]byte(`{"os-detach": {"attachment_id": null}}`), "", "", "volume 3.64")
	f.Add([]byte(`{"os-reserve": null}`), "", "", "")
	f.Add([]byte(`{"os-force_detach": {"connector": "x", "attachment_id": "y"}}`), "", "", "")
	f.Add([]byte(`{"os-unmanage": null}`), "", "", "volume 3.64")
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, id, query, version string) {
		defer a.reset(t)
		a.serve(t, http.MethodPost, "/v3/admin/volumes/"+a.idOr(id)+"/action", query, version, body)
		a.checkCalls(t)
	})
}

// FuzzUpdateVolume puts bodies to /v3/admin/volumes/{id}, id being the
// fixture volume when the fuzzed one is empty.
func FuzzUpdateVolume(f *testing.F) {
	f.Add([]byte(`{"volume": {"name": "a/b", "description": "d", "metadata": {"k": "v"}}}`), "", "", "volume 3.64")
	f.Add([]byte(`{"volume": {}}`), "", "", "volume 3.53")
	f.Add([]byte(`{"volume": {"name": "x"}}`), "a/b", "", "")
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, id, query, version string) {
		defer a.reset(t)
		a.serve(t, http.MethodPut, "/v3/admin/volumes/"+a.idOr(id), query, version, body)
		a.checkCalls(t)
	})
}

// FuzzVolumeMetadata posts and puts bodies to /v3/admin/volumes/{id}/metadata
// and puts them to …/metadata/{key} of the fixture volume (op picks which).
// What is stored must be metadata Cinder's schema allows.
func FuzzVolumeMetadata(f *testing.F) {
	f.Add([]byte(`{"metadata": {"k": "v"}}`), "", "", "volume 3.64", uint8(0))
	f.Add([]byte(`{"metadata": {"a b": "c", "d": null}}`), "", "", "", uint8(1))
	f.Add([]byte(`{"meta": {"k": "v"}}`), "k", "", "volume 3.15", uint8(2))
	f.Add([]byte(`{"meta": {"k": "v", "x": "y"}}`), "k/../x", "", "", uint8(2))
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, key, query, version string, op uint8) {
		defer a.reset(t)
		path := "/v3/admin/volumes/" + a.vol.ID + "/metadata"
		method := []string{http.MethodPost, http.MethodPut, http.MethodPut}[op%3]
		if op%3 == 2 {
			path += "/" + key
		}
		a.serve(t, method, path, query, version, body)
		v, err := a.store.GetVolume(context.Background(), a.vol.ID)
		if err != nil {
			t.Fatal(err)
		}
		for k, value := range v.Metadata {
			if !specKey.MatchString(k) || len([]rune(value)) > maxNameLen {
				t.Fatalf("%s %s %q stored metadata %q: %q", method, path, body, k, value)
			}
		}
	})
}

// FuzzListVolumes gets /v3/admin/volumes/detail with query strings: list
// filters of every kind, which must answer below 500 on both sides of each
// microversion that changes them.
func FuzzListVolumes(f *testing.F) {
	f.Add("name~=fix&created_at=gt:2024-01-02T03:04:05Z,lte:2999", "volume 3.64")
	f.Add("metadata={'k': 'v'}&glance_metadata={\"os\": \"linux\"}&bootable=1", "volume 3.30")
	f.Add("size=x&colour=red&updated_at=eq:2024-02-30&sort=name:asc&limit=1", "volume 3.1")
	f.Add("with_count=true&all_tenants=1&project_id=admin&host=hostA@fake1#fake", "volume latest")
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, query, version string) {
		a.serve(t, http.MethodGet, "/v3/admin/volumes/detail", query, version, nil)
	})
}

// typeRoutes are the routes FuzzTypeRequests drives: {type} is a private
// volume type's id, {qos} QoS specs' id, {gtype} a group type's, {group}
// a group's, unless the input names another.
var typeRoutes = []struct{ method, path string }{
	{http.MethodPost, "/v3/admin/types/{type}/action"},
	{http.MethodPost, "/v3/admin/types/{type}/encryption"},
	{http.MethodPut, "/v3/admin/types/{type}/encryption/provider"},
	{http.MethodPut, "/v3/admin/default-types/{type}"},
	{http.MethodPost, "/v3/admin/qos-specs"},
	{http.MethodPut, "/v3/admin/qos-specs/{qos}"},
	{http.MethodPut, "/v3/admin/qos-specs/{qos}/delete_keys"},
	{http.MethodGet, "/v3/admin/qos-specs/{qos}/associate"},
	{http.MethodGet, "/v3/admin/types"},
	{http.MethodPost, "/v3/admin/group_types"},
	{http.MethodPut, "/v3/admin/group_types/{gtype}"},
	{http.MethodPost, "/v3/admin/group_types/{gtype}/group_specs"},
	{http.MethodPut, "/v3/admin/group_types/{gtype}/group_specs/k"},
	{http.MethodGet, "/v3/admin/group_types"},
	{http.MethodPost, "/v3/admin/groups"},
	{http.MethodPut, "/v3/admin/groups/{group}"},
	{http.MethodPost, "/v3/admin/groups/{group}/action"},
	{http.MethodGet, "/v3/admin/groups/detail"},
}

// FuzzTypeRequests sends bodies and query strings to the routes of type
// access, encryption, default types, QoS specs, group types and groups
// (route picks one of typeRoutes), with a private type, QoS specs, a group
// type and a group to act on.
func FuzzTypeRequests(f *testing.F) {
	f.Add(uint8(0), []byte(`{"addProjectAccess": {"project": "6f2c8e4a1b3d4f5e8a9b0c1d2e3f4a5b"}}`), "", "", "volume 3.64")
	f.Add(uint8(1), []byte(`{"encryption": {"provider": "luks", "cipher": null, "key_size": "256", "control_location": "front-end"}}`), "", "", "")
	f.Add(uint8(2), []byte(`{"encryption": {"key_size": 99999999999999999999}}`), "", "", "")
	f.Add(uint8(3), []byte(`{"default_type": {"volume_type": "__DEFAULT__"}}`), "p", "", "volume 3.62")
	f.Add(uint8(4), []byte(`{"qos_specs": {"name": "q", "consumer": "both", "total_iops_sec": "9"}}`), "", "", "")
	f.Add(uint8(5), []byte(`{"qos_specs": {"consumer": null}}`), "", "", "")
	f.Add(uint8(6), []byte(`{"keys": ["total_iops_sec", 1]}`), "", "", "")
	f.Add(uint8(7), []byte{}, "", "vol_type_id=%zz", "")
	f.Add(uint8(8), []byte{}, "", `extra_specs={'RESKEY:availability_zones': 'nova'}&is_public=none`, "volume 3.52")
	f.Add(uint8(9), []byte(`{"group_type": {"name": "g", "is_public": "yes", "group_specs": {"k": "v"}}}`), "", "", "volume 3.11")
	f.Add(uint8(10), []byte(`{"group_type": {"name": null, "description": null, "is_public": 1}}`), "", "", "volume 3.64")
	f.Add(uint8(11), []byte(`{"group_specs": {"k": null, "bad key": "v"}}`), "", "", "volume 3.64")
	f.Add(uint8(12), []byte(`{"k": "v", "l": "w"}`), "", "", "volume 3.11")
	f.Add(uint8(13), []byte{}, "", "is_public=none&sort=name:asc&marker=x&limit=-1", "volume 3.10")
	f.Add(uint8(14), []byte(`{"group": {"group_type": "fuzz-group", "volume_types": ["fuzz-private", "__DEFAULT__"], "availability_zone": null}}`), "", "", "volume 3.13")
	f.Add(uint8(15), []byte(`{"group": {"add_volumes": ",,x,", "remove_volumes": null, "name": " "}}`), "", "", "volume 3.64")
	f.Add(uint8(16), []byte(`{"reset_status": {"status": "AVAILABLE"}}`), "", "", "volume 3.20")
	f.Add(uint8(16), []byte(`{"delete": {"delete-volumes": "yes"}}`), "", "", "volume 3.13")
	f.Add(uint8(17), []byte{}, "", "list_volume=maybe&all_tenants=1&sort=status", "volume 3.25")
	a := newFuzzAPI(f)
	ctx := context.Background()
	vt := &cinder.VolumeType{Name: "fuzz-private"}
	if err := a.store.CreateVolumeType(ctx, vt); err != nil {
		f.Fatal(err)
	}
	q := &cinder.QoSSpecs{Name: "fuzz", Consumer: cinder.ConsumerFrontEnd, Specs: map[string]string{"total_iops_sec": "9"}}
	if err := a.store.CreateQoSSpecs(ctx, q); err != nil {
		f.Fatal(err)
	}
	gt := &cinder.GroupType{Name: "fuzz-group"}
	if err := a.store.CreateGroupType(ctx, gt); err != nil {
		f.Fatal(err)
	}
	g := &cinder.Group{ProjectID: "admin", Name: "fuzz", GroupTypeID: gt.ID, Status: cinder.GroupAvailable, Host: "hostA@fake1#fake",
		VolumeTypeIDs: []string{vt.ID}}
	if err := a.store.CreateGroup(ctx, g); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte, id, query, version string) {
		defer a.reset(t)
		rt := typeRoutes[int(route)%len(typeRoutes)]
		typeID, qosID, gtypeID, groupID := vt.ID, q.ID, gt.ID, g.ID
		if id != "" {
			typeID, qosID, gtypeID, groupID = id, id, id, id
		}
		path := strings.NewReplacer("{type}", typeID, "{qos}", qosID, "{gtype}", gtypeID, "{group}", groupID).Replace(rt.path)
		a.serve(t, rt.method, path, query, version, body)
		a.checkCalls(t)
	})
}

// FuzzCreateAttachment posts bodies to /v3/admin/attachments; {vol} in a
// body names the fixture volume.
func FuzzCreateAttachment(f *testing.F) {
	f.Add([]byte(`{"attachment": {"volume_uuid": "{vol}", "connector": {"host": "h"}, "mode": "ro"}}`), "", "volume 3.54")
	f.Add([]byte(`{"attachment": {"volume_uuid": "{vol}", "instance_uuid": "3b8b6631-1cf7-4fd7-9afb-c01e541a073c"}}`), "", "volume 3.27")
	f.Add([]byte(`{"attachment": {"volume_uuid": "{vol}", "connector": []}}`), "", "volume latest")
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, query, version string) {
		defer a.reset(t)
		body = bytes.ReplaceAll(body, []byte("{vol}"), []byte(a.vol.ID))
		a.serve(t, http.MethodPost, "/v3/admin/attachments", query, version, body)
		a.checkCalls(t)
	})
}

// FuzzQuotaSet puts bodies to /v3/admin/os-quota-sets/{id} (id "p1" when
// the fuzzed one is empty), or with class to /os-quota-class-sets/{id}. An
// accepted set holds integer limits of at least -1.
func FuzzQuotaSet(f *testing.F) {
	f.Add([]byte(`{"quota_set": {"volumes": 5, "gigabytes": "20", "tenant_id": "x"}}`), "", "", "volume 3.64", false)
	f.Add([]byte(`{"quota_set": {"volumes": -2, "foo": 1}}`), "", "usage=True", "", false)
	f.Add([]byte(`{"quota_class_set": {"volumes": "7", "per_volume_gigabytes": -1}}`), "default", "", "volume 3.64", true)
	f.Add([]byte(`{"quota_class_set": {"volumes": 1.5}, "type": "object"}`), "", "", "", true)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, id, query, version string, class bool) {
		path, key := "/v3/admin/os-quota-sets/", "quota_set"
		if class {
			path, key = "/v3/admin/os-quota-class-sets/", "quota_class_set"
		}
		if id == "" {
			id = "p1"
		}
		status, out := a.serve(t, http.MethodPut, path+id, query, version, body)
		if status/100 != 2 {
			return
		}
		set, _ := out[key].(map[string]any)
		for res, limit := range set {
			if n, ok := limit.(float64); !ok || n < -1 || n != float64(int(n)) {
				t.Fatalf("PUT %s%s %q answered %d with %s %v", path, id, body, status, res, limit)
			}
		}
		a.serve(t, http.MethodGet, path+id, query, version, nil)
	})
}

// FuzzAttachment puts bodies to a reserved attachment of the fixture
// volume (id, when the fuzzed one is empty) and posts them to its action.
func FuzzAttachment(f *testing.F) {
	f.Add([]byte(`{"attachment": {"connector": {"host": "h", "mountpoint": "/dev/vdb"}}}`), "", "", "volume 3.54")
	f.Add([]byte(`{"os-complete": null}`), "", "", "volume 3.44")
	f.Add([]byte(`{"attachment": {"connector": {}}}`), "x/y", "", "volume 3.27")
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, id, query, version string) {
		defer a.reset(t)
		if id == "" {
			att := &cinder.Attachment{VolumeID: a.vol.ID, AttachStatus: cinder.AttachReserved, AttachMode: "null"}
			if _, err := a.store.CreateAttachment(context.Background(), att, func(v *cinder.Volume, _ []*cinder.Attachment) error {
				v.Status = cinder.StatusReserved
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			id = att.ID
		}
		a.serve(t, http.MethodPut, "/v3/admin/attachments/"+id, query, version, body)
		a.serve(t, http.MethodPost, "/v3/admin/attachments/"+id+"/action", query, version, body)
		a.checkCalls(t)
	})
}

// FuzzCreateTransfer posts bodies to both transfer collections. A created
// transfer must be of the fixture volume and show its key.
func FuzzCreateTransfer(f *testing.F) {
	f.Add([]byte(`{"transfer": {"volume_id": "{fixture}", "name": "t"}}`), false, "volume 3.55")
	f.Add([]byte(`{"transfer": {"volume_id": "{fixture}", "no_snapshots": "yes"}}`), true, "volume 3.57")
	f.Add([]byte(`{"transfer": {"volume_id": "../../etc/passwd"}}`), false, "")
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, legacy bool, version string) {
		defer a.reset(t)
		path := "/v3/admin/volume-transfers"
		if legacy {
			path = "/v3/admin/os-volume-transfer"
		}
		body = bytes.ReplaceAll(body, []byte("{fixture}"), []byte(a.vol.ID))
		status, out := a.serve(t, http.MethodPost, path, "", version, body)
		if status/100 == 2 {
			tr, _ := out["transfer"].(map[string]any)
			if key, _ := tr["auth_key"].(string); tr["volume_id"] != a.vol.ID || len(key) != 16 {
				t.Fatalf("create %q answered %d with %v", body, status, tr)
			}
		}
		a.checkCalls(t)
	})
}

// FuzzAcceptTransfer posts bodies to the accept of a transfer of a volume
// of project p1, or of the fuzzed id; no key but the transfer's may move
// the volume.
func FuzzAcceptTransfer(f *testing.F) {
	f.Add([]byte(`{"accept": {"auth_key": "0123456789abcdef"}}`), "", "volume 3.64")
	f.Add([]byte(`{"accept": {"auth_key": 7}}`), "", "")
	f.Add([]byte(`{"accept": {"auth_key": "k"}}`), "../x", "volume 3.55")
	a := newFuzzAPI(f)
	ctx := context.Background()
	v := &cinder.Volume{ProjectID: "p1", Size: 1, Status: cinder.StatusAvailable, Host: "hostA@fake1#fake", UseQuota: true}
	if err := a.store.CreateVolume(ctx, v); err != nil {
		f.Fatal(err)
	}
	tr := &cinder.Transfer{VolumeID: v.ID, Salt: "salt", CryptHash: "not a hash of any key"}
	if err := a.store.CreateTransfer(ctx, tr); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, id, version string) {
		defer a.reset(t)
		if id == "" {
			id = tr.ID
		}
		status, _ := a.serve(t, http.MethodPost, "/v3/admin/volume-transfers/"+id+"/accept", "", version, body)
		if got, err := a.store.GetVolume(ctx, v.ID); status/100 == 2 || err != nil || got.ProjectID != "p1" {
			t.Fatalf("accept %q answered %d; volume %+v, %v", body, status, got, err)
		}
		a.checkCalls(t)
	})
}

// FuzzWorkersCleanup posts bodies to /workers/cleanup and puts bodies to
// the os-services and clusters actions.
func FuzzWorkersCleanup(f *testing.F) {
	f.Add([]byte(`{"host": "hostA@fake1", "is_up": true, "resource_type": "volume"}`), "workers/cleanup", "volume 3.24")
	f.Add([]byte(`{"host": "hostA@fake2"}`), "os-services/freeze", "volume 3.64")
	f.Add([]byte(`{"cluster": "c"}`), "os-services/thaw", "volume 3.26")
	f.Add([]byte(`{"name": "c", "disabled_reason": "r"}`), "clusters/disable", "volume 3.7")
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, route, version string) {
		defer a.reset(t)
		method := http.MethodPut
		if route == "workers/cleanup" {
			method = http.MethodPost
		}
		a.serve(t, method, "/v3/admin/"+route, "", version, body)
		a.checkCalls(t)
	})
}

// snapshotBackupRoutes are the routes FuzzSnapshotsAndBackups drives:
// {snap} is the fixture snapshot's id, {backup} the fixture backup's,
// unless the input names another; lists take the fuzzed query.
var snapshotBackupRoutes = []struct{ method, path string }{
	{http.MethodPost, "/v3/admin/snapshots"},
	{http.MethodPut, "/v3/admin/snapshots/{snap}"},
	{http.MethodPost, "/v3/admin/snapshots/{snap}/action"},
	{http.MethodPost, "/v3/admin/snapshots/{snap}/metadata"},
	{http.MethodPut, "/v3/admin/snapshots/{snap}/metadata/k"},
	{http.MethodGet, "/v3/admin/snapshots/detail"},
	{http.MethodPost, "/v3/admin/backups"},
	{http.MethodPut, "/v3/admin/backups/{backup}"},
	{http.MethodPost, "/v3/admin/backups/{backup}/restore"},
	{http.MethodPost, "/v3/admin/backups/{backup}/action"},
	{http.MethodPost, "/v3/admin/backups/import_record"},
	{http.MethodGet, "/v3/admin/backups/detail"},
	{http.MethodGet, "/v3/admin/attachments/detail"},
}

// FuzzSnapshotsAndBackups sends bodies and query strings to the routes of
// snapshots, backups and the attachment list (route picks one of
// snapshotBackupRoutes), with an available snapshot and backup of the
// fixture volume, put back after each input; {vol} in a body names the
// fixture volume, {snap} its snapshot.
func FuzzSnapshotsAndBackups(f *testing.F) {
	f.Add(uint8(0), []byte(`{"snapshot": {"volume_id": "{vol}", "name": "s", "force": "yes", "metadata": {"k": "v"}}}`), "", "", "volume 3.66")
	f.Add(uint8(1), []byte(`{"snapshot": {"name": null, "display_description": 7}}`), "", "", "")
	f.Add(uint8(2), []byte(`{"os-reset_status": {"status": "ERROR"}}`), "", "", "volume 3.64")
	f.Add(uint8(3), []byte(`{"metadata": {"a b": "c", "d": null}}`), "", "", "")
	f.Add(uint8(5), []byte{}, "", "name~=s&metadata={'k': 'v'}&created_at=gt:2024&host=hostA&availability_zone=nova", "volume 3.34")
	f.Add(uint8(6), []byte(`{"backup": {"volume_id": "{vol}", "incremental": "true", "snapshot_id": "{snap}", "metadata": {"k": 1}}}`), "", "", "volume 3.51")
	f.Add(uint8(8), []byte(`{"restore": {"volume_id": "{vol}", "name": "r"}}`), "", "", "volume 3.64")
	f.Add(uint8(9), []byte(`{"os-force_delete": {}}`), "", "", "")
	f.Add(uint8(10), []byte(`{"backup-record": {"backup_service": "cinder.backup.drivers.posix", "backup_url": "eyJ9"}}`), "", "", "")
	f.Add(uint8(11), []byte{}, "", "name~=b&metadata=x&size=one&with_count=true&sort=size:asc", "volume 3.45")
	f.Add(uint8(12), []byte{}, "", "instance_id=x&status=attached&attach_status=reserved&volume_id~=a", "volume 3.31")
	a := newFuzzAPI(f)
	ctx := context.Background()
	now := time.Now().UTC()
	if err := a.store.CreateService(ctx, &cinder.Service{Host: "hostA", Binary: cinder.BinaryBackup, Topic: cinder.BinaryBackup,
		AvailabilityZone: "nova", CreatedAt: now, UpdatedAt: &now}); err != nil {
		f.Fatal(err)
	}
	snap := cinder.Snapshot{VolumeID: a.vol.ID, ProjectID: "admin", Status: cinder.SnapshotAvailable, VolumeSize: 1, UseQuota: true}
	if err := a.store.CreateSnapshot(ctx, &snap); err != nil {
		f.Fatal(err)
	}
	backup := cinder.Backup{VolumeID: a.vol.ID, ProjectID: "admin", Status: cinder.BackupAvailable, Size: 1, Host: "hostA"}
	if err := a.store.CreateBackup(ctx, &backup); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte, id, query, version string) {
		defer a.reset(t)
		defer func() {
			if _, err := a.store.UpdateSnapshot(ctx, snap.ID, func(s *cinder.Snapshot) error { *s = snap; return nil }); err != nil {
				t.Fatal(err)
			}
			if _, err := a.store.UpdateBackup(ctx, backup.ID, func(b *cinder.Backup) error { *b = backup; return nil }); err != nil {
				t.Fatal(err)
			}
		}()
		rt := snapshotBackupRoutes[int(route)%len(snapshotBackupRoutes)]
		snapID, backupID := snap.ID, backup.ID
		if id != "" {
			snapID, backupID = id, id
		}
		path := strings.NewReplacer("{snap}", snapID, "{backup}", backupID).Replace(rt.path)
		body = bytes.ReplaceAll(bytes.ReplaceAll(body, []byte("{vol}"), []byte(a.vol.ID)), []byte("{snap}"), []byte(snap.ID))
		a.serve(t, rt.method, path, query, version, body)
		a.checkCalls(t)
	})
}

// FuzzGroupSnapshots posts bodies to /v3/admin/group_snapshots (route 0),
// /v3/admin/group_snapshots/{id}/action (1) and /v3/admin/groups/action
// (2, create-from-src), id being the fixture volume's when empty.
func FuzzGroupSnapshots(f *testing.F) {
	f.Add([]byte(`{"group_snapshot": {"group_id": "3b8b6631-1cf7-4fd7-9afb-c01e541a073c", "name": "gs"}}`), "", "", "volume 3.14", uint8(0))
	f.Add([]byte(`{"group_snapshot": {"group_id": null, "description": 1}}`), "", "", "volume 3.64", uint8(0))
	f.Add([]byte(`{"reset_status": {"status": "error"}}`), "", "", "volume 3.19", uint8(1))
	f.Add([]byte(`{"reset_status": {"status": " "}}`), "a/b", "", "volume 3.64", uint8(1))
	f.Add([]byte(`{"create-from-src": {"group_snapshot_id": "3b8b6631-1cf7-4fd7-9afb-c01e541a073c"}}`), "", "", "volume 3.14", uint8(2))
	f.Add([]byte(`{"create-from-src": {"source_group_id": "x", "group_snapshot_id": "y"}}`), "", "", "volume 3.64", uint8(2))
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, id, query, version string, route uint8) {
		path := [...]string{"/v3/admin/group_snapshots", "/v3/admin/group_snapshots/" + a.idOr(id) + "/action", "/v3/admin/groups/action"}[route%3]
		a.serve(t, http.MethodPost, path, query, version, body)
	})
}
