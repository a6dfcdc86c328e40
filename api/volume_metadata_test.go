package api

import (
	"net/http"
	"testing"

	"github.com/cinder-go/cinder"
)

// TestVolumeMetadata: /volumes/{id}/metadata merges, replaces, shows,
// updates and deletes one key, with Cinder's faults for a wrong body, a
// missing key and a volume in maintenance.
func TestVolumeMetadata(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1, "metadata": {"a": "1"}}}`)
	meta := "/v3/admin/volumes/" + id + "/metadata"

	if md := e.post(meta, `{"metadata": {"b": "2"}}`).expect(t, http.StatusOK).obj(t, "metadata"); len(md) != 2 || md["a"] != "1" {
		t.Fatalf("merged %v", md)
	}
	if md := e.put(meta, `{"metadata": {"c": "3"}}`).expect(t, http.StatusOK).obj(t, "metadata"); len(md) != 1 || md["c"] != "3" {
		t.Fatalf("replaced %v", md)
	}
	if md := e.get(meta).expect(t, http.StatusOK).obj(t, "metadata"); len(md) != 1 || md["c"] != "3" {
		t.Fatalf("shown %v", md)
	}
	if m := e.put(meta+"/c", `{"meta": {"c": "4"}}`).expect(t, http.StatusOK).obj(t, "meta"); m["c"] != "4" {
		t.Fatalf("key updated to %v", m)
	}
	if m := e.get(meta+"/c").expect(t, http.StatusOK).obj(t, "meta"); len(m) != 1 || m["c"] != "4" {
		t.Fatalf("key shown %v", m)
	}
	for _, tc := range []struct{ method, path, body, msg string }{
		{"PUT", "/c", `{"meta": {"d": "4"}}`, "Request body and URI mismatch"},
		{"PUT", "/c", `{"meta": {"c": "4", "d": "5"}}`, `Invalid input for field/attribute meta. Value: {"c":"4","d":"5"}. {"c":"4","d":"5"} has too many properties`},
		{"PUT", "/c", `{"meta": {}}`, "Invalid input for field/attribute meta. Value: {}. {} does not have enough properties"},
		{"PUT", "/c", `{"metadata": {"c": "4"}}`, "Missing required element 'meta' in request body."},
		{"POST", "", `{"metadata": {"k": "v"}, "x": 1}`, "Additional properties are not allowed ('x' was unexpected)"},
		{"POST", "", `{"metadata": {"a*b": "v"}}`, "Invalid input for field/attribute metadata. Additional properties are not allowed ('a*b' was unexpected)"},
		{"PUT", "", `{"metadata": {"k": 1}}`, "Invalid input for field/attribute k. Value: 1. 1 is not of type 'string'"},
		{"PUT", "", `{"metadata": []}`, "Invalid input for field/attribute metadata. Value: []. [] is not of type 'object'"},
	} {
		r := e.do(req{method: tc.method, path: meta + tc.path, body: tc.body})
		if msg := r.fault(t, http.StatusBadRequest, "badRequest"); msg != tc.msg {
			t.Errorf("%s %s %s: %q, want %q", tc.method, tc.path, tc.body, msg, tc.msg)
		}
	}
	if msg := e.get(meta+"/nope").fault(t, http.StatusNotFound, "itemNotFound"); msg != "Volume "+id+" has no metadata with key nope." {
		t.Errorf("missing key: %q", msg)
	}
	e.del(meta+"/c").expect(t, http.StatusOK)
	if msg := e.del(meta+"/c").fault(t, http.StatusNotFound, "itemNotFound"); msg != "Volume "+id+" has no metadata with key c." {
		t.Errorf("delete of a missing key: %q", msg)
	}
	e.get("/v3/admin/volumes/00000000-0000-0000-0000-000000000000/metadata").fault(t, http.StatusNotFound, "itemNotFound")

	e.post(meta, `{"metadata": {"k": "v"}}`).expect(t, http.StatusOK)
	e.setVolume(id, func(v *cinder.Volume) { v.Status = cinder.StatusMaintenance })
	for _, r := range []*response{e.post(meta, `{"metadata": {"x": "y"}}`), e.put(meta, `{"metadata": {}}`),
		e.put(meta+"/k", `{"meta": {"k": "w"}}`), e.del(meta + "/k")} {
		msg := r.fault(t, http.StatusBadRequest, "badRequest")
		if msg != "Invalid volume: Updating volume metadata is not allowed for volumes in maintenance status." &&
			msg != "Invalid volume: Deleting volume metadata is not allowed for volumes in maintenance status." {
			t.Errorf("in maintenance: %q", msg)
		}
	}
	if md := e.volume(id).Metadata; len(md) != 1 || md["k"] != "v" {
		t.Fatalf("metadata changed in maintenance: %v", md)
	}
}

// TestVolumeMetadataETags: from 3.15 GET …/metadata carries Cinder's ETag
// (the MD5 of its body) and a PUT with If-Match naming another answers
// 412, as webob matches tags: quoted or as the whole value, weak never.
func TestVolumeMetadataETags(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1, "metadata": {"b": "2"}}}`)
	meta := "/v3/admin/volumes/" + id + "/metadata"
	if tag := e.get(meta, "OpenStack-API-Version", "volume 3.14").expect(t, http.StatusOK).header.Get("Etag"); tag != "" {
		t.Fatalf("ETag at 3.14: %q", tag)
	}
	tag := e.get(meta, "OpenStack-API-Version", "volume 3.15").expect(t, http.StatusOK).header.Get("Etag")
	if tag != "987deff4fa633c445dd6b0e3cbad6bbc" { // md5 of Python's json.dumps({"metadata": {"b": "2"}})
		t.Fatalf("ETag %q", tag)
	}
	for _, tc := range []struct {
		ifMatch, version string
		status           int
	}{
		{"0123", "volume 3.15", http.StatusPreconditionFailed},
		{`W/"` + tag + `"`, "volume 3.15", http.StatusPreconditionFailed},
		{"0123", "volume 3.14", http.StatusOK}, // no ETags before 3.15
		{"*", "volume 3.15", http.StatusOK},
		{`"0123", "` + tag + `"`, "volume 3.15", http.StatusOK},
		{tag, "volume 3.15", http.StatusOK}, // as cinderclient sends it
	} {
		e.put(meta, `{"metadata": {"b": "2"}}`).expect(t, http.StatusOK) // the tag's metadata again
		for _, path := range []string{meta, meta + "/b"} {
			body := map[bool]string{true: `{"metadata": {"b": "3"}}`, false: `{"meta": {"b": "3"}}`}[path == meta]
			r := e.put(path, body, "If-Match", tc.ifMatch, "OpenStack-API-Version", tc.version)
			if r.status != tc.status {
				t.Errorf("PUT %s If-Match %s at %s: %d, want %d: %s", path, tc.ifMatch, tc.version, r.status, tc.status, r.raw)
			}
			e.put(meta, `{"metadata": {"b": "2"}}`).expect(t, http.StatusOK)
		}
	}
}

// TestImageMetadataActions: os-set_image_metadata, os-show_image_metadata
// and os-unset_image_metadata, and volume_image_metadata in show and
// detail (not in create or update, nor when empty), as Cinder's extension.
func TestImageMetadataActions(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	action := "/v3/admin/volumes/" + id + "/action"
	if _, ok := e.get("/v3/admin/volumes/"+id).obj(t, "volume")["volume_image_metadata"]; ok {
		t.Fatal("volume_image_metadata shown with none")
	}
	md := e.post(action, `{"os-set_image_metadata": {"metadata": {"image_name": "cirros", "os": "linux"}}}`).expect(t, http.StatusOK).obj(t, "metadata")
	if len(md) != 2 || md["image_name"] != "cirros" {
		t.Fatalf("set: %v", md)
	}
	if got := e.get("/v3/admin/volumes/"+id).obj(t, "volume", "volume_image_metadata"); len(got) != 2 || got["os"] != "linux" {
		t.Fatalf("show: %v", got)
	}
	if got := e.get("/v3/admin/volumes/detail").obj(t, "volumes", "0", "volume_image_metadata"); got["image_name"] != "cirros" {
		t.Fatalf("detail: %v", got)
	}
	if _, ok := e.put("/v3/admin/volumes/"+id, `{"volume": {"name": "n"}}`).obj(t, "volume")["volume_image_metadata"]; ok {
		t.Fatal("volume_image_metadata in an update's view")
	}
	if md := e.get("/v3/admin/volumes/"+id+"/metadata").obj(t, "metadata"); len(md) != 0 {
		t.Fatalf("image metadata in metadata: %v", md)
	}
	e.post(action, `{"os-unset_image_metadata": {"key": "os"}}`).expect(t, http.StatusOK)
	if md := e.post(action, `{"os-show_image_metadata": null}`).expect(t, http.StatusOK).obj(t, "metadata"); len(md) != 1 || md["image_name"] != "cirros" {
		t.Fatalf("after unset: %v", md)
	}
	if msg := e.post(action, `{"os-unset_image_metadata": {"key": "os"}}`).fault(t, http.StatusNotFound, "itemNotFound"); msg != "Glance metadata for volume/snapshot "+id+" cannot be found." {
		t.Errorf("unset of a missing key: %q", msg)
	}
	for body, msg := range map[string]string{
		`{"os-set_image_metadata": {}}`:                               "Invalid input for field/attribute os-set_image_metadata. Value: {}. 'metadata' is a required property",
		`{"os-set_image_metadata": {"metadata": {"k": "v"}, "x": 1}}`: "Invalid input for field/attribute os-set_image_metadata. Additional properties are not allowed ('x' was unexpected)",
		`{"os-set_image_metadata": {"metadata": {"k": 2}}}`:           "Invalid input for field/attribute k. Value: 2. 2 is not of type 'string'",
		`{"os-unset_image_metadata": {"key": ""}}`:                    "Invalid input for field/attribute key. Value: . '' is too short",
		`{"os-unset_image_metadata": {"key": 1}}`:                     "Invalid input for field/attribute key. Value: 1. 1 is not of type 'string'",
		`{"os-unset_image_metadata": []}`:                             "Invalid input for field/attribute os-unset_image_metadata. Value: []. [] is not of type 'object'",
	} {
		if got := e.post(action, body).fault(t, http.StatusBadRequest, "badRequest"); got != msg {
			t.Errorf("%s: %q, want %q", body, got, msg)
		}
	}
}

// TestBootableAndReadonly: os-set_bootable and os-update_readonly_flag,
// readonly shown in the volume's metadata as Cinder shows its visible
// admin metadata, but not in GET …/metadata.
func TestBootableAndReadonly(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1, "metadata": {"k": "v"}}}`)
	action := "/v3/admin/volumes/" + id + "/action"
	for _, tc := range []struct{ value, want string }{{"true", "true"}, {`"False"`, "false"}, {`"1"`, "true"}} {
		if r := e.post(action, `{"os-set_bootable": {"bootable": `+tc.value+`}}`).expect(t, http.StatusOK); len(r.raw) != 0 {
			t.Fatalf("os-set_bootable answered a body: %s", r.raw)
		}
		if got := e.get("/v3/admin/volumes/"+id).obj(t, "volume")["bootable"]; got != tc.want {
			t.Errorf("bootable %s: shown %v", tc.value, got)
		}
	}
	e.post(action, `{"os-update_readonly_flag": {"readonly": true}}`).expect(t, http.StatusAccepted)
	if md := e.get("/v3/admin/volumes/"+id).obj(t, "volume", "metadata"); md["readonly"] != "True" || md["k"] != "v" {
		t.Fatalf("metadata in show: %v", md)
	}
	if md := e.get("/v3/admin/volumes/detail").obj(t, "volumes", "0", "metadata"); md["readonly"] != "True" {
		t.Fatalf("metadata in detail: %v", md)
	}
	if md := e.get("/v3/admin/volumes/"+id+"/metadata").obj(t, "metadata"); len(md) != 1 {
		t.Fatalf("GET metadata shows admin metadata: %v", md)
	}
	// The metadata filter matches admin metadata, as Cinder's.
	if vols := e.get("/v3/admin/volumes?metadata=" + "%7B%27readonly%27%3A+%27True%27%7D").body["volumes"].([]any); len(vols) != 1 {
		t.Fatalf("volumes with readonly True: %v", vols)
	}
	e.post(action, `{"os-update_readonly_flag": {"readonly": "no"}}`).expect(t, http.StatusAccepted)
	if md := e.get("/v3/admin/volumes/"+id).obj(t, "volume", "metadata"); md["readonly"] != "False" {
		t.Fatalf("after readonly no: %v", md)
	}
	for body, status := range map[string]int{
		`{"os-set_bootable": {}}`:                         http.StatusBadRequest,
		`{"os-set_bootable": {"bootable": "maybe"}}`:      http.StatusBadRequest,
		`{"os-set_bootable": {"bootable": true, "x": 1}}`: http.StatusBadRequest,
		`{"os-update_readonly_flag": {}}`:                 http.StatusBadRequest,
		`{"os-update_readonly_flag": {"readonly": 2}}`:    http.StatusBadRequest,
		`{"os-update_readonly_flag": null}`:               http.StatusBadRequest,
	} {
		e.post(action, body).fault(t, status, "badRequest")
	}
	e.setVolume(id, func(v *cinder.Volume) { v.Status = cinder.StatusInUse })
	msg := e.post(action, `{"os-update_readonly_flag": {"readonly": true}}`).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Invalid volume: Volume "+id+" status must be available to update readonly flag, but current status is: in-use." {
		t.Errorf("readonly of an in-use volume: %q", msg)
	}
	e.setVolume(id, func(v *cinder.Volume) { v.Status = cinder.StatusMaintenance })
	if msg := e.post(action, `{"os-set_bootable": {"bootable": true}}`).fault(t, http.StatusBadRequest, "badRequest"); msg != "Invalid volume: The volume cannot be updated during maintenance." {
		t.Errorf("bootable in maintenance: %q", msg)
	}
}
