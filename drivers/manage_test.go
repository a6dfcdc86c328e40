package drivers

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cinder-go/cinder"
)

// writeFile writes data to name in f's volumes directory.
func writeFile(t *testing.T, f *Files, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(f.Backend.VolumesDir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A reference is one plain regular file of the volumes directory: paths,
// hidden files, symbolic links (even to a file inside), directories,
// devices, missing and empty files are refused with a 400, nothing renamed.
func TestManageRefusesForeignReferences(t *testing.T) {
	f := newFiles(t)
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	inside := writeFile(t, f, "plain", []byte("x"))
	dir := f.Backend.VolumesDir
	for _, link := range [][2]string{{outside, "out"}, {inside, "in"}, {"/dev/null", "dev"}} {
		if err := os.Symlink(link[0], filepath.Join(dir, link[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, f, "empty", nil)
	v := &cinder.Volume{ID: id, Size: 1}
	for _, ref := range []map[string]any{
		{}, {"source-id": "plain"}, {"source-name": 3}, {"source-name": ""}, {"source-name": "../secret"},
		{"source-name": outside}, {"source-name": "sub/x"}, {"source-name": "."}, {"source-name": ".."},
		{"source-name": ".free"}, {"source-name": "out"}, {"source-name": "in"}, {"source-name": "dev"},
		{"source-name": "fifo"}, {"source-name": "sub"}, {"source-name": "missing"}, {"source-name": "empty"},
		{"source-name": "pl\x00ain"},
	} {
		if _, err := f.ManageExistingGetSize(context.Background(), ref); cinder.Code(err) != 400 {
			t.Errorf("get size of %v: %v, want 400", ref, err)
		}
		if err := f.ManageExisting(context.Background(), v, ref); cinder.Code(err) != 400 {
			t.Errorf("manage %v: %v, want 400", ref, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, v.Name())); !os.IsNotExist(err) {
		t.Fatalf("a refused reference was adopted: %v", err)
	}
	if got, err := os.ReadFile(outside); err != nil || string(got) != "x" {
		t.Fatalf("outside file %q %v", got, err)
	}
}

// Managing renames the file to the volume's name, its bytes kept and the
// file grown with zeros to whole GiB (allocated when thick); the size is
// rounded up.
func TestManageAdoptsAndRoundsUp(t *testing.T) {
	for _, thin := range []bool{true, false} {
		f := newFiles(t)
		f.Thin = thin
		data := bytes.Repeat([]byte("cinder"), 1000)
		src := writeFile(t, f, "legacy disk", data)
		ref := map[string]any{"source-name": "legacy disk"}
		size, err := f.ManageExistingGetSize(context.Background(), ref)
		if err != nil || size != 1 {
			t.Fatalf("thin=%v: size %d %v, want 1", thin, size, err)
		}
		v := &cinder.Volume{ID: id, Size: size}
		if err := f.ManageExisting(context.Background(), v, ref); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(src); !os.IsNotExist(err) {
			t.Fatalf("source still there: %v", err)
		}
		path, _ := f.Path(v)
		file, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		head, tail := make([]byte, len(data)+4096), make([]byte, 4096)
		_, err = file.ReadAt(head, 0)
		if err == nil {
			_, err = file.ReadAt(tail, GiB-4096)
		}
		info, serr := file.Stat()
		_ = file.Close() // read only
		if err != nil || serr != nil {
			t.Fatal(err, serr)
		}
		zero := func(b []byte) bool { return !bytes.ContainsFunc(b, func(r rune) bool { return r != 0 }) }
		if info.Size() != GiB || !bytes.Equal(head[:len(data)], data) || !zero(head[len(data):]) || !zero(tail) {
			t.Fatalf("thin=%v: managed file of %d bytes does not hold the data then zeros", thin, info.Size())
		}
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		if allocated := st.Blocks * 512; thin && allocated >= GiB/2 || !thin && allocated < GiB {
			t.Fatalf("thin=%v: %d bytes allocated", thin, allocated)
		}
		// The same name again: the file is gone, an invalid reference.
		if err := f.ManageExisting(context.Background(), &cinder.Volume{ID: "1d5f6c1e-8a43-4c5e-9d2b-3f1a7e6b9c20"}, ref); cinder.Code(err) != 400 {
			t.Fatalf("second manage: %v", err)
		}
	}
}

// A snapshot keeps its file's bytes and size; the rename never replaces a file.
func TestManageSnapshotRenamesOnly(t *testing.T) {
	f := newFiles(t)
	writeFile(t, f, "snap", []byte("abc"))
	s := &cinder.Snapshot{ID: id}
	if err := f.ManageExistingSnapshot(context.Background(), s, map[string]any{"source-name": "snap"}); err != nil {
		t.Fatal(err)
	}
	path, _ := f.SnapshotPath(s)
	if got, err := os.ReadFile(path); err != nil || string(got) != "abc" {
		t.Fatalf("snapshot file %q %v", got, err)
	}
	writeFile(t, f, "other", []byte("def"))
	if err := f.ManageExistingSnapshot(context.Background(), s, map[string]any{"source-name": "other"}); cinder.Code(err) != 500 {
		t.Fatalf("manage over an existing snapshot file: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "abc" {
		t.Fatalf("snapshot file replaced: %q", got)
	}
}

func TestManageableLists(t *testing.T) {
	f := newFiles(t)
	writeFile(t, f, "disk", make([]byte, GiB/4))
	writeFile(t, f, "volume-"+id, []byte("x"))
	writeFile(t, f, "empty", nil)
	writeFile(t, f, "snapshot-"+id, []byte("y"))
	if err := os.Symlink("/etc/passwd", filepath.Join(f.Backend.VolumesDir, "link")); err != nil {
		t.Fatal(err)
	}
	vols, err := f.Manageable(context.Background(), false, map[string]bool{id: true})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Manageable{}
	for _, m := range vols {
		byName[m.Reference["source-name"].(string)] = m
	}
	if len(byName) != 3 {
		t.Fatalf("volumes list %v", byName)
	}
	if m := byName["disk"]; !m.SafeToManage || m.Size != 1 || m.CinderID != nil || m.ReasonNotSafe != nil {
		t.Fatalf("disk %+v", m)
	}
	if m := byName["volume-"+id]; m.SafeToManage || *m.ReasonNotSafe != "already managed" || *m.CinderID != id {
		t.Fatalf("owned file %+v", m)
	}
	if m := byName["empty"]; m.SafeToManage || *m.ReasonNotSafe != "empty file" {
		t.Fatalf("empty file %+v", m)
	}
	snaps, err := f.Manageable(context.Background(), true, nil)
	if err != nil || len(snaps) != 1 || snaps[0].Reference["source-name"] != "snapshot-"+id || !snaps[0].SafeToManage {
		t.Fatalf("snapshots list %+v %v", snaps, err)
	}
}

// Unmanage renames the file unmanaged-<name>, its bytes kept; a missing
// file has nothing to keep; the snapshot list shows unmanaged snapshots.
func TestUnmanageRenames(t *testing.T) {
	f := newFiles(t)
	v, s := &cinder.Volume{ID: id}, &cinder.Snapshot{ID: id}
	writeFile(t, f, v.Name(), []byte("vol"))
	writeFile(t, f, s.Name(), []byte("snap"))
	if err := f.Unmanage(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	if err := f.UnmanageSnapshot(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"unmanaged-" + v.Name(): "vol", "unmanaged-" + s.Name(): "snap"} {
		if got, err := os.ReadFile(filepath.Join(f.Backend.VolumesDir, name)); err != nil || string(got) != want {
			t.Fatalf("%s: %q %v", name, got, err)
		}
	}
	if err := f.Unmanage(context.Background(), v); err != nil {
		t.Fatalf("unmanage without a file: %v", err)
	}
	snaps, err := f.Manageable(context.Background(), true, nil)
	if err != nil || len(snaps) != 1 || snaps[0].Reference["source-name"] != "unmanaged-"+s.Name() {
		t.Fatalf("snapshots list %+v %v", snaps, err)
	}
	if vols, _ := f.Volumes(context.Background()); len(vols) != 0 {
		t.Fatalf("unmanaged file listed as a volume: %v", vols)
	}
}
