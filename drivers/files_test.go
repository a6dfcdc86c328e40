package drivers

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
)

const id = "0d5f6c1e-8a43-4c5e-9d2b-3f1a7e6b9c20"

func newFiles(t *testing.T) *Files {
	t.Helper()
	dir := t.TempDir()
	f := &Files{
		Backend:  &conf.Backend{Name: "b1", VolumeBackendName: "b1", VolumesDir: filepath.Join(dir, "volumes"), TotalCapacityGB: 10},
		Host:     "node@b1",
		Released: filepath.Join(dir, "volumes", ".free"),
	}
	if err := f.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPathRefusesNonUUIDs(t *testing.T) {
	f := newFiles(t)
	for _, bad := range []string{"", "../x", "a/b", "not-a-uuid", "../../../../etc/passwd00000000000000", "%2e%2e%2f",
		"0d5f6c1e-8a43-4c5e-9d2b-3f1a7e6b9c2/", "0d5f6c1e_8a43_4c5e_9d2b_3f1a7e6b9c20", "0d5f6c1e-8a43-4c5e-9d2b-3f1a7e6b9c2g",
		id + "/../" + id, strings.Repeat("0", 4096)} {
		_, err := f.Path(&cinder.Volume{ID: bad})
		var ce *cinder.Error
		if !errors.As(err, &ce) || ce.Class != "InvalidVolume" {
			t.Errorf("Path(id %q) error %v, want InvalidVolume", bad, err)
		}
	}
	if _, err := f.Path(&cinder.Volume{ID: id, NameID: "../" + id[3:]}); err == nil {
		t.Error("Path accepted a hostile _name_id")
	}
	if _, err := f.Path(nil); err == nil {
		t.Error("Path(nil) succeeded")
	}
}

func TestSnapshotPath(t *testing.T) {
	f := newFiles(t)
	for _, bad := range []string{"", "../x", "a/b", "../../" + id[6:], id + "/"} {
		_, err := f.SnapshotPath(&cinder.Snapshot{ID: bad})
		var ce *cinder.Error
		if !errors.As(err, &ce) || ce.Class != "InvalidSnapshot" {
			t.Errorf("SnapshotPath(id %q) error %v, want InvalidSnapshot", bad, err)
		}
	}
	if _, err := f.SnapshotPath(nil); err == nil {
		t.Error("SnapshotPath(nil) succeeded")
	}
	got, err := f.SnapshotPath(&cinder.Snapshot{ID: id, DisplayName: "../../etc/passwd"})
	if want := filepath.Join(f.Backend.VolumesDir, "snapshot-"+id); err != nil || got != want {
		t.Errorf("SnapshotPath = %q, %v; want %q", got, err, want)
	}
}

func TestPathUsesNameID(t *testing.T) {
	f := newFiles(t)
	other := "9b1f0c2e-1111-4c5e-9d2b-3f1a7e6b9c20"
	got, err := f.Path(&cinder.Volume{ID: id, NameID: other})
	if want := filepath.Join(f.Backend.VolumesDir, "volume-"+other); err != nil || got != want {
		t.Errorf("Path = %q, %v; want %q", got, err, want)
	}
	// A display name is never part of the path, whatever it holds.
	got, err = f.Path(&cinder.Volume{ID: id, DisplayName: "../../etc/passwd"})
	if want := filepath.Join(f.Backend.VolumesDir, "volume-"+id); err != nil || got != want {
		t.Errorf("Path of a volume named ../../etc/passwd = %q, %v; want %q", got, err, want)
	}
}

func TestBytes(t *testing.T) {
	if n, err := Bytes(3); err != nil || n != 3<<30 {
		t.Errorf("Bytes(3) = %d, %v", n, err)
	}
	for _, bad := range []int{0, -1, 1 << 31} {
		if _, err := Bytes(bad); err == nil {
			t.Errorf("Bytes(%d) succeeded", bad)
		}
	}
}

func TestSetupCreatesDirectories(t *testing.T) {
	f := newFiles(t)
	for _, dir := range []string{f.Backend.VolumesDir, f.Released} {
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			t.Errorf("%s: %v, want a directory", dir, err)
		}
	}
	blocked := &Files{Backend: &conf.Backend{Name: "x", VolumesDir: filepath.Join(f.Backend.VolumesDir, "file", "sub")}}
	if err := os.WriteFile(filepath.Join(f.Backend.VolumesDir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := blocked.Setup(context.Background()); err == nil {
		t.Error("Setup under a regular file succeeded")
	}
}

func TestCapacityCountsVolumesAndReleased(t *testing.T) {
	f := newFiles(t)
	write := func(path string, size int64, data int) {
		t.Helper()
		file, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := file.Truncate(size); err != nil {
			t.Fatal(err)
		}
		if _, err := file.WriteAt(make([]byte, data), 0); err != nil {
			t.Fatal(err)
		}
		if err := file.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(f.Backend.VolumesDir, "volume-"+id), 2*GiB, 1<<20)
	write(filepath.Join(f.Backend.VolumesDir, "snapshot-"+id), GiB, 1<<20)
	write(filepath.Join(f.Backend.VolumesDir, "stray"), GiB, 1<<20) // not a volume
	write(filepath.Join(f.Released, "extent-1"), GiB, 1<<20)

	c, err := f.Capacity()
	if err != nil {
		t.Fatal(err)
	}
	if c.Total != 10*GiB || c.Provisioned != 3*GiB || c.Volumes != 1 || c.Snapshots != 1 || c.Allocated < 2<<20 || c.Allocated > 3<<20 {
		t.Errorf("Capacity = %+v", c)
	}
	if c.Free != 7*GiB {
		t.Errorf("thick free = %d, want 7 GiB (full sizes of the volume and snapshot used)", c.Free)
	}
	f.Thin = true
	if c, _ = f.Capacity(); c.Free != 10*GiB-c.Allocated {
		t.Errorf("thin free = %d, want total minus allocated %d", c.Free, 10*GiB-c.Allocated)
	}
}

func TestInitializeConnection(t *testing.T) {
	f := newFiles(t)
	v := &cinder.Volume{ID: id, Size: 1}
	if _, err := f.InitializeConnection(context.Background(), v, nil); err == nil {
		t.Error("InitializeConnection of a volume without a file succeeded")
	}
	path := filepath.Join(f.Backend.VolumesDir, v.Name())
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := f.InitializeConnection(context.Background(), v, map[string]any{"host": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if info.DriverVolumeType != "local" || info.Data["device_path"] != path {
		t.Errorf("connection info %+v, want local %s", info, path)
	}
	if err := f.TerminateConnection(context.Background(), v, nil); err != nil {
		t.Errorf("TerminateConnection: %v", err)
	}
}

func TestUpdateMigratedVolume(t *testing.T) {
	ctx := context.Background()
	const newID = "7c3a9e51-2b6d-4f0e-8a1c-5d9e2f4b6a13"
	orig, target := &cinder.Volume{ID: id}, &cinder.Volume{ID: newID}
	write := func(f *Files, v *cinder.Volume, data string) string {
		t.Helper()
		path, err := f.Path(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	read := func(f *Files, v *cinder.Volume) string {
		t.Helper()
		path, _ := f.Path(v)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// An available volume takes the target's storage under its own name.
	f := newFiles(t)
	from := write(f, target, "migrated")
	nameID, err := f.UpdateMigratedVolume(ctx, orig, target, cinder.StatusAvailable)
	if err != nil || nameID != "" {
		t.Fatalf("UpdateMigratedVolume(available) = %q, %v; want \"\", nil", nameID, err)
	}
	if got := read(f, orig); got != "migrated" {
		t.Errorf("volume-<orig id> holds %q, want the target's bytes", got)
	}
	if _, err := os.Stat(from); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("target file after the rename: %v, want gone", err)
	}

	// Otherwise, or when that name is taken, it keeps the target's data id.
	for status, taken := range map[string]bool{cinder.StatusInUse: false, cinder.StatusAvailable: true} {
		f := newFiles(t)
		write(f, target, "migrated")
		if taken {
			write(f, orig, "someone else's")
		}
		nameID, err := f.UpdateMigratedVolume(ctx, orig, target, status)
		if err != nil || nameID != newID {
			t.Errorf("UpdateMigratedVolume(%s, name taken %v) = %q, %v; want %q", status, taken, nameID, err, newID)
		}
		if got := read(f, target); got != "migrated" {
			t.Errorf("target file holds %q after keeping its name", got)
		}
		if taken && read(f, orig) != "someone else's" {
			t.Error("the file already named volume-<orig id> was replaced")
		}
	}

	if _, err := f.UpdateMigratedVolume(ctx, orig, &cinder.Volume{ID: "../x"}, cinder.StatusAvailable); err == nil {
		t.Error("UpdateMigratedVolume accepted a target id that is not a UUID")
	}
}

func TestVolumesListsVolumeFiles(t *testing.T) {
	f := newFiles(t)
	other := "9b1f0c2e-1111-4c5e-9d2b-3f1a7e6b9c20"
	dir := f.Backend.VolumesDir
	for name, size := range map[string]int64{
		"volume-" + id:             GiB,
		"volume-" + other:          3 * GiB,
		"snapshot-" + id:           GiB,
		"volume-not-a-uuid":        1,
		"notes.txt":                1,
		".free/extent-1":           GiB,
		"volume-" + id[:35] + "0x": 1,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(filepath.Join(dir, name), size); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "volume-"+"0d5f6c1e-8a43-4c5e-9d2b-000000000000"), 0o750); err != nil {
		t.Fatal(err)
	}
	got, err := f.Volumes(context.Background())
	want := map[string]int64{id: GiB, other: 3 * GiB}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("Volumes = %v, %v; want %v", got, err, want)
	}

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Volumes(context.Background()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Volumes of a missing volumes_dir: %v, want ErrNotExist", err)
	}
}
