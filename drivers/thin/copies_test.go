package thin

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/drivers/internal/drivertest"
	"github.com/cinder-go/cinder/internal/testfile"
)

const (
	id3  = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
	id4  = "cccccccc-dddd-4eee-8fff-000000000000"
	sid1 = "5a5a5a5a-0000-4000-8000-000000000001"
	sid2 = "5a5a5a5a-0000-4000-8000-000000000002"
	MiB  = 1 << 20
)

func snapshot(id string, v *cinder.Volume) *cinder.Snapshot {
	return &cinder.Snapshot{ID: id, VolumeID: v.ID, VolumeSize: v.Size}
}

func (d *Driver) path(name string) string { return filepath.Join(d.Backend.VolumesDir, name) }

// writeData gives the 1 GiB file at path data, 1 MiB of written zeros and
// holes: what a snapshot or clone must reproduce, holes included.
func writeData(t *testing.T, path string) {
	t.Helper()
	testfile.WriteAt(t, path, 0, drivertest.Random(1, MiB))
	testfile.WriteAt(t, path, 300*MiB, make([]byte, MiB))
	testfile.WriteAt(t, path, 512*MiB+5, drivertest.Random(2, 3*MiB))
	testfile.WriteAt(t, path, drivers.GiB-4096, drivertest.Random(3, 4096))
}

// checkSize fails t unless the file at path is size bytes, allocating no
// more than limit.
func checkSize(t *testing.T, path string, size, limit int64) {
	t.Helper()
	if s, a := testfile.Stat(t, path); s != size || a > limit {
		t.Errorf("%s: size %d, %d allocated; want %d, at most %d allocated", filepath.Base(path), s, a, size, limit)
	}
}

// checkCopies takes a snapshot of a volume, changes the volume, makes a
// volume from the snapshot and a clone of the volume, both larger, and
// reverts the volume, extended meanwhile, to the snapshot: each file must
// hold its source's bytes and zeros after, stay sparse, and the snapshot
// must not change with the volume.
func checkCopies(t *testing.T, d *Driver) {
	v, fromSnap, clone := volume(id1, 1), volume(id2, 2), volume(id3, 2)
	s := snapshot(sid1, v)
	if err := d.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	writeData(t, d.path(v.Name()))
	orig := drivertest.Checksum(t, d.path(v.Name()))
	_, srcAlloc := testfile.Stat(t, d.path(v.Name()))
	// A reflink clone shares the source's extents, its written zeros too;
	// the engine writes only non-zero data.
	maxAlloc := srcAlloc
	if !d.reflink {
		maxAlloc = srcAlloc - MiB + 64<<10
	}

	if err := d.CreateSnapshot(ctx, s, v); err != nil {
		t.Fatal(err)
	}
	if got := drivertest.Checksum(t, d.path(s.Name())); got != orig {
		t.Error("the snapshot does not hold the volume's bytes")
	}
	checkSize(t, d.path(s.Name()), drivers.GiB, maxAlloc)

	changed := bytes.Repeat([]byte{0xCD}, 64<<10)
	testfile.WriteAt(t, d.path(v.Name()), 0, changed)
	testfile.WriteAt(t, d.path(v.Name()), 700*MiB, changed)
	if got := drivertest.Checksum(t, d.path(s.Name())); got != orig {
		t.Error("writing the volume changed its snapshot")
	}

	if err := d.CreateVolumeFromSnapshot(ctx, fromSnap, s); err != nil {
		t.Fatal(err)
	}
	drivertest.SameBytes(t, d.path(fromSnap.Name()), d.path(s.Name()))
	checkSize(t, d.path(fromSnap.Name()), 2*drivers.GiB, maxAlloc)

	if err := d.CreateClonedVolume(ctx, clone, v); err != nil {
		t.Fatal(err)
	}
	drivertest.SameBytes(t, d.path(clone.Name()), d.path(v.Name()))
	checkSize(t, d.path(clone.Name()), 2*drivers.GiB, srcAlloc+64<<10)

	if err := d.ExtendVolume(ctx, v, 2); err != nil {
		t.Fatal(err)
	}
	testfile.WriteAt(t, d.path(v.Name()), drivers.GiB+5*MiB, changed)
	if err := d.RevertToSnapshot(ctx, v, s); err != nil {
		t.Fatal(err)
	}
	drivertest.SameBytes(t, d.path(v.Name()), d.path(s.Name()))
	// Zeroing the two changed ranges where the snapshot has holes writes
	// zeros: runs under 1 MiB are written, not punched.
	checkSize(t, d.path(v.Name()), 2*drivers.GiB, srcAlloc+3*64<<10)
}

func TestCopiesByEngine(t *testing.T) {
	d := newDriver(t)
	d.reflink = false // whatever the temporary directory's filesystem can do
	checkCopies(t, d)
}

// TestCopiesByReflink runs checkCopies on xfs with reflink, where the
// driver must find reflink at Setup, and checks the copies share extents:
// the filesystem's free space hardly moves.
func TestCopiesByReflink(t *testing.T) {
	d := New(&conf.Backend{Name: "b1", VolumeDriver: "thin", VolumeBackendName: "fast", VolumesDir: filepath.Join(testfile.XFS(t), "vols"),
		TotalCapacityGB: 10, VolumeDDBlocksize: 1 << 20}, "node@b1")
	if err := d.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if !d.reflink {
		t.Fatal("Setup found no reflink on xfs with reflink=1")
	}
	before := fsUsed(t, d.Backend.VolumesDir)
	checkCopies(t, d)
	// The volume holds 5 MiB; three copies of it by the engine would use 15 MiB more.
	if used := fsUsed(t, d.Backend.VolumesDir) - before; used > 8*MiB {
		t.Errorf("the volume and its copies use %d bytes of the filesystem, want the volume's 5 MiB shared", used)
	}
	if entries, _ := filepath.Glob(d.path("*" + revertSuffix)); len(entries) != 0 {
		t.Errorf("the revert left %v", entries)
	}
}

// fsUsed returns the bytes used on the filesystem holding dir.
func fsUsed(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize
}

// TestSetupRemovesRevertLeftovers: a crash between cloning a snapshot for
// a revert and the rename leaves the clone, which Setup removes.
func TestSetupRemovesRevertLeftovers(t *testing.T) {
	d := newDriver(t)
	left := d.path(volume(id1, 1).Name() + revertSuffix)
	if err := os.WriteFile(left, []byte("clone"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the leftover clone is still there: %v", err)
	}
}

// errClass fails t unless err is a *cinder.Error of class.
func errClass(t *testing.T, what string, err error, class string) {
	t.Helper()
	var ce *cinder.Error
	if !errors.As(err, &ce) || ce.Class != class {
		t.Errorf("%s: %v, want %s", what, err, class)
	}
}

func TestCopyErrors(t *testing.T) {
	d := newDriver(t)
	d.reflink = false
	v, other, big := volume(id1, 2), volume(id2, 1), volume(id4, 2)
	if err := d.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	missing := snapshot(sid2, v)
	errClass(t, "CreateVolumeFromSnapshot of a missing snapshot", d.CreateVolumeFromSnapshot(ctx, other, missing), "SnapshotNotFound")
	errClass(t, "RevertToSnapshot to a missing snapshot", d.RevertToSnapshot(ctx, v, missing), "SnapshotNotFound")
	errClass(t, "CreateClonedVolume of a missing volume", d.CreateClonedVolume(ctx, other, volume(id3, 1)), "VolumeNotFound")
	errClass(t, "CreateSnapshot of a missing volume", d.CreateSnapshot(ctx, missing, volume(id3, 1)), "VolumeNotFound")
	errClass(t, "CreateClonedVolume smaller than its source", d.CreateClonedVolume(ctx, other, v), "InvalidInput")
	errClass(t, "CreateSnapshot with a hostile id", d.CreateSnapshot(ctx, &cinder.Snapshot{ID: "../" + id2}, v), "InvalidSnapshot")
	errClass(t, "DeleteSnapshot with a hostile id", d.DeleteSnapshot(ctx, &cinder.Snapshot{ID: "a/b"}), "InvalidSnapshot")

	s := snapshot(sid1, v)
	if err := d.CreateSnapshot(ctx, s, v); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateSnapshot(ctx, s, v); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second CreateSnapshot: %v, want ErrExist", err)
	}
	errClass(t, "CreateVolumeFromSnapshot smaller than the snapshot", d.CreateVolumeFromSnapshot(ctx, other, s), "InvalidInput")
	small := volume(id3, 1)
	if err := d.CreateVolume(ctx, small); err != nil {
		t.Fatal(err)
	}
	errClass(t, "RevertToSnapshot of a volume smaller than the snapshot", d.RevertToSnapshot(ctx, small, s), "InvalidInput")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := d.CreateVolumeFromSnapshot(cancelled, big, s); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateVolumeFromSnapshot with a cancelled context: %v, want Canceled", err)
	}
	if _, err := os.Stat(d.path(big.Name())); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed copy left its volume's file: %v", err)
	}

	if err := d.DeleteSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.path(s.Name())); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deleted snapshot's file still there: %v", err)
	}
	if err := d.DeleteSnapshot(ctx, s); err != nil {
		t.Errorf("deleting a missing snapshot: %v", err)
	}
}

// TestStatsCountSnapshots: a snapshot counts in provisioned capacity, as
// thin LVM counts snapshot LVs, and in free space by what it allocates; it
// is not a volume.
func TestStatsCountSnapshots(t *testing.T) {
	d := newDriver(t)
	d.reflink = false
	v := volume(id1, 2)
	if err := d.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	testfile.WriteAt(t, d.path(v.Name()), 0, drivertest.Random(4, 64*MiB))
	for _, id := range []string{sid1, sid2} {
		if err := d.CreateSnapshot(ctx, snapshot(id, v), v); err != nil {
			t.Fatal(err)
		}
	}
	c, err := d.Capacity()
	if err != nil {
		t.Fatal(err)
	}
	if c.Volumes != 1 || c.Snapshots != 2 || c.Provisioned != 6*drivers.GiB || c.Allocated < 3*64*MiB || c.Allocated > 3*65*MiB {
		t.Errorf("Capacity = %+v; want 1 volume, 2 snapshots, 6 GiB provisioned, 192 MiB allocated", c)
	}
	if c.Free != 10*drivers.GiB-c.Allocated {
		t.Errorf("free %d, want total less allocated, %d", c.Free, 10*drivers.GiB-c.Allocated)
	}
	s, err := d.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pool := s["pools"].([]any)[0].(map[string]any)
	if pool["provisioned_capacity_gb"] != 6.0 || pool["total_volumes"] != 1 || pool["free_capacity_gb"] != 9.81 {
		t.Errorf("pool %v; want 6 GiB provisioned, 1 volume, 9.81 GiB free", pool)
	}
	if vols, err := d.Volumes(ctx); err != nil || len(vols) != 1 {
		t.Errorf("Volumes = %v, %v; want the volume alone", vols, err)
	}
}
