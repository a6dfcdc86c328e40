package api

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cinder-go/cinder"
)

func (f *fakeVolumes) AcceptTransfer(ctx context.Context, v *cinder.Volume, user, project string, noSnapshots bool) error {
	f.record("accept_transfer " + v.ID + " " + project)
	return f.castErr
}

func (f *fakeVolumes) FreezeHost(ctx context.Context, host string) error {
	f.record("freeze_host " + host)
	return f.castErr
}

func (f *fakeVolumes) ThawHost(ctx context.Context, host string) error {
	f.record("thaw_host " + host)
	return f.castErr
}

func (f *fakeVolumes) ExtendVolumeCompletion(ctx context.Context, v *cinder.Volume, newSize int, hasError bool) error {
	f.record(fmt.Sprintf("extend_completion %s %d %t", v.ID, newSize, hasError))
	return f.castErr
}

// transferKeys are the keys of a transfer's detail, by microversion.
var (
	transferDetailKeys  = []string{"id", "created_at", "name", "volume_id", "links"}
	transferHistoryKeys = append(slices.Clone(transferDetailKeys), "no_snapshots", "destination_project_id", "source_project_id", "accepted")
)

// TestTransferViews creates, shows and lists transfers on both routes at
// the microversions that change them: keys in Cinder's order, links into
// os-volume-transfer, the auth key only in the create's answer.
func TestTransferViews(t *testing.T) {
	e := newEnv(t)
	vol := e.createVolume(`{"volume": {"size": 1}}`)
	r := e.post("/v3/admin/os-volume-transfer", `{"transfer": {"volume_id": "`+vol+`", "name": " t1 "}}`,
		"OpenStack-API-Version", "volume 3.0").expect(t, http.StatusAccepted)
	sameKeys(t, "create at 3.0", r.keys(t, "transfer"), []string{"id", "created_at", "name", "volume_id", "auth_key", "links"})
	tr := r.obj(t, "transfer")
	if tr["name"] != "t1" || tr["volume_id"] != vol || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(tr["auth_key"].(string)) {
		t.Fatalf("created %v", tr)
	}
	id := tr["id"].(string)
	self := tr["links"].([]any)[0].(map[string]any)["href"].(string)
	if !strings.HasSuffix(self, "/v3/admin/os-volume-transfer/"+id) {
		t.Fatalf("self link %s", self)
	}
	if st := e.volume(vol).Status; st != cinder.StatusAwaitingTransfer {
		t.Fatalf("volume %s", st)
	}

	show := e.get("/v3/admin/volume-transfers/"+id, "OpenStack-API-Version", "volume 3.57").expect(t, http.StatusOK)
	sameKeys(t, "show at 3.57", show.keys(t, "transfer"), transferHistoryKeys)
	if got := show.obj(t, "transfer"); got["source_project_id"] != "admin" || got["destination_project_id"] != nil ||
		got["accepted"] != false || got["no_snapshots"] != false || got["auth_key"] != nil {
		t.Fatalf("show %v", got)
	}
	sameKeys(t, "show at 3.0", e.get("/v3/admin/os-volume-transfer/"+id, "OpenStack-API-Version", "").keys(t, "transfer"), transferDetailKeys)
	list := e.get("/v3/admin/volume-transfers").expect(t, http.StatusOK)
	sameKeys(t, "summary", list.keys(t, "transfers", "0"), []string{"id", "volume_id", "name", "links"})
	sameKeys(t, "detail at 3.0", e.get("/v3/admin/os-volume-transfer/detail", "OpenStack-API-Version", "").keys(t, "transfers", "0"), transferDetailKeys)

	// no_snapshots from 3.55, and only on /volume-transfers.
	v2 := e.createVolume(`{"volume": {"size": 1}}`)
	body := `{"transfer": {"volume_id": "` + v2 + `", "no_snapshots": true}}`
	for path, version := range map[string]string{"/v3/admin/volume-transfers": "volume 3.54", "/v3/admin/os-volume-transfer": "volume 3.57"} {
		msg := e.post(path, body, "OpenStack-API-Version", version).fault(t, http.StatusBadRequest, "badRequest")
		if !strings.Contains(msg, "Additional properties are not allowed ('no_snapshots' was unexpected)") {
			t.Fatalf("%s at %s: %s", path, version, msg)
		}
	}
	r = e.post("/v3/admin/volume-transfers", body, "OpenStack-API-Version", "volume 3.57").expect(t, http.StatusAccepted)
	sameKeys(t, "create at 3.57", r.keys(t, "transfer"),
		[]string{"id", "created_at", "name", "volume_id", "auth_key", "links", "no_snapshots", "destination_project_id", "source_project_id", "accepted"})
	if r.obj(t, "transfer")["no_snapshots"] != true || r.obj(t, "transfer")["name"] != nil {
		t.Fatalf("create at 3.57: %s", r.raw)
	}
}

// TestTransferFaults: bad bodies, unknown ids and volumes, a volume not
// available, each with Cinder's fault.
func TestTransferFaults(t *testing.T) {
	e := newEnv(t)
	vol := e.createVolume(`{"volume": {"size": 1}}`)
	for _, tc := range []struct {
		body, want string
		status     int
	}{
		{`{"transfer": {}}`, "'volume_id' is a required property", 400},
		{`{"transfer": {"volume_id": "x"}}`, "'x' is not a 'uuid'", 400},
		{`{"transfer": {"volume_id": "` + vol + `", "name": "  "}}`, "is not valid under any of the given schemas", 400},
		{`{"transfer": {"volume_id": "` + vol + `", "name": 5}}`, "is not valid under any of the given schemas", 400},
		{`{"transfer": {"volume_id": "` + vol + `", "extra": 1}}`, "'extra' was unexpected", 400},
		{`{"other": {}}`, "Additional properties are not allowed", 400},
		{`{"transfer": {"volume_id": "00000000-0000-0000-0000-000000000000"}}`, "could not be found", 404},
	} {
		r := e.post("/v3/admin/volume-transfers", tc.body)
		kind := map[int]string{400: "badRequest", 404: "itemNotFound"}[tc.status]
		if msg := r.fault(t, tc.status, kind); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %s, want %q", tc.body, msg, tc.want)
		}
	}
	e.setVolume(vol, func(v *cinder.Volume) { v.Status = cinder.StatusInUse })
	if msg := e.post("/v3/admin/volume-transfers", `{"transfer": {"volume_id": "`+vol+`"}}`).fault(t, 400, "badRequest"); msg != "Invalid volume: status must be available" {
		t.Fatalf("in-use volume: %s", msg)
	}
	e.get("/v3/admin/volume-transfers/"+vol).fault(t, 404, "itemNotFound")
	e.del("/v3/admin/os-volume-transfer/"+vol).fault(t, 404, "itemNotFound")
	e.post("/v3/admin/volume-transfers/"+vol+"/accept", `{"accept": {"auth_key": "k"}}`).fault(t, 404, "itemNotFound")
	for body, want := range map[string]string{
		`{"accept": {}}`:                        "'auth_key' is a required property",
		`{"accept": {"auth_key": 1.5}}`:         "is not of type 'string', 'integer'",
		`{"accept": {"auth_key": "k", "x": 1}}`: "'x' was unexpected",
		`{}`:                                    "Missing required element 'accept'",
	} {
		if msg := e.post("/v3/admin/volume-transfers/"+vol+"/accept", body).fault(t, 400, "badRequest"); !strings.Contains(msg, want) {
			t.Errorf("accept %s: %s, want %q", body, msg, want)
		}
	}
}

// TestTransferAccept: another project accepts with the key and owns the
// volume; a wrong key is 400, a quota too small 413 in Cinder's words; a
// delete gives the volume back.
func TestTransferAccept(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.QuotaGigabytes = 5 })
	vol := e.createVolume(`{"volume": {"size": 3}}`)
	tr := e.post("/v3/admin/volume-transfers", `{"transfer": {"volume_id": "`+vol+`"}}`).expect(t, http.StatusAccepted).obj(t, "transfer")
	id, key := tr["id"].(string), tr["auth_key"].(string)
	p2 := []string{"X-Auth-Token", "u2:p2"}

	msg := e.post("/v3/p2/volume-transfers/"+id+"/accept", `{"accept": {"auth_key": "bad"}}`, p2...).fault(t, 400, "badRequest")
	if msg != "Invalid auth key: Attempt to transfer "+id+" with invalid auth key." {
		t.Fatalf("wrong key: %s", msg)
	}
	full := e.createVolumeWithToken("u2:p2", 3)
	r := e.post("/v3/p2/volume-transfers/"+id+"/accept", `{"accept": {"auth_key": "`+key+`"}}`, p2...)
	if msg := r.fault(t, 413, "overLimit"); !strings.HasPrefix(msg, "Requested volume or snapshot exceeds allowed gigabytes quota.") ||
		r.obj(t, "overLimit")["retryAfter"] != "0" {
		t.Fatalf("over quota: %s", r.raw)
	}
	e.setVolume(full, func(v *cinder.Volume) { v.Size = 1 })

	r = e.post("/v3/p2/volume-transfers/"+id+"/accept", `{"accept": {"auth_key": "`+key+`"}}`, p2...).expect(t, http.StatusAccepted)
	sameKeys(t, "accept", r.keys(t, "transfer"), []string{"id", "volume_id", "name", "links"})
	if v := e.volume(vol); v.ProjectID != "p2" || v.UserID != "u2" || v.Status != cinder.StatusAvailable {
		t.Fatalf("volume after accept: %s %s %s", v.ProjectID, v.UserID, v.Status)
	}
	if !slices.Contains(e.volumes.called(), "accept_transfer "+vol+" p2") {
		t.Fatalf("backend not told: %v", e.volumes.called())
	}
	e.get("/v3/admin/volume-transfers/"+id).fault(t, 404, "itemNotFound")

	// An integer key is a key too; a delete gives the volume back.
	v2 := e.createVolume(`{"volume": {"size": 1}}`)
	id2 := e.post("/v3/admin/os-volume-transfer", `{"transfer": {"volume_id": "`+v2+`"}}`).expect(t, 202).obj(t, "transfer")["id"].(string)
	e.post("/v3/p2/os-volume-transfer/"+id2+"/accept", `{"accept": {"auth_key": 12345}}`, p2...).fault(t, 400, "badRequest")
	e.del("/v3/admin/os-volume-transfer/"+id2).expect(t, http.StatusAccepted)
	if v := e.volume(v2); v.Status != cinder.StatusAvailable {
		t.Fatalf("volume after delete: %s", v.Status)
	}
}

// createVolumeWithToken creates a volume of size GiB with token user:project and
// returns its id.
func (e *env) createVolumeWithToken(token string, size int) string {
	e.t.Helper()
	project := token[strings.Index(token, ":")+1:]
	r := e.post("/v3/"+project+"/volumes", fmt.Sprintf(`{"volume": {"size": %d}}`, size), "X-Auth-Token", token)
	return r.expect(e.t, http.StatusAccepted).obj(e.t, "volume")["id"].(string)
}

// TestTransferLists: a project lists its own transfers, an admin every
// project's with all_tenants; from 3.59 /volume-transfers pages and sorts,
// before it (and on /os-volume-transfer) a page parameter is a filter that
// selects nothing, as Cinder.
func TestTransferLists(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for _, token := range []string{"admin:admin", "admin:admin", "u2:p2"} {
		project := token[strings.Index(token, ":")+1:]
		vol := e.createVolumeWithToken(token, 1)
		ids = append(ids, e.post("/v3/"+project+"/volume-transfers", `{"transfer": {"volume_id": "`+vol+`", "name": "n-`+project+`"}}`,
			"X-Auth-Token", token).expect(t, 202).obj(t, "transfer")["id"].(string))
	}
	listed := func(r *response) []string {
		var out []string
		for _, item := range r.expect(t, http.StatusOK).body["transfers"].([]any) {
			out = append(out, item.(map[string]any)["id"].(string))
		}
		return out
	}
	v358, v359 := []string{"OpenStack-API-Version", "volume 3.58"}, []string{"OpenStack-API-Version", "volume 3.59"}
	for _, tc := range []struct {
		path    string
		headers []string
		want    []string
	}{
		{"/v3/admin/volume-transfers", v358, ids[:2]},
		{"/v3/admin/volume-transfers?all_tenants=1", v358, ids},
		{"/v3/admin/volume-transfers?name=n-p2&all_tenants=true", v358, ids[2:]},
		{"/v3/admin/volume-transfers?project_id=p2&all_tenants=1", v358, ids[2:]},
		{"/v3/admin/volume-transfers?project_id=p2", v358, ids[:2]},
		{"/v3/admin/volume-transfers?limit=1", v358, nil},
		{"/v3/admin/os-volume-transfer?limit=1", v359, nil},
		{"/v3/admin/volume-transfers?foo=bar", v359, nil},
		{"/v3/admin/volume-transfers?all_tenants=1", v359, []string{ids[2], ids[1], ids[0]}},
		{"/v3/admin/volume-transfers?all_tenants=1&sort=created_at:asc&limit=2", v359, ids[:2]},
		{"/v3/admin/volume-transfers?all_tenants=1&sort=created_at:asc&marker=" + ids[0], v359, ids[1:]},
		{"/v3/p2/os-volume-transfer", []string{"X-Auth-Token", "u2:p2"}, ids[2:]},
	} {
		if got := listed(e.get(tc.path, tc.headers...)); !slices.Equal(got, tc.want) {
			t.Errorf("%s %v: %v, want %v", tc.path, tc.headers, got, tc.want)
		}
	}
	r := e.get("/v3/admin/volume-transfers/detail?all_tenants=1&limit=1&sort=created_at:asc", v359...)
	next := r.body["transfers_links"].([]any)[0].(map[string]any)["href"].(string)
	if !strings.Contains(next, "/v3/admin/os-volume-transfer?") || !strings.Contains(next, "marker="+ids[0]) {
		t.Fatalf("next link %s", next)
	}
	e.get("/v3/admin/volume-transfers?limit=x").fault(t, 400, "badRequest")
	e.get("/v3/admin/volume-transfers?marker=nope", v359...).fault(t, 404, "itemNotFound")
	e.get("/v3/admin/volume-transfers?sort=size", v359...).fault(t, 400, "badRequest")
}

// TestTransferEncrypted: an encrypted volume is offered only on
// /volume-transfers from 3.70 and with its snapshots, Cinder's
// InvalidVolume before and on os-volume-transfer; once accepted its
// encryption key id is still ConfKeyManager's fixed key, as Cinder's key
// transfer through that key manager leaves it.
func TestTransferEncrypted(t *testing.T) {
	e := newEnv(t)
	typ := e.newType(`"name": "secret"`)
	e.post("/v3/admin/types/"+typ+"/encryption", `{"encryption": {"provider": "luks", "cipher": "aes-xts-plain64", "key_size": 256, "control_location": "front-end"}}`).
		expect(t, http.StatusOK)
	vol := e.createVolume(`{"volume": {"size": 1, "volume_type": "secret"}}`)
	body := `{"transfer": {"volume_id": "` + vol + `"}}`
	for _, tc := range []struct{ path, body, version, msg string }{
		{"volume-transfers", body, "3.69", "Invalid volume: transferring encrypted volume is not supported"},
		{"os-volume-transfer", body, "3.70", "Invalid volume: transferring encrypted volume is not supported"},
		{"volume-transfers", `{"transfer": {"volume_id": "` + vol + `", "no_snapshots": true}}`, "3.70",
			"Invalid volume: transferring an encrypted volume without its snapshots is not supported"},
	} {
		if msg := e.post("/v3/admin/"+tc.path, tc.body, "OpenStack-API-Version", "volume "+tc.version).fault(t, http.StatusBadRequest, "badRequest"); msg != tc.msg {
			t.Errorf("%s at %s: %q, want %q", tc.path, tc.version, msg, tc.msg)
		}
	}
	if v := e.volume(vol); v.Status != cinder.StatusAvailable {
		t.Fatalf("volume after refused transfers: %s", v.Status)
	}
	tr := e.post("/v3/admin/volume-transfers", body, "OpenStack-API-Version", "volume 3.70").expect(t, http.StatusAccepted).obj(t, "transfer")
	p2 := []string{"X-Auth-Token", "u2:p2", "OpenStack-API-Version", "volume 3.70"}
	e.post("/v3/p2/volume-transfers/"+tr["id"].(string)+"/accept", `{"accept": {"auth_key": "`+tr["auth_key"].(string)+`"}}`, p2...).
		expect(t, http.StatusAccepted)
	if v := e.volume(vol); v.ProjectID != "p2" || v.Status != cinder.StatusAvailable {
		t.Fatalf("volume after accept: %s %s", v.ProjectID, v.Status)
	}
	enc := e.get("/v3/p2/volumes/"+vol+"/encryption", p2...).expect(t, http.StatusOK)
	if enc.body["encryption_key_id"] != cinder.FixedKeyID || enc.body["provider"] != "luks" {
		t.Fatalf("encryption after accept: %s", enc.raw)
	}
}
