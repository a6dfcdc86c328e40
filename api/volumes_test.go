package api

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cinder-go/cinder"
)

// Key sets of real Cinder's samples (shared/reference/real-cinder).
var (
	createKeys = []string{"id", "status", "size", "availability_zone", "created_at", "updated_at", "name",
		"description", "volume_type", "snapshot_id", "source_volid", "metadata", "links", "user_id", "bootable",
		"encrypted", "replication_status", "consistencygroup_id", "multiattach", "attachments", "migration_status",
		"group_id", "provider_id", "shared_targets", "service_uuid", "cluster_name", "volume_type_id"}
	adminAttrKeys = []string{"os-vol-tenant-attr:tenant_id", "os-vol-mig-status-attr:migstat",
		"os-vol-mig-status-attr:name_id", "os-vol-host-attr:host"}
	showKeys       = append(append([]string{}, createKeys...), adminAttrKeys...)                           // 11, at 3.64
	showKeys30     = append(append([]string{}, createKeys[:21]...), adminAttrKeys...)                      // 11b, at 3.0
	showKeysLatest = append(append(append([]string{}, createKeys...), "consumes_quota"), adminAttrKeys...) // 11c, at 3.71
	timestamp      = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$`)
)

func TestCreateVolume(t *testing.T) {
	e := newEnv(t)
	e.sched.place = "" // the scheduler has not placed it yet
	r := e.post("/v3/admin/volumes", `{"volume": {"size": 1, "name": "vol1", "description": "fixture volume", "metadata": {"k": "v"}}}`)
	r.expect(t, http.StatusAccepted)
	sameKeys(t, "create", r.keys(t, "volume"), createKeys)
	v := r.obj(t, "volume")
	if v["status"] != "creating" || v["size"] != 1.0 || v["name"] != "vol1" || v["description"] != "fixture volume" ||
		v["volume_type"] != cinder.DefaultVolumeType || v["availability_zone"] != "nova" || v["user_id"] != "admin" ||
		v["bootable"] != "false" || v["shared_targets"] != true || v["service_uuid"] != nil || v["updated_at"] != nil {
		t.Fatalf("create view: %s", r.raw)
	}
	if !timestamp.MatchString(v["created_at"].(string)) {
		t.Fatalf("created_at %v", v["created_at"])
	}
	id := v["id"].(string)
	if self := r.obj(t, "volume", "links", "0")["href"]; self != e.srv.URL+"/v3/admin/volumes/"+id {
		t.Fatalf("self link %v", self)
	}
	if bm := r.obj(t, "volume", "links", "1")["href"]; bm != e.srv.URL+"/admin/volumes/"+id {
		t.Fatalf("bookmark link %v", bm)
	}
	row := e.volume(id)
	if row.ProjectID != "admin" || row.UserID != "admin" || row.Status != "creating" || row.Metadata["k"] != "v" ||
		row.VolumeTypeID != v["volume_type_id"] || !row.UseQuota {
		t.Fatalf("db row %+v", row)
	}
	if len(e.sched.creates) != 1 {
		t.Fatalf("scheduler asked %d times", len(e.sched.creates))
	}
	rc := e.sched.contexts[0]
	if rc.RequestID != r.header.Get("X-Openstack-Request-Id") || rc.ProjectID != "admin" || rc.UserID != "admin" || !rc.IsAdmin {
		t.Fatalf("the cast carries context %+v", rc)
	}
	spec := e.sched.creates[0]
	if spec.VolumeID != id || spec.Size != 1 || spec.VolumeType == nil || spec.VolumeType.Name != cinder.DefaultVolumeType || spec.AvailabilityZone != "nova" {
		t.Fatalf("request spec %+v", spec)
	}

	// A named type, by name or id; an unknown one is 404.
	e.post("/v3/admin/types", `{"volume_type": {"name": "gold", "extra_specs": {"multiattach": "<is> True"}}}`).expect(t, http.StatusOK)
	gold := e.post("/v3/admin/volumes", `{"volume": {"size": "2", "volume_type": "gold"}}`).expect(t, http.StatusAccepted).obj(t, "volume")
	if gold["volume_type"] != "gold" || gold["size"] != 2.0 || gold["multiattach"] != true {
		t.Fatalf("gold volume %v", gold)
	}
	byID := e.post("/v3/admin/volumes", `{"volume": {"size": 1, "volume_type": "`+gold["volume_type_id"].(string)+`"}}`).expect(t, http.StatusAccepted)
	if byID.obj(t, "volume")["volume_type"] != "gold" {
		t.Fatalf("type by id: %s", byID.raw)
	}
	msg := e.post("/v3/admin/volumes", `{"volume": {"size": 1, "volume_type": "silver"}}`).fault(t, http.StatusNotFound, "itemNotFound")
	if msg != "Volume type with name silver could not be found." {
		t.Fatalf("unknown type message %q", msg)
	}
}

func TestCreateVolumeSchedulerUnreachable(t *testing.T) {
	e := newEnv(t)
	e.sched.createErr = errBrokerDown
	msg := e.post("/v3/admin/volumes", `{"volume": {"size": 600}}`).fault(t, http.StatusServiceUnavailable, "serviceUnavailable")
	if len(e.sched.creates) != 1 || msg != "Could not ask cinder-scheduler to create volume "+e.sched.creates[0].VolumeID+
		": the message bus is unreachable. Try again later." {
		t.Fatalf("503 message %q", msg)
	}
	// As Cinder's create flow reverts: no row is left, and its quota is free.
	if vols := e.get("/v3/admin/volumes/detail?all_tenants=1").expect(t, http.StatusOK); len(vols.body["volumes"].([]any)) != 0 {
		t.Fatalf("volumes left after a failed cast: %s", vols.raw)
	}
	e.get("/v3/admin/volumes/"+e.sched.creates[0].VolumeID).fault(t, http.StatusNotFound, "itemNotFound")
	e.sched.createErr = nil
	e.post("/v3/admin/volumes", `{"volume": {"size": 600}}`).expect(t, http.StatusAccepted)
}

func TestCreateVolumeAvailabilityZone(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	e.post("/v3/admin/volumes", `{"volume": {"size": 1, "availability_zone": "nova"}}`).expect(t, http.StatusAccepted)
	msg := e.post("/v3/admin/volumes", `{"volume": {"size": 1, "availability_zone": "mars"}}`).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Availability zone 'mars' is invalid." {
		t.Fatalf("bad zone message %q", msg)
	}
}

func TestShowVolumePerMicroversion(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1, "name": "vol1"}}`)
	path := "/v3/admin/volumes/" + id
	for _, tc := range []struct {
		version string
		keys    []string
	}{
		{"volume 3.64", showKeys},
		{"", showKeys30},
		{"volume latest", showKeysLatest},
	} {
		r := e.get(path, "OpenStack-API-Version", tc.version).expect(t, http.StatusOK)
		sameKeys(t, "show at "+tc.version, r.keys(t, "volume"), tc.keys)
	}
	v := e.get(path).expect(t, http.StatusOK).obj(t, "volume")
	if v["status"] != "available" || v["os-vol-host-attr:host"] != "hostA@fake1#fake" || v["os-vol-tenant-attr:tenant_id"] != "admin" ||
		v["os-vol-mig-status-attr:migstat"] != nil || v["os-vol-mig-status-attr:name_id"] != nil || v["shared_targets"] != false {
		t.Fatalf("show: %v", v)
	}
	e.setVolume(id, func(v *cinder.Volume) {
		v.MigrationStatus, v.NameID = "success", "f1b1b3c4-0000-4000-8000-000000000001"
	})
	v = e.get(path).expect(t, http.StatusOK).obj(t, "volume")
	if v["migration_status"] != "success" || v["os-vol-mig-status-attr:migstat"] != "success" ||
		v["os-vol-mig-status-attr:name_id"] != "f1b1b3c4-0000-4000-8000-000000000001" {
		t.Fatalf("migration fields: %v", v)
	}
}

func TestListVolumes(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for _, size := range []string{"3", "1", "2"} {
		ids = append(ids, e.createVolume(`{"volume": {"size": `+size+`, "name": "fill"}}`))
	}
	list := e.get("/v3/admin/volumes").expect(t, http.StatusOK)
	sameKeys(t, "list", list.keys(t), []string{"volumes"})
	sameKeys(t, "summary", list.keys(t, "volumes", "0"), []string{"id", "name", "links"})
	if got := list.obj(t, "volumes", "0")["id"]; got != ids[2] {
		t.Fatalf("newest first: got %v, want %v", got, ids[2])
	}
	detail := e.get("/v3/admin/volumes/detail").expect(t, http.StatusOK)
	sameKeys(t, "detail", detail.keys(t, "volumes", "0"), showKeys)

	page := e.get("/v3/admin/volumes?limit=2&with_count=true").expect(t, http.StatusOK)
	sameKeys(t, "page", page.keys(t), []string{"volumes", "volumes_links", "count"})
	if n := len(page.body["volumes"].([]any)); n != 2 || page.body["count"] != 3.0 {
		t.Fatalf("page of %d, count %v", n, page.body["count"])
	}
	next := page.obj(t, "volumes_links", "0")
	if next["rel"] != "next" || next["href"] != e.srv.URL+"/v3/admin/volumes?limit=2&with_count=true&marker="+ids[1] {
		t.Fatalf("next link %v", next)
	}
	rest := e.get("/v3/admin/volumes?limit=2&marker="+ids[1]).expect(t, http.StatusOK)
	if vols := rest.body["volumes"].([]any); len(vols) != 1 || rest.obj(t, "volumes", "0")["id"] != ids[0] {
		t.Fatalf("second page: %s", rest.raw)
	}
	if _, ok := rest.body["volumes_links"]; ok {
		t.Fatalf("a short last page has a next link: %s", rest.raw)
	}
	// with_count is 3.45 and later.
	if _, ok := e.get("/v3/admin/volumes?with_count=true", "OpenStack-API-Version", "volume 3.44").expect(t, http.StatusOK).body["count"]; ok {
		t.Fatal("count before 3.45")
	}
	bySize := e.get("/v3/admin/volumes/detail?sort=size:asc").expect(t, http.StatusOK)
	if bySize.obj(t, "volumes", "0")["size"] != 1.0 || bySize.obj(t, "volumes", "2")["size"] != 3.0 {
		t.Fatalf("sort=size:asc: %s", bySize.raw)
	}
	byKey := e.get("/v3/admin/volumes/detail?sort_key=size&sort_dir=desc").expect(t, http.StatusOK)
	if byKey.obj(t, "volumes", "0")["size"] != 3.0 {
		t.Fatalf("sort_key=size: %s", byKey.raw)
	}
	for _, bad := range []string{"limit=x", "limit=-1", "sort=color", "sort=size:up", "sort=size&sort_key=id", "with_count=maybe", "offset=-1"} {
		e.get("/v3/admin/volumes?"+bad).fault(t, http.StatusBadRequest, "badRequest")
	}
	// A marker that is no volume is not found, as Cinder's get of it.
	e.get("/v3/admin/volumes?marker=nope").fault(t, http.StatusNotFound, "itemNotFound")
	if page := e.get("/v3/admin/volumes/detail?sort=size:asc&offset=1&limit=1").expect(t, http.StatusOK); page.obj(t, "volumes", "0")["size"] != 2.0 ||
		len(page.body["volumes"].([]any)) != 1 {
		t.Fatalf("offset 1 of the volumes by size (1, 2, 3 GiB): %s", page.raw)
	}
	// Migration targets are hidden from non-admins only.
	e.setVolume(ids[0], func(v *cinder.Volume) { v.MigrationStatus = cinder.MigrationTarget(ids[1]) })
	if n := len(e.get("/v3/admin/volumes").body["volumes"].([]any)); n != 3 {
		t.Fatalf("admin sees %d volumes", n)
	}
}

func TestHideMigrationTargetsFromNonAdmin(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.AuthStrategy = "keystone" })
	user := []string{"X-Auth-Token", "", "X-User-Id", "u", "X-Project-Id", "p", "X-Roles", "member"}
	a := e.post("/v3/p/volumes", `{"volume": {"size": 1}}`, user...).expect(t, http.StatusAccepted).obj(t, "volume")["id"].(string)
	b := e.post("/v3/p/volumes", `{"volume": {"size": 1}}`, user...).expect(t, http.StatusAccepted).obj(t, "volume")["id"].(string)
	e.setVolume(b, func(v *cinder.Volume) { v.MigrationStatus = cinder.MigrationTarget(a) })
	vols := e.get("/v3/p/volumes", user...).expect(t, http.StatusOK).body["volumes"].([]any)
	if len(vols) != 1 || vols[0].(map[string]any)["id"] != a {
		t.Fatalf("non-admin sees %v", vols)
	}
}

func TestUpdateVolume(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1, "name": "old"}}`)
	path := "/v3/admin/volumes/" + id
	r := e.put(path, `{"volume": {"name": "new", "description": "d", "metadata": {"a": "b"}}}`).expect(t, http.StatusOK)
	sameKeys(t, "update", r.keys(t, "volume"), createKeys)
	v := r.obj(t, "volume")
	if v["name"] != "new" || v["description"] != "d" || v["metadata"].(map[string]any)["a"] != "b" {
		t.Fatalf("update view %v", v)
	}
	if row := e.volume(id); row.DisplayName != "new" || row.Metadata["a"] != "b" {
		t.Fatalf("db row %+v", row)
	}
	e.put(path, `{"volume": {}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.put(path, `{"volume": {"size": 5}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.put(path, `{"volume": {"metadata": {"k": 1}}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.put("/v3/admin/volumes/00000000-0000-0000-0000-000000000000", `{"volume": {"name": "x"}}`).fault(t, http.StatusNotFound, "itemNotFound")
	e.setVolume(id, func(v *cinder.Volume) { v.Status = cinder.StatusMaintenance })
	msg := e.put(path, `{"volume": {"name": "x"}}`).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Invalid volume: The volume cannot be updated during maintenance." {
		t.Fatalf("maintenance message %q", msg)
	}
}

func TestDeleteVolume(t *testing.T) {
	e := newEnv(t)
	placed := e.createVolume(`{"volume": {"size": 1}}`)
	r := e.del("/v3/admin/volumes/"+placed).expect(t, http.StatusAccepted)
	if len(r.raw) != 0 {
		t.Fatalf("delete answered a body: %s", r.raw)
	}
	if st := e.volume(placed).Status; st != cinder.StatusDeleting {
		t.Fatalf("status %s after delete", st)
	}
	if calls := e.volumes.called(); len(calls) != 1 || calls[0] != "delete "+placed {
		t.Fatalf("cinder-volume calls %v", calls)
	}
	// A second delete finds it deleting: not a deletable status.
	msg := e.del("/v3/admin/volumes/"+placed).fault(t, http.StatusBadRequest, "badRequest")
	if !strings.HasPrefix(msg, "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating") {
		t.Fatalf("delete refusal %q", msg)
	}

	// Never placed on a backend: still creating, only with force, as
	// Cinder (a scheduler may be placing it); failed to schedule, as any.
	// Either way gone at once, no backend asked.
	e.sched.place = ""
	unplaced := e.createVolume(`{"volume": {"size": 1}}`)
	e.del("/v3/admin/volumes/"+unplaced).fault(t, http.StatusBadRequest, "badRequest")
	e.del("/v3/admin/volumes/"+unplaced+"?force=true").expect(t, http.StatusAccepted)
	unscheduled := e.createVolume(`{"volume": {"size": 1}}`)
	e.setVolume(unscheduled, func(v *cinder.Volume) { v.Status = cinder.StatusError })
	e.del("/v3/admin/volumes/"+unscheduled).expect(t, http.StatusAccepted)
	for _, id := range []string{unplaced, unscheduled} {
		msg = e.get("/v3/admin/volumes/"+id).fault(t, http.StatusNotFound, "itemNotFound")
		if msg != "Volume "+id+" could not be found." {
			t.Fatalf("after delete: %q", msg)
		}
	}
	if n := len(e.volumes.called()); n != 1 {
		t.Fatalf("cinder-volume asked %d times", n)
	}

	// Not while migrating, even with force.
	e.sched.place = "hostA@fake1#fake"
	migrating := e.createVolume(`{"volume": {"size": 1}}`)
	e.setVolume(migrating, func(v *cinder.Volume) { v.MigrationStatus = cinder.MigrationMigrating })
	e.del("/v3/admin/volumes/"+migrating).fault(t, http.StatusBadRequest, "badRequest")
	e.del("/v3/admin/volumes/"+migrating+"?force=true").fault(t, http.StatusBadRequest, "badRequest")

	// The message bus unreachable: 503, and the volume as it was.
	e.volumes.castErr = errBrokerDown
	failing := e.createVolume(`{"volume": {"size": 1}}`)
	e.del("/v3/admin/volumes/"+failing).fault(t, http.StatusServiceUnavailable, "serviceUnavailable")
	if st := e.volume(failing).Status; st != cinder.StatusAvailable {
		t.Fatalf("status %s after a failed delete cast", st)
	}
	e.setVolume(failing, func(v *cinder.Volume) { v.Status = cinder.StatusError })
	e.del("/v3/admin/volumes/"+failing+"?force=true").fault(t, http.StatusServiceUnavailable, "serviceUnavailable")
	if st := e.volume(failing).Status; st != cinder.StatusError {
		t.Fatalf("status %s after a failed force delete cast", st)
	}
}

func TestBadVolumeInput(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	action := "/v3/admin/volumes/" + id + "/action"
	for _, tc := range []struct {
		name          string
		rq            req
		status        int
		kind, message string
	}{
		{"malformed JSON", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 1,`}, 400, "badRequest", "Malformed request body"},
		{"no body", req{method: "POST", path: "/v3/admin/volumes"}, 400, "badRequest", "Missing required element 'volume' in request body."},
		{"no volume", req{method: "POST", path: "/v3/admin/volumes", body: `{"size": 1}`}, 400, "badRequest", "Additional properties are not allowed ('size' was unexpected)"},
		{"not an object", req{method: "POST", path: "/v3/admin/volumes", body: `[1]`}, 400, "badRequest", "Malformed request body: expected a JSON object."},
		{"size -1", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": -1}}`}, 400, "badRequest",
			"Invalid input for field/attribute size. Value: -1. -1 is less than the minimum of 1"},
		{"size 0", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 0}}`}, 400, "badRequest",
			"Invalid input for field/attribute size. Value: 0. 0 is less than the minimum of 1"},
		{"size abc", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": "abc"}}`}, 400, "badRequest",
			"Invalid input for field/attribute size. Value: abc. 'abc' does not match '^[0-9]+$'"},
		{"size 1.5", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 1.5}}`}, 400, "badRequest",
			"Invalid input for field/attribute size. Value: 1.5. 1.5 is not of type 'integer', 'string'"},
		{"size too big for Cinder", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 99999999999999999999}}`}, 400, "badRequest",
			"Invalid input for field/attribute size. Value: 99999999999999999999. 99999999999999999999 is greater than the maximum of 2147483647"},
		{"no size", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"name": "x"}}`}, 400, "badRequest",
			"Invalid input received: Volume size 'None' must be an integer and greater than 0"},
		{"size over quota", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 1000000000}}`}, 413, "overLimit",
			"VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested 1000000000G, quota is 1000G and 1G has been consumed."},
		{"name too long", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 1, "name": "` + strings.Repeat("n", 256) + `"}}`}, 400, "badRequest",
			"Invalid input received: name has 256 characters, more than 255."},
		{"unknown field at 3.53+", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 1, "colour": "red"}}`}, 400, "badRequest",
			"Invalid input for field/attribute volume. Additional properties are not allowed ('colour' was unexpected)"},
		{"bad metadata key", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 1, "metadata": {"a*b": "c"}}}`}, 400, "badRequest",
			"Invalid input for field/attribute metadata. Additional properties are not allowed ('a*b' was unexpected)"},
		{"from a missing snapshot", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 1, "snapshot_id": "9c2d5e62-0000-4000-8000-000000000000"}}`}, 404, "itemNotFound",
			"Snapshot 9c2d5e62-0000-4000-8000-000000000000 could not be found."},
		{"from a missing volume", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"source_volid": "9c2d5e62-0000-4000-8000-000000000000"}}`}, 404, "itemNotFound",
			"Volume 9c2d5e62-0000-4000-8000-000000000000 could not be found."},
		{"from a backup", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 1, "backup_id": "9c2d5e62-0000-4000-8000-000000000000"}}`}, 400, "badRequest",
			"Invalid input received: creating a volume from a backup (backup_id) is not supported."},
		{"multiattach", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 1, "multiattach": true}}`}, 400, "badRequest", ""},
		{"wrong content type", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 1}}`, headers: []string{"Content-Type", "text/plain"}}, 415, "badMediaType", "Unsupported Content-Type"},
		{"oversize body", req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 1, "description": "` + strings.Repeat("x", maxBodySize) + `"}}`}, 413, "overLimit",
			"Request is too large. Larger than max_request_body_size (114688)."},
		{"unknown id", req{method: "GET", path: "/v3/admin/volumes/00000000-0000-0000-0000-000000000000"}, 404, "itemNotFound",
			"Volume 00000000-0000-0000-0000-000000000000 could not be found."},
		{"non-uuid id", req{method: "GET", path: "/v3/admin/volumes/not-a-uuid"}, 404, "itemNotFound", "Volume not-a-uuid could not be found."},
		{"delete unknown id", req{method: "DELETE", path: "/v3/admin/volumes/not-a-uuid"}, 404, "itemNotFound", "Volume not-a-uuid could not be found."},
		{"unknown action", req{method: "POST", path: action, body: `{"os-frobnicate": {}}`}, 400, "badRequest",
			"There is no such action: os-frobnicate. Verify the request body and Content-Type header and try again."},
		{"two actions", req{method: "POST", path: action, body: `{"os-extend": {"new_size": 2}, "os-force_delete": {}}`}, 400, "badRequest", "Malformed request body"},
		{"action without body", req{method: "POST", path: action}, 400, "badRequest", "Missing required element 'action' in request body."},
		{"action on unknown volume", req{method: "POST", path: "/v3/admin/volumes/nope/action", body: `{"os-extend": {"new_size": 2}}`}, 404, "itemNotFound", "Volume nope could not be found."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := e.do(tc.rq).fault(t, tc.status, tc.kind)
			if tc.message != "" && msg != tc.message {
				t.Fatalf("message:\n got %q\nwant %q", msg, tc.message)
			}
		})
	}
	quota := e.do(req{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 1000000000}}`})
	if retry := quota.obj(t, "overLimit")["retryAfter"]; retry != "0" {
		t.Fatalf("overLimit retryAfter %v", retry)
	}
	// The server keeps serving, and nothing was created by the bad requests.
	list := e.get("/v3/admin/volumes").expect(t, http.StatusOK)
	if n := len(list.body["volumes"].([]any)); n != 1 {
		t.Fatalf("%d volumes after bad requests", n)
	}
}

// TestListAllTenantsByProject: an admin's all_tenants list takes a
// project_id filter, as Cinder's.
func TestListAllTenantsByProject(t *testing.T) {
	e := newEnv(t)
	mine := e.createVolume(`{"volume": {"size": 1}}`)
	theirs := e.post("/v3/p2/volumes", `{"volume": {"size": 1}}`, "X-Auth-Token", "u2:p2").
		expect(t, http.StatusAccepted).obj(t, "volume")["id"].(string)
	for query, want := range map[string][]string{
		"all_tenants=1":                  {mine, theirs},
		"all_tenants=1&project_id=p2":    {theirs},
		"all_tenants=1&project_id=admin": {mine},
		"all_tenants=1&project_id=none":  {},
	} {
		var got []string
		for _, v := range e.get("/v3/admin/volumes?"+query).expect(t, http.StatusOK).body["volumes"].([]any) {
			got = append(got, v.(map[string]any)["id"].(string))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", query, got, want)
		}
	}
}

// TestListByMetadata: the metadata filter, as python-cinderclient and
// Tempest send it ({'k': 'v'}) or as JSON.
func TestListByMetadata(t *testing.T) {
	e := newEnv(t)
	tagged := e.createVolume(`{"volume": {"size": 1, "metadata": {"Type": "work", "k": "v"}}}`)
	e.createVolume(`{"volume": {"size": 1, "metadata": {"Type": "play"}}}`)
	for _, q := range []string{`{'Type': 'work'}`, `{"Type": "work", "k": "v"}`} {
		vols := e.get("/v3/admin/volumes/detail?metadata="+url.QueryEscape(q)).expect(t, http.StatusOK).body["volumes"].([]any)
		if len(vols) != 1 || vols[0].(map[string]any)["id"] != tagged {
			t.Errorf("metadata=%s: %v", q, vols)
		}
	}
	// As Cinder's _process_volume_filters, a filter that is no dictionary selects no volume.
	if vols := e.get("/v3/admin/volumes?metadata="+url.QueryEscape("[1]")).expect(t, http.StatusOK).body["volumes"].([]any); len(vols) != 0 {
		t.Errorf("metadata=[1]: %v", vols)
	}
}
