package thin

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/drivers/internal/drivertest"
	"github.com/cinder-go/cinder/internal/extents"
	"github.com/cinder-go/cinder/internal/testfile"
)

const (
	bid1 = "b0000000-0000-4000-8000-000000000001"
	bid2 = "b0000000-0000-4000-8000-000000000002"
	bid3 = "b0000000-0000-4000-8000-000000000003"
)

// reflinkDriver is a thin driver on a fresh xfs with reflink.
func reflinkDriver(t *testing.T) *Driver {
	t.Helper()
	d := New(&conf.Backend{Name: "b1", VolumeDriver: "thin", VolumeBackendName: "fast", VolumesDir: filepath.Join(testfile.XFS(t), "vols"),
		TotalCapacityGB: 10, VolumeDDBlocksize: 1 << 20}, "node@b1")
	if err := d.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if !d.reflink {
		t.Fatal("Setup found no reflink on xfs with reflink=1")
	}
	return d
}

// backupConnector is the connector of cinder-backup making backup id.
func backupConnector(id, parent string, keep bool) map[string]any {
	return map[string]any{"host": "backup-node", "backup": map[string]any{"id": id, "parent_id": parent, "keep": keep}}
}

// openBackup opens the connection of backup id of v, parent its parent,
// and returns the path to read and the changed ranges, nil when the
// connection reports none; the ranges go through JSON, as over RPC.
func openBackup(t *testing.T, d *Driver, v *cinder.Volume, id, parent string) (string, []extents.Range) {
	t.Helper()
	info, err := d.InitializeConnection(ctx, v, backupConnector(id, parent, false))
	if err != nil {
		t.Fatal(err)
	}
	path, err := info.DevicePath()
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := info.Data["changed_ranges"]
	if !ok {
		return path, nil
	}
	if info.Data["changed_since"] != parent {
		t.Fatalf("changed_since %v, want %s", info.Data["changed_since"], parent)
	}
	data, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	rs := []extents.Range{}
	if err := json.Unmarshal(data, &rs); err != nil {
		t.Fatal(err)
	}
	return path, rs
}

// closeBackup closes the connection of backup id of v, keeping its clone
// as the base when keep.
func closeBackup(t *testing.T, d *Driver, v *cinder.Volume, id string, keep bool) {
	t.Helper()
	if err := d.TerminateConnection(ctx, v, backupConnector(id, "", keep)); err != nil {
		t.Fatal(err)
	}
}

// bases lists the files of the backup bases directory.
func bases(t *testing.T, d *Driver) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(d.Backend.VolumesDir, basesDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		paths[i] = filepath.Base(p)
	}
	return paths
}

// checkCovered fails t unless every 4 KiB page in which the files a and b
// differ over their first size bytes (b's bytes past a's end included)
// lies in changed.
func checkCovered(t *testing.T, a, b string, size int64, changed []extents.Range) {
	t.Helper()
	const page = 4096
	sa, _ := testfile.Stat(t, a)
	for off := int64(0); off < size; off += 1 << 20 {
		n := int(min(1<<20, size-off))
		pb := testfile.ReadAt(t, b, off, n)
		pa := make([]byte, n)
		if off < sa {
			copy(pa, testfile.ReadAt(t, a, off, int(min(int64(n), sa-off))))
		}
		for p := 0; p < n; p += page {
			if bytes.Equal(pa[p:p+page], pb[p:p+page]) && off+int64(p) < sa {
				continue
			}
			at := off + int64(p)
			covered := false
			for _, r := range changed {
				covered = covered || r.Offset <= at && at+page <= r.End()
			}
			if !covered {
				t.Fatalf("bytes %d-%d differ but lie in no changed range of %v", at, at+page, changed)
			}
		}
	}
}

// changedBytes adds up the lengths of rs.
func changedBytes(rs []extents.Range) int64 {
	var n int64
	for _, r := range rs {
		n += r.Length
	}
	return n
}

// TestBackupChangedRanges: on reflink, a backup reads a point-in-time
// clone, kept as the volume's base once the backup is available; the next
// backup whose parent is that backup gets ranges covering every byte that
// changed since (random writes, a partial block, a write into a hole,
// punched holes, growth), and little more.
func TestBackupChangedRanges(t *testing.T) {
	d := reflinkDriver(t)
	v := volume(id1, 1)
	if err := d.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	path := d.path(v.Name())
	writeData(t, path)
	testfile.WriteAt(t, path, 600*MiB, drivertest.Random(4, 2*MiB))

	clone, changed := openBackup(t, d, v, bid1, "")
	if clone == path || changed != nil {
		t.Fatalf("a full backup reads %s with ranges %v; want a clone, no ranges", clone, changed)
	}
	drivertest.SameBytes(t, path, clone)
	closeBackup(t, d, v, bid1, true)
	base := d.base(v, bid1)
	if got := bases(t, d); len(got) != 1 || got[0] != filepath.Base(base) {
		t.Fatalf("after the full backup the bases are %v, want %s", got, filepath.Base(base))
	}

	testfile.WriteAt(t, path, 5, []byte("a few bytes in the first block"))
	testfile.WriteAt(t, path, 512*MiB+5+MiB, drivertest.Random(5, 100)) // inside a data extent
	testfile.WriteAt(t, path, 600*MiB+4096*3+17, drivertest.Random(6, 9000))
	testfile.WriteAt(t, path, 800*MiB+123, drivertest.Random(7, 5000)) // into a hole
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{601 * MiB, 512*MiB + 2*MiB} {
		if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, 64<<10); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	clone, changed = openBackup(t, d, v, bid2, bid1)
	if changed == nil {
		t.Fatal("no changed ranges for a backup whose parent is the base's")
	}
	drivertest.SameBytes(t, path, clone)
	checkCovered(t, base, clone, drivers.GiB, changed)
	if n := changedBytes(changed); n == 0 || n > 2*MiB {
		t.Errorf("%d bytes reported changed, want the few writes and holes (under 2 MiB) of a volume holding 8 MiB", n)
	}
	closeBackup(t, d, v, bid2, true)
	if got := bases(t, d); len(got) != 1 || got[0] != filepath.Base(d.base(v, bid2)) {
		t.Fatalf("after the incremental the bases are %v, want only the incremental's", got)
	}

	// Growth: the new range counts as changed; a backup that fails keeps
	// no base and leaves the one before.
	if err := d.ExtendVolume(ctx, v, 2); err != nil {
		t.Fatal(err)
	}
	clone, changed = openBackup(t, d, v, bid3, bid2)
	checkCovered(t, d.base(v, bid2), clone, 2*drivers.GiB, changed)
	if n := changedBytes(changed); n < drivers.GiB || n > drivers.GiB+MiB {
		t.Errorf("%d bytes reported changed after growing by 1 GiB", n)
	}
	closeBackup(t, d, v, bid3, false)
	if got := bases(t, d); len(got) != 1 || got[0] != filepath.Base(d.base(v, bid2)) {
		t.Fatalf("after a failed backup the bases are %v, want the last one kept", got)
	}
}

// TestBackupWithoutTracking: no ranges are reported without a base
// matching the parent, and without reflink the backup reads the volume.
func TestBackupWithoutTracking(t *testing.T) {
	d := reflinkDriver(t)
	v := volume(id1, 1)
	if err := d.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	writeData(t, d.path(v.Name()))
	if _, changed := openBackup(t, d, v, bid1, bid3); changed != nil {
		t.Errorf("ranges %v reported with no base at all", changed)
	}
	closeBackup(t, d, v, bid1, true)
	if _, changed := openBackup(t, d, v, bid2, bid3); changed != nil {
		t.Errorf("ranges %v reported for a parent that is not the base's backup", changed)
	}
	closeBackup(t, d, v, bid2, false)
	// A peer that says nothing of a backup (Cinder's cinder-backup) reads the volume.
	if info, err := d.InitializeConnection(ctx, v, map[string]any{"host": "x"}); err != nil || info.Data["device_path"] != d.path(v.Name()) {
		t.Errorf("plain connection: %v, %v", info, err)
	}

	e := newDriver(t)
	e.reflink = false // whatever the temporary directory's filesystem can do
	w := volume(id2, 1)
	if err := e.CreateVolume(ctx, w); err != nil {
		t.Fatal(err)
	}
	if path, changed := openBackup(t, e, w, bid1, ""); path != e.path(w.Name()) || changed != nil {
		t.Errorf("without reflink a backup reads %s, ranges %v; want the volume, none", path, changed)
	}
	closeBackup(t, e, w, bid1, true)
	if got := bases(t, e); len(got) != 0 {
		t.Errorf("without reflink the bases are %v", got)
	}
}

// TestBackupBasesGoWithVolume: a base is no volume, snapshot or
// manageable file, and goes with its volume's delete or unmanage; an
// interrupted backup's clone goes at Setup, which keeps bases; a base
// kept after its volume went is removed at once.
func TestBackupBasesGoWithVolume(t *testing.T) {
	d := reflinkDriver(t)
	v, w := volume(id1, 1), volume(id2, 1)
	for _, x := range []*cinder.Volume{v, w} {
		if err := d.CreateVolume(ctx, x); err != nil {
			t.Fatal(err)
		}
		writeData(t, d.path(x.Name()))
		openBackup(t, d, x, bid1, "")
		closeBackup(t, d, x, bid1, true)
	}
	openBackup(t, d, v, bid2, bid1) // interrupted: its clone stays
	if got := bases(t, d); len(got) != 3 {
		t.Fatalf("bases %v, want two bases and a clone", got)
	}
	vols, err := d.Volumes(ctx)
	if err != nil || len(vols) != 2 {
		t.Errorf("Volumes = %v, %v; want the two volumes", vols, err)
	}
	list, err := d.Manageable(ctx, false, map[string]bool{id1: true, id2: true})
	if err != nil || len(list) != 2 {
		t.Errorf("manageable volumes %v, %v; want the two volumes", list, err)
	}
	if err := d.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if got := bases(t, d); len(got) != 2 {
		t.Fatalf("after Setup the bases are %v, want the two bases", got)
	}

	if err := d.DeleteVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	if got := bases(t, d); len(got) != 1 || got[0] != filepath.Base(d.base(w, bid1)) {
		t.Fatalf("after deleting a volume the bases are %v, want the other volume's", got)
	}
	if err := d.Unmanage(ctx, w); err != nil {
		t.Fatal(err)
	}
	if got := bases(t, d); len(got) != 0 {
		t.Fatalf("after unmanaging a volume the bases are %v", got)
	}

	// A delete between the backup's end and the keep leaves no base.
	x := volume(id3, 1)
	if err := d.CreateVolume(ctx, x); err != nil {
		t.Fatal(err)
	}
	openBackup(t, d, x, bid3, "")
	if err := os.Remove(d.path(x.Name())); err != nil { // DeleteVolume's first step
		t.Fatal(err)
	}
	closeBackup(t, d, x, bid3, true)
	if got := bases(t, d); len(got) != 0 {
		t.Fatalf("a base was kept for a deleted volume: %v", got)
	}
}
