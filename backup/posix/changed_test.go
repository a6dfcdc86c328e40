package posix

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cinder-go/cinder/internal/extents"
)

// TestIncrementalWithChangedRanges: an incremental told which ranges
// changed reads only the sha blocks they touch, yet writes the same
// sha256file, metadata and objects as one that reads every data extent,
// and restores the volume; told that nothing changed, it reads nothing.
func TestIncrementalWithChangedRanges(t *testing.T) {
	opts := testOptions(t, "zlib")
	dir, src, _ := newVolume(t)
	b1 := testBackup("a1000000-0000-4000-8000-000000000001", nil)
	mustCreate(t, opts, b1, src)
	scan := opts
	scan.Path = t.TempDir()
	if out, err := exec.Command("cp", "-a", opts.Path+"/.", scan.Path).CombinedOutput(); err != nil {
		t.Fatalf("copy the full backup: %v: %s", err, out)
	}

	write(t, src, 100, []byte("part of a block"))   // a partial sha block
	write(t, src, 9*mib+5, text(5, 50*kib))         // data into a hole
	write(t, src, 10*mib+33*kib, random(6, 70*kib)) // data changed, unaligned
	punch(t, src, 6*mib+576*kib, 128*kib)           // data discarded
	write(t, src, testSize-10, []byte("tail!"))     // the unaligned last block
	changed := []extents.Range{{Offset: 10*mib + 33*kib, Length: 70 * kib}, {Offset: 100, Length: 15},
		{Offset: 9*mib + 5, Length: 50 * kib}, {Offset: 6*mib + 576*kib, Length: 128 * kib}, {Offset: testSize - 10, Length: 5}}
	want := content(t, src)

	b2 := testBackup("a2000000-0000-4000-8000-000000000002", &b1)
	full := mustCreate(t, scan, b2, src)
	b2.Changed = changed
	tracked := mustCreate(t, opts, b2, src)
	if tracked.Read > 400*kib || tracked.Read >= full.Read {
		t.Errorf("with changed ranges the backup read %d bytes (a full scan %d), want only the blocks they touch", tracked.Read, full.Read)
	}
	names, err := filepath.Glob(filepath.Join(scan.Path, DefaultContainer(b2.ID), full.Prefix+"*"))
	if err != nil || len(names) < 3 {
		t.Fatalf("the full scan's files: %v, %v", names, err)
	}
	for _, name := range names {
		a, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(opts.Path, DefaultContainer(b2.ID), filepath.Base(name)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between the tracked backup and the full scan", filepath.Base(name))
		}
	}
	dst := filepath.Join(dir, "restored")
	sparseFile(t, dst, testSize)
	mustRestore(t, opts, b2, dst, true)
	sameContent(t, dst, want)

	b3 := testBackup("a3000000-0000-4000-8000-000000000003", &b2)
	b3.Changed = []extents.Range{}
	if st := mustCreate(t, opts, b3, src); st.Read != 0 || st.Objects != 0 {
		t.Errorf("with nothing changed the backup read %d bytes into %d objects", st.Read, st.Objects)
	}
	sparseFile(t, dst, testSize)
	mustRestore(t, opts, b3, dst, true)
	sameContent(t, dst, want)
}
