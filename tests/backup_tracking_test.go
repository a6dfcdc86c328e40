package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cinder-go/cinder/internal/testfile"
)

// TestCinderCLIBackupChangeTracking drives backups with Debian's cinder CLI
// against cinder-all whose thin backend is on xfs with reflink: the full
// backup leaves the volume a base, the incremental after a write reads only
// what changed since it (cinder-volume logs the ranges) and restores into a
// new volume holding the volume's bytes; the audit finds no orphan in the
// base, and deleting the volume removes its base.
func TestCinderCLIBackupChangeTracking(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	vols := filepath.Join(testfile.XFS(t), "vols")
	d := newDeployment(t, setup{backends: map[string]string{"thin": "volume_driver = thin\nvolumes_dir = " + vols + "\n"}})
	d.startAll()
	base := func(vol, backup string) string {
		return filepath.Join(vols, ".backup-bases", "volume-"+vol+"."+backup)
	}
	vol := cliField(cinderCLI(t, d, "create", "--name", "tracked", "1"), "id")
	d.waitStatus(vol, "available")
	fill(t, devicePath(t, d, vol), spread(4, 64<<10), 0x11)
	full := cliField(cinderCLI(t, d, "backup-create", "--name", "full", vol), "id")
	d.waitResource("backup", full, "available")
	d.waitStatus(vol, "available")
	if _, err := os.Stat(base(vol, full)); err != nil {
		t.Fatalf("no backup base after the full backup: %v", err)
	}

	fill(t, devicePath(t, d, vol), spread(8, 4096), 0x22)
	after := testfile.Checksum(t, devicePath(t, d, vol))
	incr := cliField(cinderCLI(t, d, "backup-create", "--incremental", "--name", "incr", vol), "id")
	d.waitResource("backup", incr, "available")
	d.waitStatus(vol, "available")
	if !strings.Contains(d.logs(), "changes since the backup base") {
		t.Fatal("cinder-volume reported no changed ranges for the incremental backup")
	}
	if _, err := os.Stat(base(vol, incr)); err != nil {
		t.Fatalf("the incremental backup's base was not kept: %v", err)
	}
	if _, err := os.Stat(base(vol, full)); !os.IsNotExist(err) {
		t.Fatalf("the full backup's base is still there: %v", err)
	}
	if out, code := d.audit(); code != 0 || strings.Contains(out, ".backup-bases") {
		t.Errorf("cinder-manage volume audit with a backup base (exit %d):\n%s", code, out)
	}
	restored := cliField(cinderCLI(t, d, "backup-restore", incr), "volume_id")
	d.waitResource("backup", incr, "available")
	d.waitStatus(restored, "available")
	if got := testfile.Checksum(t, devicePath(t, d, restored)); got != after {
		t.Fatal("new volume restored from the tracked incremental backup differs from the volume when backed up")
	}

	for _, id := range []string{incr, full} {
		cinderCLI(t, d, "backup-delete", id)
		d.waitResource("backup", id, "deleted")
	}
	for _, id := range []string{restored, vol} {
		cinderCLI(t, d, "delete", id)
		d.waitStatus(id, "deleted")
	}
	if left, _ := filepath.Glob(filepath.Join(vols, ".backup-bases", "*")); len(left) != 0 {
		t.Fatalf("backup bases left after the volume's delete: %v", left)
	}
}
