package volume

import (
	"context"
	"slices"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// snapshot writes a snapshot of volume vol, as set changes it, and
// returns its id.
func (c *cloud) snapshot(vol string, set func(s *cinder.Snapshot)) string {
	c.t.Helper()
	v := c.get(vol)
	s := &cinder.Snapshot{VolumeID: vol, ProjectID: v.ProjectID, Status: cinder.SnapshotAvailable, VolumeSize: v.Size, UseQuota: true}
	if set != nil {
		set(s)
	}
	if err := c.store.CreateSnapshot(context.Background(), s); err != nil {
		c.t.Fatal(err)
	}
	return s.ID
}

func (c *cloud) snap(id string) *cinder.Snapshot {
	c.t.Helper()
	s, err := c.store.GetSnapshot(context.Background(), id)
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

func TestCreateSnapshotRules(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	for _, tc := range []struct {
		status, migration, host string
		force                   bool
		code                    int
	}{
		{status: "available"},
		{status: "in-use", force: true},
		{status: "in-use", code: 400},
		{status: "error", force: true, code: 400},
		{status: "maintenance", force: true, code: 400},
		{status: "available", migration: cinder.MigrationMigrating, code: 400},
		{status: "available", host: "-", code: 400}, // never placed
	} {
		id := c.volume(func(v *cinder.Volume) {
			v.Status, v.MigrationStatus = tc.status, tc.migration
			if tc.host == "-" {
				v.Host = ""
			}
		})
		s, err := c.api.CreateSnapshot(ctx, SnapshotRequest{VolumeID: id, Name: "s", Force: tc.force})
		if tc.code != 0 {
			wantCode(t, "snapshot of a volume "+tc.status, err, tc.code)
			if n, _ := c.store.CountSnapshots(ctx, db.SnapshotFilter{VolumeID: id}); n != 0 {
				t.Fatalf("a refused snapshot left %d rows", n)
			}
			continue
		}
		if err != nil || s.Status != cinder.SnapshotCreating || s.VolumeSize != 1 || s.Progress != "0%" {
			t.Fatalf("snapshot of a volume %s: %+v, %v", tc.status, s, err)
		}
		if !slices.Contains(c.rpc.called(), "create_snapshot "+id+">"+s.ID) {
			t.Fatalf("casts %v", c.rpc.called())
		}
	}
	// The cast cannot be sent: no row is left.
	id := c.volume(nil)
	c.rpc.err = errBusDown
	_, err := c.api.CreateSnapshot(ctx, SnapshotRequest{VolumeID: id})
	wantCode(t, "snapshot", err, 503)
	if n, _ := c.store.CountSnapshots(ctx, db.SnapshotFilter{VolumeID: id}); n != 0 {
		t.Fatalf("a snapshot whose cast failed left %d rows", n)
	}
}

func TestSnapshotsCountInQuota(t *testing.T) {
	c := newCloud(t) // quota_gigabytes 50
	ctx := admin()
	id := c.volume(func(v *cinder.Volume) { v.Size = 30 })
	if _, err := c.api.CreateSnapshot(ctx, SnapshotRequest{VolumeID: id}); err == nil {
		t.Fatal("a 30 GiB snapshot of a 30 GiB volume fit a 50 GiB quota")
	} else {
		wantCode(t, "snapshot over quota", err, 413)
	}
}

func TestDeleteSnapshotRules(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	vol := c.volume(nil)
	creating := c.snapshot(vol, func(s *cinder.Snapshot) { s.Status = cinder.SnapshotCreating })
	wantCode(t, "delete a creating snapshot", c.api.DeleteSnapshot(ctx, creating, false), 400)
	if err := c.api.DeleteSnapshot(ctx, creating, true); err != nil {
		t.Fatalf("force delete: %v", err)
	}
	if s := c.snap(creating); s.Status != cinder.SnapshotDeleting {
		t.Fatalf("after force delete: %s", s.Status)
	}
	failing := c.snapshot(vol, nil)
	c.rpc.err = errBusDown
	wantCode(t, "delete", c.api.DeleteSnapshot(ctx, failing, false), 503)
	if s := c.snap(failing); s.Status != cinder.SnapshotAvailable {
		t.Fatalf("after a failed delete cast: %s", s.Status)
	}
}

func TestDeleteVolumeWithSnapshots(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	vol := c.volume(nil)
	s := c.snapshot(vol, nil)
	wantCode(t, "delete a volume with a snapshot", c.api.Delete(ctx, vol, false, false), 400)
	busy := c.snapshot(vol, func(s *cinder.Snapshot) { s.Status = cinder.SnapshotCreating })
	wantCode(t, "cascade with a creating snapshot", c.api.Delete(ctx, vol, false, true), 400)
	if err := c.api.Delete(ctx, vol, true, true); err != nil {
		t.Fatalf("forced cascade: %v", err)
	}
	for _, id := range []string{s, busy} {
		if st := c.snap(id).Status; st != cinder.SnapshotDeleting {
			t.Fatalf("snapshot %s after a cascade delete: %s", id, st)
		}
	}
	if !slices.Contains(c.rpc.called(), "delete cascade "+vol) {
		t.Fatalf("casts %v", c.rpc.called())
	}
}

func TestRevertRules(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	vol := c.volume(nil)
	wantCode(t, "revert without snapshots", c.api.Revert(ctx, vol, "x"), 400)
	old := c.snapshot(vol, nil)
	latest := c.snapshot(vol, nil)
	wantCode(t, "revert to an older snapshot", c.api.Revert(ctx, vol, old), 400)
	c.setVolume(vol, func(v *cinder.Volume) { v.Status = cinder.StatusInUse })
	wantCode(t, "revert an in-use volume", c.api.Revert(ctx, vol, latest), 409)
	c.setVolume(vol, func(v *cinder.Volume) { v.Status = cinder.StatusAvailable })
	if _, err := c.store.UpdateSnapshot(ctx, latest, func(s *cinder.Snapshot) error { s.Status = cinder.SnapshotError; return nil }); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "revert to a snapshot in error", c.api.Revert(ctx, vol, latest), 409)
	if v := c.get(vol); v.Status != cinder.StatusAvailable {
		t.Fatalf("a refused revert left the volume %s", v.Status)
	}
	if _, err := c.store.UpdateSnapshot(ctx, latest, func(s *cinder.Snapshot) error { s.Status = cinder.SnapshotAvailable; return nil }); err != nil {
		t.Fatal(err)
	}
	c.rpc.err = errBusDown
	wantCode(t, "revert", c.api.Revert(ctx, vol, latest), 503)
	if v, s := c.get(vol), c.snap(latest); v.Status != cinder.StatusAvailable || s.Status != cinder.SnapshotAvailable {
		t.Fatalf("after a failed revert cast: volume %s, snapshot %s", v.Status, s.Status)
	}
	c.rpc.err = nil
	if err := c.api.Revert(ctx, vol, latest); err != nil {
		t.Fatal(err)
	}
	if v, s := c.get(vol), c.snap(latest); v.Status != cinder.StatusReverting || s.Status != cinder.SnapshotRestoring {
		t.Fatalf("reverting: volume %s, snapshot %s", v.Status, s.Status)
	}
}

func TestCreateFromSources(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	src := c.volume(func(v *cinder.Volume) { v.Size = 2; v.Host = "hostA@fake2#fake" })
	snap := c.snapshot(src, nil)
	for _, tc := range []struct {
		req  CreateRequest
		code int
		size int
	}{
		{req: CreateRequest{SnapshotID: snap}, size: 2},
		{req: CreateRequest{SnapshotID: snap, Size: 3}, size: 3},
		{req: CreateRequest{SnapshotID: snap, Size: 1}, code: 400},
		{req: CreateRequest{SourceVolID: src}, size: 2},
		{req: CreateRequest{SourceVolID: src, Size: 1}, code: 400},
		{req: CreateRequest{SourceVolID: src, SnapshotID: snap}, code: 400},
		{req: CreateRequest{SnapshotID: "00000000-0000-0000-0000-000000000000"}, code: 404},
	} {
		v, _, err := c.api.Create(ctx, tc.req)
		if tc.code != 0 {
			wantCode(t, "create", err, tc.code)
			continue
		}
		if err != nil || v.Size != tc.size || v.SnapshotID != tc.req.SnapshotID || v.SourceVolID != tc.req.SourceVolID {
			t.Fatalf("create %+v: %+v, %v", tc.req, v, err)
		}
		spec := c.rpc.lastSpec()
		if spec.ResourceBackend != "hostA@fake2" || spec.SnapshotID != tc.req.SnapshotID || spec.SourceVolID != tc.req.SourceVolID {
			t.Fatalf("request spec %+v", spec)
		}
	}
	c.setVolume(src, func(v *cinder.Volume) { v.Status = cinder.StatusError })
	_, _, err := c.api.Create(ctx, CreateRequest{SourceVolID: src})
	wantCode(t, "clone of a volume in error", err, 400)
	if _, err := c.store.UpdateSnapshot(ctx, snap, func(s *cinder.Snapshot) error { s.Status = cinder.SnapshotCreating; return nil }); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.api.Create(ctx, CreateRequest{SnapshotID: snap})
	wantCode(t, "volume from a creating snapshot", err, 400)
}
