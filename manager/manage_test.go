package manager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/internal/testdb"
	"github.com/cinder-go/cinder/internal/testenv"
	"github.com/cinder-go/cinder/internal/testrpc"
	"github.com/cinder-go/cinder/manager"
	"github.com/cinder-go/cinder/volume"
)

// withQuotas gives the backend's manager quotas of 100 GiB and any number
// of volumes.
func withQuotas(e *env) {
	e.cfg.QuotaVolumes, e.cfg.QuotaSnapshots, e.cfg.QuotaGigabytes, e.cfg.PerVolumeSizeLimit = -1, -1, 100, -1
	e.cfg.ReservationExpire = time.Hour
}

// managing inserts a volume row being managed, counted in quotas.
func (e *env) managing(t *testing.T) *cinder.Volume {
	t.Helper()
	v := &cinder.Volume{ProjectID: "p", UserID: "u", Status: volume.StatusManaging, AttachStatus: "detached",
		Host: e.pool(), AvailabilityZone: "nova", UseQuota: true}
	if err := e.store.CreateVolume(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	return v
}

// legacy writes a foreign file of data named name in the backend's volumes_dir.
func (e *env) legacy(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.backend.VolumesDir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// manageable lists the backend's manageable volumes (or snapshots) over RPC.
func (e *env) manageable(t *testing.T, snapshots bool, marker string, limit, offset int, keys, dirs []string) []map[string]any {
	t.Helper()
	list, err := e.client.GetManageable(context.Background(), e.mgr.Host(), snapshots, marker, limit, offset, keys, dirs)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestManageUnmanageVolume adopts a foreign file on thin and thick over
// RPC: the volume becomes available with the file's size rounded up, its
// bytes those of the file, its gigabytes in the quota; the manageable list
// shows the file owned; unmanaged, the row goes and the file stays as
// unmanaged-volume-<id>, manageable again.
func TestManageUnmanageVolume(t *testing.T) {
	for _, kind := range []string{"thin", "thick"} {
		t.Run(kind, func(t *testing.T) {
			e := newSite(t).add(t, "node1", kind, kind, withQuotas)
			e.start(t)
			ctx := context.Background()
			data := bytes.Repeat([]byte{0xC1}, 3<<20)
			e.legacy(t, "legacy", data)
			if list := e.manageable(t, false, "", 10, 0, nil, nil); len(list) != 1 || list[0]["safe_to_manage"] != true || list[0]["size"] != 1.0 {
				t.Fatalf("manageable before: %v", list)
			}

			v := e.managing(t)
			if err := e.client.ManageExisting(ctx, v, map[string]any{"source-name": "legacy"}); err != nil {
				t.Fatal(err)
			}
			got := e.waitStatus(t, v.ID, cinder.StatusAvailable)
			if got.Size != 1 {
				t.Fatalf("managed size %d, want 1", got.Size)
			}
			info, err := os.Stat(e.file(v))
			if err != nil || info.Size() != 1<<30 {
				t.Fatalf("managed file: %v %v", info, err)
			}
			head := make([]byte, len(data))
			f, err := os.Open(e.file(v))
			if err == nil {
				_, err = f.ReadAt(head, 0)
				_ = f.Close() // read only
			}
			if err != nil || !bytes.Equal(head, data) {
				t.Fatalf("managed file does not hold the legacy bytes: %v", err)
			}
			u, err := e.store.QuotaUsages(ctx, "p", []string{db.QuotaGigabytes})
			if err != nil || u[db.QuotaGigabytes].InUse != 1 || u[db.QuotaGigabytes].Reserved != 0 {
				t.Fatalf("gigabytes usage %+v %v", u, err)
			}
			list := e.manageable(t, false, "", 10, 0, nil, nil)
			if len(list) != 1 || list[0]["safe_to_manage"] != false || list[0]["reason_not_safe"] != "already managed" || list[0]["cinder_id"] != v.ID {
				t.Fatalf("manageable after: %v", list)
			}

			e.setStatus(t, v, volume.StatusUnmanaging)
			if err := e.client.UnmanageVolume(ctx, v); err != nil {
				t.Fatal(err)
			}
			e.waitStatus(t, v.ID, "gone")
			kept := filepath.Join(e.backend.VolumesDir, "unmanaged-"+v.Name())
			if info, err := os.Stat(kept); err != nil || info.Size() != 1<<30 {
				t.Fatalf("unmanaged volume's file: %v %v", info, err)
			}
			list = e.manageable(t, false, "", 10, 0, nil, nil)
			if len(list) != 1 || list[0]["safe_to_manage"] != true || list[0]["reference"].(map[string]any)["source-name"] != "unmanaged-"+v.Name() {
				t.Fatalf("manageable after unmanage: %v", list)
			}
		})
	}
}

// A volume's own file, a missing file or a path cannot be managed: the
// volume becomes error_managing, no file renamed, no quota held.
func TestManageFailures(t *testing.T) {
	e := newSite(t).add(t, "node1", "thin", "thin", withQuotas)
	e.start(t)
	ctx := context.Background()
	owner := e.volume(t, e.pool(), cinder.StatusCreating, 1)
	e.createAndWait(t, owner)
	for _, ref := range []map[string]any{{"source-name": owner.Name()}, {"source-name": "missing"}, {"source-name": "../volumes/" + owner.Name()}} {
		v := e.managing(t)
		if err := e.client.ManageExisting(ctx, v, ref); err != nil {
			t.Fatal(err)
		}
		e.waitStatus(t, v.ID, volume.StatusErrorManaging)
	}
	if _, err := os.Stat(e.file(owner)); err != nil {
		t.Fatalf("owner's file: %v", err)
	}
	u, err := e.store.QuotaUsages(ctx, "p", []string{db.QuotaGigabytes})
	if err != nil || u[db.QuotaGigabytes].Reserved != 0 {
		t.Fatalf("gigabytes usage %+v %v", u, err)
	}
}

// Over the gigabytes quota the volume becomes error_managing and the file
// keeps its name.
func TestManageOverQuota(t *testing.T) {
	e := newSite(t).add(t, "node1", "thin", "thin", withQuotas, func(e *env) { e.cfg.QuotaGigabytes = 0 })
	e.start(t)
	e.legacy(t, "legacy", []byte("x"))
	v := e.managing(t)
	if err := e.client.ManageExisting(context.Background(), v, map[string]any{"source-name": "legacy"}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, v.ID, volume.StatusErrorManaging)
	if _, err := os.Stat(filepath.Join(e.backend.VolumesDir, "legacy")); err != nil {
		t.Fatalf("legacy file: %v", err)
	}
}

func TestManageUnmanageSnapshot(t *testing.T) {
	e := newSite(t).add(t, "node1", "thick", "thick", withQuotas)
	e.start(t)
	ctx := context.Background()
	v := e.volume(t, e.pool(), cinder.StatusCreating, 1)
	e.createAndWait(t, v)
	e.legacy(t, "old-snap", []byte("snapshot bytes"))
	s := e.snapshot(t, v, cinder.SnapshotCreating)
	if err := e.client.ManageExistingSnapshot(ctx, v, s, map[string]any{"source-name": "old-snap"}); err != nil {
		t.Fatal(err)
	}
	got := e.waitSnapshot(t, s.ID, cinder.SnapshotAvailable)
	if got.Progress != "100%" || got.VolumeSize != 1 {
		t.Fatalf("managed snapshot %+v", got)
	}
	path := filepath.Join(e.backend.VolumesDir, s.Name())
	if b, err := os.ReadFile(path); err != nil || string(b) != "snapshot bytes" {
		t.Fatalf("snapshot file %q %v", b, err)
	}
	list := e.manageable(t, true, "", 10, 0, nil, nil)
	if len(list) != 1 || list[0]["cinder_id"] != s.ID {
		t.Fatalf("manageable snapshots %v", list)
	}
	if _, err := e.store.UpdateSnapshot(ctx, s.ID, func(s *cinder.Snapshot) error { s.Status = cinder.SnapshotUnmanaging; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := e.client.UnmanageSnapshot(ctx, v, s); err != nil {
		t.Fatal(err)
	}
	e.waitSnapshot(t, s.ID, "gone")
	if b, err := os.ReadFile(filepath.Join(e.backend.VolumesDir, "unmanaged-"+s.Name())); err != nil || string(b) != "snapshot bytes" {
		t.Fatalf("unmanaged snapshot's file %q %v", b, err)
	}
	if list := e.manageable(t, true, "", 10, 0, nil, nil); len(list) != 1 || list[0]["safe_to_manage"] != true {
		t.Fatalf("manageable snapshots after unmanage: %v", list)
	}
	bad := e.snapshot(t, v, cinder.SnapshotCreating)
	if err := e.client.ManageExistingSnapshot(ctx, v, bad, map[string]any{"source-name": v.Name()}); err != nil {
		t.Fatal(err)
	}
	e.waitSnapshot(t, bad.ID, cinder.SnapshotError)
}

// The lists sort and page as Cinder's paginate_entries_list: by reference
// or size, either way, after a marker (a JSON reference), offset, limit.
func TestManageablePaging(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	for i, name := range []string{"b", "a", "c"} {
		e.legacy(t, name, nil)
		if err := os.Truncate(filepath.Join(e.backend.VolumesDir, name), int64(3-i)<<30-1); err != nil {
			t.Fatal(err)
		}
	}
	names := func(list []map[string]any) string {
		var s string
		for _, m := range list {
			s += m["reference"].(map[string]any)["source-name"].(string)
		}
		return s
	}
	marker, _ := json.Marshal(map[string]any{"source-name": "a"})
	for _, tc := range []struct {
		marker        string
		limit, offset int
		keys, dirs    []string
		want          string
	}{
		{"", 10, 0, []string{"reference"}, []string{"asc"}, "abc"},
		{"", 10, 0, []string{"reference"}, []string{"desc"}, "cba"},
		{"", 10, 0, []string{"size"}, []string{"asc"}, "cab"},
		{"", 2, 1, []string{"reference"}, []string{"asc"}, "bc"},
		{string(marker), 1, 0, []string{"reference"}, []string{"asc"}, "b"},
	} {
		if got := names(e.manageable(t, false, tc.marker, tc.limit, tc.offset, tc.keys, tc.dirs)); got != tc.want {
			t.Errorf("%+v: %s", tc, got)
		}
	}
	if _, err := e.client.GetManageable(context.Background(), e.mgr.Host(), false, `{"source-name": "zz"}`, 1, 0, nil, nil); cinder.Code(err) != 400 {
		t.Errorf("unknown marker: %v", err)
	}
}

// An unmanage the driver cannot do leaves the volume error_unmanaging and
// its file where it was, as Cinder.
func TestUnmanageFailure(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	v := e.volume(t, e.pool(), cinder.StatusCreating, 1)
	e.createAndWait(t, v)
	e.legacy(t, "unmanaged-"+v.Name(), []byte("in the way"))
	e.setStatus(t, v, volume.StatusUnmanaging)
	if err := e.client.UnmanageVolume(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, v.ID, "error_unmanaging")
	if info, err := os.Stat(e.file(v)); err != nil || info.Size() != 1<<30 {
		t.Fatalf("volume's file: %v %v", info, err)
	}
}

// TestPythonPeerManages: an oslo.messaging peer calls manage_existing,
// get_manageable_volumes (3.10, want_objects) and delete_volume with
// unmanage_only, with Cinder's argument names over RabbitMQ, and the
// manager does each.
func TestPythonPeerManages(t *testing.T) {
	if out, err := exec.Command(python, "-c", "import oslo_messaging").CombinedOutput(); err != nil {
		if testenv.Required() {
			t.Fatalf("%s cannot import oslo_messaging (CINDER_TEST_REQUIRE_SERVICES=1): %v\n%s", python, err, out)
		}
		t.Skipf("SKIP: %s cannot import oslo_messaging (apt-get install python3-oslo.messaging): %v", python, err)
	}
	url := testenv.RabbitURL(t)
	s := &site{store: testdb.SQLite(t), tr: testrpc.Dial(t, url, 10*time.Second)}
	s.client = manager.NewClient(s.tr)
	e := s.add(t, "py-"+strings.ReplaceAll(uuid.NewString()[:8], "-", ""), "thin", "thin", withQuotas)
	e.start(t)
	e.legacy(t, "legacy", []byte("adopt me"))

	list, _ := pythonCall(t, url, e, "3.10", "get_manageable_volumes", map[string]any{"marker": nil, "limit": 1000, "offset": 0,
		"sort_keys": []string{"reference"}, "sort_dirs": []string{"desc"}, "want_objects": true}).([]any)
	if len(list) != 1 || list[0].(map[string]any)["reference"].(map[string]any)["source-name"] != "legacy" {
		t.Fatalf("get_manageable_volumes answered %v", list)
	}
	v := e.managing(t)
	pythonCall(t, url, e, "3.0", "manage_existing", map[string]any{"volume": map[string]any{"id": v.ID}, "ref": map[string]any{"source-name": "legacy"}})
	if got := e.waitStatus(t, v.ID, cinder.StatusAvailable); got.Size != 1 {
		t.Fatalf("managed volume of %d GiB", got.Size)
	}
	e.setStatus(t, v, volume.StatusUnmanaging)
	pythonCall(t, url, e, "3.0", "delete_volume", map[string]any{"volume": map[string]any{"id": v.ID}, "unmanage_only": true, "cascade": false})
	e.waitStatus(t, v.ID, "gone")
	if _, err := os.Stat(filepath.Join(e.backend.VolumesDir, "unmanaged-"+v.Name())); err != nil {
		t.Fatalf("unmanaged file: %v", err)
	}
}
