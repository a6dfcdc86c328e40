package thick

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/drivers/internal/drivertest"
	"github.com/cinder-go/cinder/internal/testfile"
)

const (
	id4  = "cccccccc-dddd-4eee-8fff-000000000000"
	sid1 = "5a5a5a5a-0000-4000-8000-000000000001"
	sid2 = "5a5a5a5a-0000-4000-8000-000000000002"
	MiB  = 1 << 20
)

var stale = []byte("old tenant data!")

func snapshot(id string, v *cinder.Volume) *cinder.Snapshot {
	return &cinder.Snapshot{ID: id, VolumeID: v.ID, VolumeSize: v.Size}
}

// leaveStale leaves sizeGB GiB of released storage holding the stale pattern
// every 64 MiB, as a deleted volume does without volume_clear.
func leaveStale(t *testing.T, d *Driver, sizeGB int) {
	t.Helper()
	v := volume(id4, sizeGB)
	if err := d.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	p := bytes.Repeat(stale, MiB/len(stale))
	for off := int64(0); off < int64(sizeGB)*drivers.GiB; off += 64 * MiB {
		testfile.WriteAt(t, d.path(v), off, p)
	}
	if err := d.DeleteVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
}

// checkFull fails t unless the file at path is size bytes, all allocated,
// and holds no stale byte.
func checkFull(t *testing.T, path string, size int64) {
	t.Helper()
	if s, a := testfile.Stat(t, path); s != size || a < size {
		t.Errorf("size %d, %d allocated; want %d, all allocated", s, a, size)
	}
	if drivertest.Contains(t, path, stale) {
		t.Error("stale bytes of released storage show through")
	}
}

// TestCopiesLeaveNoStaleBytes makes a snapshot, a volume from it and a
// clone, each on released storage holding a deleted volume's bytes, and
// reverts the volume: each must hold its source's bytes, zeros after, be
// fully allocated and show no stale byte.
func TestCopiesLeaveNoStaleBytes(t *testing.T) {
	d := newDriver(t, "none", 0, 0)
	v, fromSnap, clone := volume(id1, 1), volume(id2, 2), volume(id3, 2)
	s := snapshot(sid1, v)
	if err := d.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	testfile.WriteAt(t, d.path(v), 0, drivertest.Random(1, MiB))
	testfile.WriteAt(t, d.path(v), 512*MiB+5, drivertest.Random(2, 3*MiB))
	orig := drivertest.Checksum(t, d.path(v))

	leaveStale(t, d, 1)
	if err := d.CreateSnapshot(ctx, s, v); err != nil {
		t.Fatal(err)
	}
	if got := drivertest.Checksum(t, d.snapPath(s)); got != orig {
		t.Error("the snapshot does not hold the volume's bytes")
	}
	checkFull(t, d.snapPath(s), drivers.GiB)

	changed := bytes.Repeat([]byte{0xCD}, 2*MiB)
	testfile.WriteAt(t, d.path(v), 0, changed)
	testfile.WriteAt(t, d.path(v), 700*MiB, changed)

	leaveStale(t, d, 2)
	if err := d.CreateVolumeFromSnapshot(ctx, fromSnap, s); err != nil {
		t.Fatal(err)
	}
	drivertest.SameBytes(t, d.path(fromSnap), d.snapPath(s))
	checkFull(t, d.path(fromSnap), 2*drivers.GiB)

	leaveStale(t, d, 2)
	if err := d.CreateClonedVolume(ctx, clone, v); err != nil {
		t.Fatal(err)
	}
	drivertest.SameBytes(t, d.path(clone), d.path(v))
	checkFull(t, d.path(clone), 2*drivers.GiB)

	if err := d.ExtendVolume(ctx, v, 2); err != nil {
		t.Fatal(err)
	}
	testfile.WriteAt(t, d.path(v), drivers.GiB+5*MiB, changed)
	before := written(t)
	if err := d.RevertToSnapshot(ctx, v, s); err != nil {
		t.Fatal(err)
	}
	// The volume differs from its snapshot in 1 MiB of data and in ranges
	// zeroed by fallocate; a full copy would write the snapshot's 4 MiB.
	if w := written(t) - before; w > 2*MiB {
		t.Errorf("revert wrote %d bytes, want at most the 1 MiB of data that differs", w)
	}
	drivertest.SameBytes(t, d.path(v), d.snapPath(s))
	checkFull(t, d.path(v), 2*drivers.GiB)
	if got := drivertest.Checksum(t, d.snapPath(s)); got != orig {
		t.Error("the snapshot changed")
	}
}

func (d *Driver) snapPath(s *cinder.Snapshot) string {
	path, _ := d.SnapshotPath(s)
	return path
}

// TestSnapshotsTakeCapacity: a thick snapshot is allocated like a volume,
// counts in provisioned capacity and free space, is refused when the
// backend lacks the space, and its storage is released on delete.
func TestSnapshotsTakeCapacity(t *testing.T) {
	d := newDriver(t, "none", 0, 3)
	v := volume(id1, 1)
	if err := d.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	s1, s2, s3 := snapshot(sid1, v), snapshot(sid2, v), snapshot("5a5a5a5a-0000-4000-8000-000000000003", v)
	for _, s := range []*cinder.Snapshot{s1, s2} {
		if err := d.CreateSnapshot(ctx, s, v); err != nil {
			t.Fatal(err)
		}
	}
	pool := func() map[string]any {
		t.Helper()
		st, err := d.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st["pools"].([]any)[0].(map[string]any)
	}
	if p := pool(); p["provisioned_capacity_gb"] != 3.0 || p["free_capacity_gb"] != 0.0 || p["total_volumes"] != 1 {
		t.Errorf("pool %v; want 3 GiB provisioned, none free, 1 volume", p)
	}
	var ce *cinder.Error
	if err := d.CreateSnapshot(ctx, s3, v); !errors.As(err, &ce) || ce.Class != "VolumeBackendAPIException" {
		t.Errorf("CreateSnapshot beyond capacity: %v, want VolumeBackendAPIException", err)
	}
	if _, err := os.Stat(d.snapPath(s3)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refused snapshot left a file: %v", err)
	}

	if err := d.DeleteSnapshot(ctx, s1); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteSnapshot(ctx, s1); err != nil {
		t.Errorf("deleting a missing snapshot: %v", err)
	}
	if p := pool(); p["provisioned_capacity_gb"] != 2.0 || p["free_capacity_gb"] != 1.0 {
		t.Errorf("pool after a delete %v; want 2 GiB provisioned, 1 free", p)
	}
	if entries, _ := os.ReadDir(d.Released); len(entries) != 1 {
		t.Errorf("released area holds %v, want the snapshot's storage", entries)
	}
	if err := d.CreateSnapshot(ctx, s3, v); err != nil {
		t.Errorf("CreateSnapshot on released storage: %v", err)
	}
}

// TestFailedCopyReleases: a copy that fails releases the storage it took.
func TestFailedCopyReleases(t *testing.T) {
	d := newDriver(t, "none", 0, 2)
	v, w := volume(id1, 1), volume(id2, 1)
	if err := d.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := d.CreateClonedVolume(cancelled, w, v); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateClonedVolume with a cancelled context: %v, want Canceled", err)
	}
	if _, err := os.Stat(d.path(w)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the failed clone's file is still there: %v", err)
	}
	if c, err := d.Capacity(); err != nil || c.Free != drivers.GiB {
		t.Errorf("Capacity %+v, %v; want 1 GiB free again", c, err)
	}
	var ce *cinder.Error
	if err := d.CreateVolumeFromSnapshot(ctx, w, snapshot(sid1, v)); !errors.As(err, &ce) || ce.Class != "SnapshotNotFound" {
		t.Errorf("CreateVolumeFromSnapshot of a missing snapshot: %v, want SnapshotNotFound", err)
	}
}
