package thick

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/internal/testfile"
)

var ctx = context.Background()

const (
	id1 = "11111111-2222-4333-8444-555555555555"
	id2 = "66666666-7777-4888-9999-aaaaaaaaaaaa"
	id3 = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
)

// newDriver returns a thick driver over a fresh directory reporting capacityGB.
func newDriver(t *testing.T, volumeClear string, clearSizeMB int, capacityGB float64) *Driver {
	t.Helper()
	d := New(&conf.Backend{
		Name: "b1", VolumeDriver: "thick", VolumeBackendName: "b1", VolumesDir: filepath.Join(t.TempDir(), "vols"),
		MaxOverSubscriptionRatio: 20, TotalCapacityGB: capacityGB, VolumeClear: volumeClear, VolumeClearSize: clearSizeMB,
		VolumeDDBlocksize: 1 << 20,
	}, "node@b1")
	if err := d.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

func volume(id string, size int) *cinder.Volume { return &cinder.Volume{ID: id, Size: size} }

func (d *Driver) path(v *cinder.Volume) string { return filepath.Join(d.Backend.VolumesDir, v.Name()) }

// written returns the bytes this process has passed to write calls (wchar).
func written(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no wchar in /proc/self/io")
	return 0
}

// isZero reports whether the whole file reads as zeros.
func isZero(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	buf, zeros := make([]byte, 4<<20), make([]byte, 4<<20)
	for {
		n, err := f.Read(buf)
		if !bytes.Equal(buf[:n], zeros[:n]) {
			return false
		}
		if err == io.EOF {
			return true
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestCreateAllocatesWithoutWriting(t *testing.T) {
	d := newDriver(t, "zero", 0, 0)
	v := volume(id1, 1)
	before, start := written(t), time.Now()
	if err := d.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	elapsed, wrote := time.Since(start), written(t)-before
	size, allocated := testfile.Stat(t, d.path(v))
	if size != drivers.GiB || allocated < drivers.GiB {
		t.Errorf("size %d, allocated %d: want exactly 1 GiB, all allocated", size, allocated)
	}
	if wrote > 1<<20 || elapsed > 2*time.Second {
		t.Errorf("create wrote %d bytes in %v: want an allocation, not a write", wrote, elapsed)
	}
	for _, off := range []int64{0, drivers.GiB - 1<<20} {
		if !bytes.Equal(testfile.ReadAt(t, d.path(v), off, 1<<20), make([]byte, 1<<20)) {
			t.Errorf("new volume's bytes at %d are not zero", off)
		}
	}
}

// pattern marks a volume at its start, middle and end.
var marks = []int64{0, drivers.GiB / 2, drivers.GiB - 1<<20}

func fill(t *testing.T, path string) []byte {
	t.Helper()
	p := bytes.Repeat([]byte("old tenant data!"), (1<<20)/16)
	for _, off := range marks {
		testfile.WriteAt(t, path, off, p)
	}
	return p
}

// The hazard of thick LVM: without volume_clear the next volume shows the
// deleted volume's bytes.
func TestReleasedStorageKeepsOldBytes(t *testing.T) {
	d := newDriver(t, "none", 0, 0)
	a, b := volume(id1, 1), volume(id2, 1)
	if err := d.CreateVolume(ctx, a); err != nil {
		t.Fatal(err)
	}
	p := fill(t, d.path(a))
	if err := d.DeleteVolume(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.path(a)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("deleted volume's file still there: %v", err)
	}
	if err := d.CreateVolume(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, off := range marks {
		if !bytes.Equal(testfile.ReadAt(t, d.path(b), off, len(p)), p) {
			t.Errorf("new volume does not show the old bytes at %d", off)
		}
	}
	if entries, _ := os.ReadDir(d.Released); len(entries) != 0 {
		t.Errorf("released area still holds %v", entries)
	}
}

func TestVolumeClearZero(t *testing.T) {
	d := newDriver(t, "zero", 0, 0)
	a, b := volume(id1, 1), volume(id2, 1)
	if err := d.CreateVolume(ctx, a); err != nil {
		t.Fatal(err)
	}
	fill(t, d.path(a))
	if err := d.DeleteVolume(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateVolume(ctx, b); err != nil {
		t.Fatal(err)
	}
	if size, allocated := testfile.Stat(t, d.path(b)); size != drivers.GiB || allocated < drivers.GiB {
		t.Errorf("size %d, allocated %d", size, allocated)
	}
	if !isZero(t, d.path(b)) {
		t.Error("volume_clear=zero left old bytes in released storage")
	}
}

func TestVolumeClearSizeClearsTheStart(t *testing.T) {
	d := newDriver(t, "zero", 1, 0)
	a, b := volume(id1, 1), volume(id2, 1)
	if err := d.CreateVolume(ctx, a); err != nil {
		t.Fatal(err)
	}
	p := fill(t, d.path(a))
	if err := d.DeleteVolume(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateVolume(ctx, b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(testfile.ReadAt(t, d.path(b), 0, 1<<20), make([]byte, 1<<20)) {
		t.Error("first MiB not cleared")
	}
	if !bytes.Equal(testfile.ReadAt(t, d.path(b), marks[1], len(p)), p) {
		t.Error("bytes past volume_clear_size were cleared too")
	}
}

func TestReuseResizes(t *testing.T) {
	d := newDriver(t, "none", 0, 0)
	a, b, c := volume(id1, 1), volume(id2, 2), volume(id3, 1)
	if err := d.CreateVolume(ctx, a); err != nil {
		t.Fatal(err)
	}
	p := fill(t, d.path(a))
	if err := d.DeleteVolume(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateVolume(ctx, b); err != nil { // grows the released 1 GiB
		t.Fatal(err)
	}
	if size, allocated := testfile.Stat(t, d.path(b)); size != 2*drivers.GiB || allocated < 2*drivers.GiB {
		t.Errorf("grown volume: size %d, allocated %d, want 2 GiB", size, allocated)
	}
	if !bytes.Equal(testfile.ReadAt(t, d.path(b), 0, len(p)), p) {
		t.Error("grown volume is not the released storage")
	}
	if err := d.DeleteVolume(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateVolume(ctx, c); err != nil { // shrinks the released 2 GiB
		t.Fatal(err)
	}
	if size, _ := testfile.Stat(t, d.path(c)); size != drivers.GiB {
		t.Errorf("shrunk volume: size %d, want 1 GiB", size)
	}
	if !bytes.Equal(testfile.ReadAt(t, d.path(c), marks[1], len(p)), p) {
		t.Error("shrunk volume is not the released storage")
	}
}

func TestBetterReleasedFile(t *testing.T) {
	for _, tc := range []struct {
		s, t, size int64
		want       bool
	}{
		{2, 1, 2, true},  // fits beats not fitting
		{1, 2, 2, false}, // not fitting loses to fitting
		{3, 4, 2, true},  // smaller fitting
		{4, 3, 2, false},
		{1, 0, 2, true}, // larger non-fitting
		{0, 1, 2, false},
	} {
		if got := better(tc.s, tc.t, tc.size); got != tc.want {
			t.Errorf("better(%d, %d, %d) = %v, want %v", tc.s, tc.t, tc.size, got, tc.want)
		}
	}
}

func TestCapacityExhausted(t *testing.T) {
	d := newDriver(t, "none", 0, 2)
	if err := d.CreateVolume(ctx, volume(id1, 1)); err != nil {
		t.Fatal(err)
	}
	full := volume(id2, 2)
	err := d.CreateVolume(ctx, full)
	var ce *cinder.Error
	if !errors.As(err, &ce) || ce.Class != "VolumeBackendAPIException" {
		t.Fatalf("CreateVolume beyond capacity: %v, want VolumeBackendAPIException", err)
	}
	if _, err := os.Stat(d.path(full)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed create left a file: %v", err)
	}
	if err := d.ExtendVolume(ctx, volume(id1, 1), 3); !errors.As(err, &ce) || ce.Class != "VolumeBackendAPIException" {
		t.Errorf("ExtendVolume beyond capacity: %v, want VolumeBackendAPIException", err)
	}
	// Released storage is free again.
	if err := d.DeleteVolume(ctx, volume(id1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateVolume(ctx, full); err != nil {
		t.Errorf("CreateVolume after a delete freed space: %v", err)
	}
}

func TestExtendAllocates(t *testing.T) {
	d := newDriver(t, "none", 0, 0)
	v := volume(id1, 1)
	if err := d.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	p := fill(t, d.path(v))
	if err := d.ExtendVolume(ctx, v, 2); err != nil {
		t.Fatal(err)
	}
	if size, allocated := testfile.Stat(t, d.path(v)); size != 2*drivers.GiB || allocated < 2*drivers.GiB {
		t.Errorf("size %d, allocated %d, want 2 GiB allocated", size, allocated)
	}
	if !bytes.Equal(testfile.ReadAt(t, d.path(v), marks[2], len(p)), p) {
		t.Error("extend lost bytes")
	}
	if err := d.ExtendVolume(ctx, v, 1); err == nil {
		t.Error("shrinking succeeded")
	}
}

func TestDeleteMissingAndHostile(t *testing.T) {
	d := newDriver(t, "zero", 0, 0)
	if err := d.DeleteVolume(ctx, volume(id1, 1)); err != nil {
		t.Errorf("deleting a missing volume: %v", err)
	}
	for _, bad := range []string{"../x", "a/b", "not-a-uuid"} {
		if err := d.CreateVolume(ctx, volume(bad, 1)); err == nil {
			t.Errorf("CreateVolume(%q) succeeded", bad)
		}
		if err := d.DeleteVolume(ctx, volume(bad, 1)); err == nil {
			t.Errorf("DeleteVolume(%q) succeeded", bad)
		}
	}
	if entries, _ := os.ReadDir(d.Backend.VolumesDir); len(entries) != 1 {
		t.Errorf("volumes_dir holds %v, want only .free", entries)
	}
}

func TestStats(t *testing.T) {
	d := newDriver(t, "none", 0, 4)
	for _, id := range []string{id1, id2} {
		if err := d.CreateVolume(ctx, volume(id, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.DeleteVolume(ctx, volume(id2, 1)); err != nil {
		t.Fatal(err)
	}
	s, err := d.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s["sparse_copy_volume"] != false {
		t.Errorf("sparse_copy_volume = %v, want false", s["sparse_copy_volume"])
	}
	pool := s["pools"].([]any)[0].(map[string]any)
	want := map[string]any{
		"total_capacity_gb": 4.0, "free_capacity_gb": 3.0, "provisioned_capacity_gb": 1.0, "total_volumes": 1,
		"thin_provisioning_support": false, "thick_provisioning_support": true,
		"location_info": "thick:node@b1:" + d.Backend.VolumesDir,
	}
	for k, w := range want {
		if pool[k] != w {
			t.Errorf("pool %s = %#v, want %#v", k, pool[k], w)
		}
	}
}

// Volumes lists the volumes created, not the released storage of deleted ones.
func TestVolumesLeavesOutReleased(t *testing.T) {
	d := newDriver(t, "none", 0, 10)
	for _, v := range []*cinder.Volume{volume(id1, 1), volume(id2, 2)} {
		if err := d.CreateVolume(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.DeleteVolume(ctx, volume(id1, 1)); err != nil {
		t.Fatal(err)
	}
	got, err := d.Volumes(ctx)
	if err != nil || len(got) != 1 || got[id2] != 2*drivers.GiB {
		t.Fatalf("Volumes = %v, %v; want only %s of 2 GiB", got, err, id2)
	}
}
