package api

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cinder-go/cinder"
)

// ManageExisting plays scheduler and backend at once: the volume becomes
// available, 3 GiB, on its host.
func (f *fakeScheduler) ManageExisting(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec, ref map[string]any) error {
	_, err := f.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		v.Status, v.Size = cinder.StatusAvailable, 3
		return nil
	})
	return err
}

func (f *fakeScheduler) ManageExistingSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot, ref map[string]any) error {
	return nil
}

func (f *fakeVolumes) UnmanageVolume(ctx context.Context, v *cinder.Volume) error {
	f.record("unmanage " + v.ID)
	return f.castErr
}

func (f *fakeVolumes) UnmanageSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	f.record("unmanage_snapshot " + s.ID)
	return f.castErr
}

// GetManageable answers one file, safe, and one owned by a volume.
func (f *fakeVolumes) GetManageable(ctx context.Context, host string, snapshots bool, marker string, limit, offset int, sortKeys, sortDirs []string) ([]map[string]any, error) {
	f.record("manageable " + host + " " + strings.Join(sortKeys, ",") + ":" + strings.Join(sortDirs, ","))
	id := "d3c0a3d1-0000-4000-8000-000000000001"
	return []map[string]any{
		{"reference": map[string]any{"source-name": "disk1"}, "size": 2, "safe_to_manage": true, "reason_not_safe": nil, "cinder_id": nil, "extra_info": nil},
		{"reference": map[string]any{"source-name": "volume-" + id}, "size": 1, "safe_to_manage": false, "reason_not_safe": "already managed", "cinder_id": id, "extra_info": nil},
	}, f.castErr
}

func TestManageVolume(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	v := e.post("/v3/admin/os-volume-manage", `{"volume": {"host": "hostA@fake1#fake", "ref": {"source-name": "disk1"}, "name": " m ", "bootable": true, "metadata": {"k": "v"}}}`).
		expect(t, http.StatusAccepted).obj(t, "volume")
	if v["status"] != "creating" || v["name"] != "m" || v["os-vol-host-attr:host"] != "hostA@fake1#fake" || v["size"] != 0.0 {
		t.Fatalf("manage view %v", v)
	}
	got := e.get("/v3/admin/volumes/"+v["id"].(string)).expect(t, http.StatusOK).obj(t, "volume")
	if got["status"] != "available" || got["size"] != 3.0 || got["bootable"] != "true" {
		t.Fatalf("managed volume %v", got)
	}
	e.post("/v3/admin/volumes/"+v["id"].(string)+"/action", `{"os-unmanage": null}`).expect(t, http.StatusAccepted)
	if calls := e.volumes.called(); !slices.Contains(calls, "unmanage "+v["id"].(string)) {
		t.Fatalf("calls %v", calls)
	}
}

func TestManageBadInput(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	for _, tc := range []struct {
		body   string
		status int
		kind   string
	}{
		{`{"volume": {"host": "hostA@fake1"}}`, 400, "badRequest"},
		{`{"volume": {"ref": {"source-name": "d"}}}`, 400, "badRequest"},
		{`{"volume": {"host": "hostA@fake1", "ref": 3}}`, 400, "badRequest"},
		{`{"volume": {"host": "bad host!", "ref": {"source-name": "d"}}}`, 400, "badRequest"},
		{`{"volume": {"host": "hostA@fake1", "ref": {"source-name": "d"}, "size": 1}}`, 400, "badRequest"},
		{`{"volume": {"host": "hostA@fake1", "ref": {"source-name": "d"}, "bootable": "maybe"}}`, 400, "badRequest"},
		{`{"volume": {"host": "nowhere@b", "ref": {"source-name": "d"}}}`, 404, "itemNotFound"},
		{`{"volume": {"host": "hostA@fake1", "ref": {"source-name": "../../etc/passwd"}}}`, 400, "badRequest"},
		{`{"volume": {"host": "hostA@fake1", "ref": "/dev/sda"}}`, 400, "badRequest"},
		{`{"volume": {"host": "hostA@fake1", "ref": {"source-name": "volume-` + id + `"}}}`, 400, "badRequest"},
		{`{"volume": {"host": "hostA@fake1", "ref": {"source-name": "d"}, "volume_type": "nope"}}`, 400, "badRequest"},
		{`{"volume": {"host": "hostA@fake1", "cluster": "c", "ref": {"source-name": "d"}}}`, 400, "badRequest"},
	} {
		e.post("/v3/admin/os-volume-manage", tc.body).fault(t, tc.status, tc.kind)
	}
}

func TestManageableVolumes(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	e.get("/v3/admin/manageable_volumes?host=hostA@fake1", "OpenStack-API-Version", "volume 3.7").fault(t, 404, "itemNotFound")
	e.get("/v3/admin/manageable_volumes").fault(t, 400, "badRequest")
	e.get("/v3/admin/manageable_volumes?host=hostA@fake1&sort=name").fault(t, 400, "badRequest")
	e.get("/v3/admin/manageable_volumes?host=hostA@fake1&sort=size:up").fault(t, 400, "badRequest")
	e.get("/v3/admin/manageable_volumes?host=hostB@x").fault(t, 404, "itemNotFound")

	list := e.get("/v3/admin/manageable_volumes?host=hostA@fake1&sort=size:asc").expect(t, http.StatusOK).body["manageable-volumes"].([]any)
	first := list[0].(map[string]any)
	sameKeys(t, "summary", keysOf(first), []string{"reference", "safe_to_manage", "size"})
	detail := e.get("/v3/admin/manageable_volumes/detail?host=hostA@fake1").expect(t, http.StatusOK).body["manageable-volumes"].([]any)
	second := detail[1].(map[string]any)
	sameKeys(t, "detail", keysOf(second), []string{"cinder_id", "extra_info", "reason_not_safe", "reference", "safe_to_manage", "size"})
	if second["reason_not_safe"] != "already managed" || second["safe_to_manage"] != false {
		t.Fatalf("detail %v", second)
	}
	if calls := e.volumes.called(); !slices.Contains(calls, "manageable hostA@fake1 size:asc") || !slices.Contains(calls, "manageable hostA@fake1 reference:desc") {
		t.Fatalf("calls %v", calls)
	}
	snaps := e.get("/v3/admin/manageable_snapshots/detail?host=hostA@fake1").expect(t, http.StatusOK).body["manageable-snapshots"].([]any)
	if _, ok := snaps[0].(map[string]any)["source_reference"]; !ok {
		t.Fatalf("snapshot entry %v", snaps[0])
	}
}

func TestManageSnapshot(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	vid := e.createVolume(`{"volume": {"size": 2}}`)
	e.post("/v3/admin/os-snapshot-manage", `{"snapshot": {"volume_id": "`+vid+`"}}`).fault(t, 400, "badRequest")
	e.post("/v3/admin/os-snapshot-manage", `{"snapshot": {"volume_id": "x", "ref": "s"}}`).fault(t, 400, "badRequest")
	e.post("/v3/admin/os-snapshot-manage", `{"snapshot": {"volume_id": "`+vid+`", "ref": "s", "force": true}}`).fault(t, 400, "badRequest")
	s := e.post("/v3/admin/os-snapshot-manage", `{"snapshot": {"volume_id": "`+vid+`", "ref": {"source-name": "s1"}, "name": "n", "metadata": {"a": "b"}}}`).
		expect(t, http.StatusAccepted).obj(t, "snapshot")
	if s["status"] != "creating" || s["size"] != 2.0 || s["name"] != "n" {
		t.Fatalf("manage view %v", s)
	}
	sid := s["id"].(string)
	e.setSnapshot(sid, func(s *cinder.Snapshot) { s.Status = cinder.SnapshotAvailable })
	e.post("/v3/admin/snapshots/"+sid+"/action", `{"os-unmanage": {}}`).expect(t, http.StatusAccepted)
	if calls := e.volumes.called(); !slices.Contains(calls, "unmanage_snapshot "+sid) {
		t.Fatalf("calls %v", calls)
	}
}

// keysOf is the keys of o, sorted.
func keysOf(o map[string]any) []string { return slices.Sorted(maps.Keys(o)) }

// FuzzManage posts bodies to /v3/admin/os-volume-manage, or with snapshot
// to /v3/admin/os-snapshot-manage ("{vol}" standing for the fixture
// volume), and asks the manageable lists with the fuzzed query.
func FuzzManage(f *testing.F) {
	f.Add([]byte(`{"volume": {"host": "hostA@fake1#fake", "ref": {"source-name": "disk"}, "name": "m", "bootable": "true"}}`), "", "volume 3.64", false)
	f.Add([]byte(`{"volume": {"cluster": "c", "ref": "disk", "metadata": null}}`), "host=hostA@fake1&sort=size:asc&limit=1", "volume 3.16", false)
	f.Add([]byte(`{"volume": {"host": "../../etc", "ref": {"source-name": "../../etc/passwd"}}}`), "host=x&marker={bad", "volume 3.8", false)
	f.Add([]byte(`{"snapshot": {"volume_id": "{vol}", "ref": {"source-name": "s"}, "metadata": {"k": "v"}}}`), "host=hostA@fake1&offset=-1", "", true)
	f.Add([]byte(`{"snapshot": {"volume_id": "{vol}", "ref": null}}`), "cluster=c&host=hostA@fake1", "volume 3.17", true)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, query, version string, snapshot bool) {
		defer a.reset(t)
		path, list := "/v3/admin/os-volume-manage", "/v3/admin/manageable_volumes"
		if snapshot {
			path, list = "/v3/admin/os-snapshot-manage", "/v3/admin/manageable_snapshots/detail"
		}
		body = bytes.ReplaceAll(body, []byte("{vol}"), []byte(a.vol.ID))
		status, out := a.serve(t, http.MethodPost, path, query, version, body)
		if status/100 == 2 {
			if v, ok := out["volume"].(map[string]any); ok {
				a.created = append(a.created, v["id"].(string))
			}
			if s, ok := out["snapshot"].(map[string]any); ok {
				if err := a.store.DestroySnapshot(context.Background(), s["id"].(string)); err != nil {
					t.Fatal(err)
				}
			}
		}
		a.serve(t, http.MethodGet, list, query, version, nil)
		a.checkCalls(t)
	})
}
