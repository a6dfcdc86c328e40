package backup

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/backup/posix"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/internal/testfile"
)

// random returns n incompressible bytes.
func random(seed byte, n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// TestIncrementalTracksChanges: on a thin backend on xfs with reflink, an
// incremental whose parent is the volume's backup base is told the ranges
// changed since, restores to the volume's bytes and writes the sha256file
// a full scan writes; one whose parent is not the base's is told nothing
// and is as right.
func TestIncrementalTracksChanges(t *testing.T) {
	e := newEnvOn(t, filepath.Join(testfile.XFS(t), "volumes"))
	ctx := context.Background()
	v, path := e.volume(t, cinder.StatusBackingUp)
	testfile.WriteAt(t, path, 0, random(1, 2<<20))
	testfile.WriteAt(t, path, 500<<20, random(2, 3<<20))
	full := e.backup(t, v, cinder.BackupCreating, "")
	handle(t, e.mgr.createBackup, map[string]any{"backup": full})
	if b := e.get(t, full.ID); b.Status != cinder.BackupAvailable {
		t.Fatalf("full backup is %s: %s", b.Status, b.FailReason)
	}
	if _, ok := e.vols.last.Data["changed_ranges"]; ok {
		t.Fatal("a full backup was told changed ranges")
	}
	scanDir := filepath.Join(t.TempDir(), "backup")
	if out, err := exec.Command("cp", "-a", e.dir, scanDir).CombinedOutput(); err != nil {
		t.Fatalf("copy the full backup: %v: %s", err, out)
	}

	testfile.WriteAt(t, path, 100, []byte("a partial sha block"))
	testfile.WriteAt(t, path, 500<<20+40000, random(3, 70000))
	testfile.WriteAt(t, path, 800<<20, random(4, 5000)) // into a hole
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 1<<20, 64<<10); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	after := testfile.Checksum(t, path)
	e.setStatus(t, v.ID, cinder.StatusBackingUp)
	incr := e.backup(t, v, cinder.BackupCreating, full.ID)
	handle(t, e.mgr.createBackup, map[string]any{"backup": incr})
	if e.vols.last.Data["changed_since"] != full.ID || e.vols.last.Data["changed_ranges"] == nil {
		t.Fatalf("the incremental was told no changes since its parent: %v", e.vols.last.Data)
	}
	got := e.get(t, incr.ID)
	if got.Status != cinder.BackupAvailable {
		t.Fatalf("incremental backup is %s: %s", got.Status, got.FailReason)
	}
	if sum := e.restoreNew(t, got); sum != after {
		t.Error("the incremental made with change tracking restores other bytes than the volume's")
	}

	pb, err := e.mgr.posixBackup(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	scan := e.mgr.opts
	scan.Path = scanDir
	if _, err := posix.Create(ctx, scan, pb, path, drivers.GiB); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(got.Container, got.ServiceMetadata+"_sha256file")
	a, aerr := os.ReadFile(filepath.Join(e.dir, name))
	b, berr := os.ReadFile(filepath.Join(scanDir, name))
	if aerr != nil || berr != nil || !bytes.Equal(a, b) {
		t.Errorf("the sha256file of the tracked incremental differs from the full scan's (%v, %v)", aerr, berr)
	}

	// The base is now the incremental's: a backup whose parent is the full
	// one reads everything, and is as right.
	e.setStatus(t, v.ID, cinder.StatusBackingUp)
	other := e.backup(t, v, cinder.BackupCreating, full.ID)
	handle(t, e.mgr.createBackup, map[string]any{"backup": other})
	if _, ok := e.vols.last.Data["changed_ranges"]; ok {
		t.Error("a backup whose parent is not the base's was told changed ranges")
	}
	if sum := e.restoreNew(t, e.get(t, other.ID)); sum != after {
		t.Error("the incremental made by a full scan restores other bytes than the volume's")
	}
	if e.vols.open != 0 {
		t.Errorf("%d connections left open", e.vols.open)
	}
}
