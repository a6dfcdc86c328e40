package thin

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/internal/testfile"
)

var ctx = context.Background()

func newDriver(t *testing.T) *Driver {
	t.Helper()
	d := New(&conf.Backend{
		Name: "b1", VolumeDriver: "thin", VolumeBackendName: "fast", VolumesDir: filepath.Join(t.TempDir(), "vols"),
		ReservedPercentage: 5, MaxOverSubscriptionRatio: 20, TotalCapacityGB: 10, VolumeClear: "zero", VolumeDDBlocksize: 1 << 20,
	}, "node@b1")
	if err := d.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

func volume(id string, size int) *cinder.Volume { return &cinder.Volume{ID: id, Size: size} }

const (
	id1 = "11111111-2222-4333-8444-555555555555"
	id2 = "66666666-7777-4888-9999-aaaaaaaaaaaa"
)

func TestCreateIsSparseAndZero(t *testing.T) {
	d := newDriver(t)
	v := volume(id1, 1)
	if err := d.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(d.Backend.VolumesDir, v.Name())
	size, allocated := testfile.Stat(t, path)
	if size != drivers.GiB || allocated > 64<<10 {
		t.Errorf("size %d, allocated %d: want exactly 1 GiB, nothing allocated", size, allocated)
	}
	zeros := make([]byte, 1<<20)
	for _, off := range []int64{0, drivers.GiB / 2, drivers.GiB - 1<<20} {
		if !bytes.Equal(testfile.ReadAt(t, path, off, len(zeros)), zeros) {
			t.Errorf("bytes at %d are not zero", off)
		}
	}
	if err := d.CreateVolume(ctx, v); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second CreateVolume: %v, want ErrExist", err)
	}
}

func TestExtendKeepsBytes(t *testing.T) {
	d := newDriver(t)
	v := volume(id1, 1)
	if err := d.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(d.Backend.VolumesDir, v.Name())
	pattern := bytes.Repeat([]byte{0xAB}, 4096)
	testfile.WriteAt(t, path, drivers.GiB-4096, pattern)
	if err := d.ExtendVolume(ctx, v, 3); err != nil {
		t.Fatal(err)
	}
	if size, _ := testfile.Stat(t, path); size != 3*drivers.GiB {
		t.Errorf("size after extend %d, want 3 GiB", size)
	}
	if !bytes.Equal(testfile.ReadAt(t, path, drivers.GiB-4096, 4096), pattern) {
		t.Error("extend lost the volume's bytes")
	}
	if !bytes.Equal(testfile.ReadAt(t, path, 3*drivers.GiB-4096, 4096), make([]byte, 4096)) {
		t.Error("extended range is not zero")
	}
	if err := d.ExtendVolume(ctx, v, 2); err == nil {
		t.Error("shrinking succeeded")
	}
	if err := d.ExtendVolume(ctx, volume(id2, 1), 2); err == nil {
		t.Error("extending a volume without a file succeeded")
	}
}

func TestDelete(t *testing.T) {
	d := newDriver(t)
	v := volume(id1, 1)
	if err := d.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.Backend.VolumesDir, v.Name())); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file still there: %v", err)
	}
	if err := d.DeleteVolume(ctx, v); err != nil {
		t.Errorf("deleting a missing volume: %v", err)
	}
}

func TestHostileIDs(t *testing.T) {
	d := newDriver(t)
	for _, bad := range []string{"../x", "a/b", "not-a-uuid", "../../" + id1[6:]} {
		v := volume(bad, 1)
		if err := d.CreateVolume(ctx, v); err == nil {
			t.Errorf("CreateVolume(%q) succeeded", bad)
		}
		if err := d.DeleteVolume(ctx, v); err == nil {
			t.Errorf("DeleteVolume(%q) succeeded", bad)
		}
		if err := d.ExtendVolume(ctx, v, 2); err == nil {
			t.Errorf("ExtendVolume(%q) succeeded", bad)
		}
		if _, err := d.InitializeConnection(ctx, v, nil); err == nil {
			t.Errorf("InitializeConnection(%q) succeeded", bad)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(d.Backend.VolumesDir))
	if len(entries) != 1 {
		t.Errorf("files beside volumes_dir: %v", entries)
	}
}

func TestStats(t *testing.T) {
	d := newDriver(t)
	for _, id := range []string{id1, id2} {
		if err := d.CreateVolume(ctx, volume(id, 1)); err != nil {
			t.Fatal(err)
		}
	}
	testfile.WriteAt(t, filepath.Join(d.Backend.VolumesDir, volume(id1, 1).Name()), 0, bytes.Repeat([]byte{1}, 64<<20))

	s, err := d.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	top := map[string]any{"volume_backend_name": "fast", "vendor_name": "Open Source", "driver_version": "1.0.0",
		"storage_protocol": "local", "sparse_copy_volume": true}
	for k, want := range top {
		if s[k] != want {
			t.Errorf("%s = %v, want %v", k, s[k], want)
		}
	}
	pools, ok := s["pools"].([]any)
	if !ok || len(pools) != 1 {
		t.Fatalf("pools = %#v, want one pool", s["pools"])
	}
	want := map[string]any{
		"pool_name": "fast", "total_capacity_gb": 10.0, "free_capacity_gb": 9.94, "provisioned_capacity_gb": 2.0,
		"reserved_percentage": 5, "max_over_subscription_ratio": 20.0, "thin_provisioning_support": true,
		"thick_provisioning_support": false, "total_volumes": 2, "QoS_support": false, "multiattach": true,
		"location_info": "thin:node@b1:" + d.Backend.VolumesDir, "backend_state": "up",
	}
	pool := pools[0].(map[string]any)
	for k, w := range want {
		if pool[k] != w {
			t.Errorf("pool %s = %#v, want %#v", k, pool[k], w)
		}
	}
	if len(pool) != len(want) {
		t.Errorf("pool has %d keys, want %d: %v", len(pool), len(want), pool)
	}
}

func TestVolumesListsCreated(t *testing.T) {
	d := newDriver(t)
	if err := d.CreateVolume(ctx, volume(id1, 2)); err != nil {
		t.Fatal(err)
	}
	got, err := d.Volumes(ctx)
	if err != nil || len(got) != 1 || got[id1] != 2*drivers.GiB {
		t.Fatalf("Volumes = %v, %v; want %s of 2 GiB", got, err, id1)
	}
	if err := d.DeleteVolume(ctx, volume(id1, 2)); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Volumes(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Volumes after delete = %v, %v; want none", got, err)
	}
}
