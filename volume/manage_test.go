package volume

import (
	"context"
	"slices"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

func (f *fakeRPC) ManageExisting(_ context.Context, v *cinder.Volume, spec cinder.RequestSpec, ref map[string]any) error {
	return f.record("manage_existing", v.ID+">"+v.Host+">"+ref["source-name"].(string))
}

func (f *fakeRPC) ManageExistingSnapshot(_ context.Context, v *cinder.Volume, s *cinder.Snapshot, ref map[string]any) error {
	return f.record("manage_existing_snapshot", s.ID+">"+ref["source-name"].(string))
}

func (f *fakeRPC) UnmanageVolume(_ context.Context, v *cinder.Volume) error {
	return f.record("unmanage", v.ID)
}

func (f *fakeRPC) UnmanageSnapshot(_ context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	return f.record("unmanage_snapshot", s.ID)
}

func (f *fakeRPC) GetManageable(_ context.Context, host string, snapshots bool, _ string, _, _ int, _, _ []string) ([]map[string]any, error) {
	return []map[string]any{{"reference": map[string]any{"source-name": "x"}}}, f.record("get_manageable", host)
}

// A manage writes a managing volume of size 0 on the host asked (its pool
// kept), in the service's zone, holds one volume in the quota, and casts to
// the scheduler with the ref.
func TestManageWritesManagingVolume(t *testing.T) {
	c := newCloud(t)
	v, typ, err := c.api.Manage(admin(), ManageRequest{Host: "hostA@fake1#fake", Ref: map[string]any{"source-name": "disk1"}, Name: "m"})
	if err != nil {
		t.Fatal(err)
	}
	got := c.get(v.ID)
	if got.Status != StatusManaging || got.Size != 0 || got.Host != "hostA@fake1#fake" || got.AvailabilityZone != "nova" ||
		got.DisplayName != "m" || got.VolumeTypeID != typ.ID {
		t.Fatalf("managed row %+v", got)
	}
	if want := "manage_existing " + v.ID + ">hostA@fake1#fake>disk1"; !slices.Contains(c.rpc.called(), want) {
		t.Fatalf("calls %v, want %q", c.rpc.called(), want)
	}
	u, err := c.store.QuotaUsages(context.Background(), "admin", []string{db.QuotaVolumes, db.QuotaGigabytes})
	if err != nil {
		t.Fatal(err)
	}
	if u[db.QuotaVolumes].InUse != 1 || u[db.QuotaGigabytes].InUse != 0 {
		t.Fatalf("usage %+v", u)
	}
	// Without a pool the row takes the service's host; the scheduler adds the pool.
	v, _, err = c.api.Manage(admin(), ManageRequest{Host: "hostA@fake2", Ref: map[string]any{"source-name": "disk2"}})
	if err != nil || c.get(v.ID).Host != "hostA@fake2" {
		t.Fatalf("manage on a backend: %v %+v", err, v)
	}
}

func TestManageRefusals(t *testing.T) {
	c := newCloud(t)
	managed := c.volume(nil)
	for _, tc := range []struct {
		name string
		req  ManageRequest
		code int
	}{
		{"unknown host", ManageRequest{Host: "nowhere@x", Ref: map[string]any{"source-name": "d"}}, 404},
		{"host without backend", ManageRequest{Host: "hostA", Ref: map[string]any{"source-name": "d"}}, 404},
		{"cluster", ManageRequest{Cluster: "c1", Ref: map[string]any{"source-name": "d"}}, 404},
		{"already managed", ManageRequest{Host: "hostA@fake1", Ref: map[string]any{"source-name": "volume-" + managed}}, 400},
		{"unknown type", ManageRequest{Host: "hostA@fake1", VolumeType: "nope", Ref: map[string]any{"source-name": "d"}}, 400},
		{"path", ManageRequest{Host: "hostA@fake1", Ref: map[string]any{"source-name": "../../etc/passwd"}}, 400},
		{"source-id", ManageRequest{Host: "hostA@fake1", Ref: map[string]any{"source-id": "d"}}, 400},
	} {
		_, _, err := c.api.Manage(admin(), tc.req)
		wantCode(t, tc.name, err, tc.code)
	}
	if slices.ContainsFunc(c.rpc.called(), func(s string) bool { return s[:15] == "manage_existing" }) {
		t.Fatalf("a refused manage was cast: %v", c.rpc.called())
	}
}

// A down or disabled service answers 503 ServiceUnavailable, as Cinder.
func TestManageOnUnavailableService(t *testing.T) {
	c := newCloud(t)
	svc, err := c.store.GetService(context.Background(), "hostA@fake1", cinder.BinaryVolume)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.store.UpdateService(context.Background(), svc.ID, func(s *cinder.Service) error { s.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.api.Manage(admin(), ManageRequest{Host: "hostA@fake1", Ref: map[string]any{"source-name": "d"}})
	wantCode(t, "disabled service", err, 503)
}

// Unmanage is a delete that keeps the storage: unmanaging, cast with
// unmanage_only; a volume with snapshots is refused as a delete is.
func TestUnmanage(t *testing.T) {
	c := newCloud(t)
	id := c.volume(nil)
	if err := c.api.Unmanage(admin(), id); err != nil {
		t.Fatal(err)
	}
	if got := c.get(id).Status; got != StatusUnmanaging {
		t.Fatalf("status %s, want unmanaging", got)
	}
	if !slices.Contains(c.rpc.called(), "unmanage "+id) {
		t.Fatalf("calls %v", c.rpc.called())
	}
	busy := c.volume(func(v *cinder.Volume) { v.Status = cinder.StatusInUse })
	wantCode(t, "in-use volume", c.api.Unmanage(admin(), busy), 400)
	secret := &cinder.VolumeType{Name: "secret", IsPublic: true}
	if err := c.store.CreateVolumeType(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	if err := c.store.CreateEncryption(context.Background(), &cinder.Encryption{VolumeTypeID: secret.ID, Provider: "luks", ControlLocation: "front-end"}); err != nil {
		t.Fatal(err)
	}
	encrypted := c.volume(func(v *cinder.Volume) { v.VolumeTypeID = secret.ID })
	wantCode(t, "encrypted volume", c.api.Unmanage(admin(), encrypted), 400)
	if got := c.get(encrypted).Status; got != cinder.StatusAvailable {
		t.Fatalf("encrypted volume's status %s after a refused unmanage", got)
	}
}

func TestManageAndUnmanageSnapshot(t *testing.T) {
	c := newCloud(t)
	vol := c.volume(nil)
	s, err := c.api.ManageSnapshot(admin(), ManageSnapshotRequest{VolumeID: vol, Ref: map[string]any{"source-name": "snap1"}, Name: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != cinder.SnapshotCreating || s.VolumeSize != 1 || s.DisplayName != "s" {
		t.Fatalf("snapshot %+v", s)
	}
	if !slices.Contains(c.rpc.called(), "manage_existing_snapshot "+s.ID+">snap1") {
		t.Fatalf("calls %v", c.rpc.called())
	}
	if _, err := c.store.UpdateSnapshot(context.Background(), s.ID, func(s *cinder.Snapshot) error { s.Status = cinder.SnapshotAvailable; return nil }); err != nil {
		t.Fatal(err)
	}
	_, err = c.api.ManageSnapshot(admin(), ManageSnapshotRequest{VolumeID: vol, Ref: map[string]any{"source-name": "snapshot-" + s.ID}})
	wantCode(t, "already managed snapshot", err, 400)
	if err := c.api.UnmanageSnapshot(admin(), s.ID); err != nil {
		t.Fatal(err)
	}
	got, err := c.store.GetSnapshot(context.Background(), s.ID)
	if err != nil || got.Status != cinder.SnapshotUnmanaging {
		t.Fatalf("after unmanage: %+v %v", got, err)
	}
	if !slices.Contains(c.rpc.called(), "unmanage_snapshot "+s.ID) {
		t.Fatalf("calls %v", c.rpc.called())
	}
}

// ReserveManaged holds the backend's size in gigabytes, refusing it past
// the quota (50 GiB here) with Cinder's 413.
func TestReserveManaged(t *testing.T) {
	c := newCloud(t)
	id := c.volume(func(v *cinder.Volume) { v.Size = 0; v.Status = StatusManaging; v.UseQuota = true })
	v := c.get(id)
	wantCode(t, "over quota", c.api.ReserveManaged(context.Background(), v, 51), 413)
	if err := c.api.ReserveManaged(context.Background(), v, 50); err != nil {
		t.Fatal(err)
	}
}

func TestManageableAsksTheServiceBackend(t *testing.T) {
	c := newCloud(t)
	list, err := c.api.Manageable(admin(), false, ManageableQuery{Host: "hostA@fake1#fake"})
	if err != nil || len(list) != 1 {
		t.Fatalf("%v %v", list, err)
	}
	if !slices.Contains(c.rpc.called(), "get_manageable hostA@fake1") {
		t.Fatalf("calls %v", c.rpc.called())
	}
	_, err = c.api.Manageable(admin(), true, ManageableQuery{Host: "hostB@x"})
	wantCode(t, "unknown host", err, 404)
}
