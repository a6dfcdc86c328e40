package tests

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder/internal/testfile"
)

// TestCinderCLIBackups drives cinder-backup with Debian's cinder CLI
// against cinder-all: a full and an incremental backup of a thin volume,
// restores into the volume and into a new one, export, delete and import
// of a record, and deletes, comparing bytes by checksum with what was
// written before each backup.
func TestCinderCLIBackups(t *testing.T) {
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()
	vol := cliField(cinderCLI(t, d, "create", "--name", "src", "1"), "id")
	d.waitStatus(vol, "available")
	fill(t, devicePath(t, d, vol), spread(4, 64<<10), 0x11)
	before := testfile.Checksum(t, devicePath(t, d, vol))
	full := cliField(cinderCLI(t, d, "backup-create", "--name", "full", vol), "id")
	d.waitResource("backup", full, "available")
	d.waitStatus(vol, "available")

	fill(t, devicePath(t, d, vol), spread(8, 4096), 0x22)
	after := testfile.Checksum(t, devicePath(t, d, vol))
	incr := cliField(cinderCLI(t, d, "backup-create", "--incremental", "--name", "incr", vol), "id")
	d.waitResource("backup", incr, "available")
	d.waitStatus(vol, "available")
	if out := cinderCLI(t, d, "backup-list"); !strings.Contains(out, full) || !strings.Contains(out, incr) {
		t.Fatalf("backup-list lacks a backup:\n%s", out)
	}
	if got := cliField(cinderCLI(t, d, "backup-show", incr), "is_incremental"); got != "True" {
		t.Fatalf("backup-show is_incremental %q", got)
	}

	// The full backup over the volume, then the incremental into a new one.
	cinderCLI(t, d, "backup-restore", "--volume", vol, full)
	d.waitResource("backup", full, "available")
	d.waitStatus(vol, "available")
	if got := testfile.Checksum(t, devicePath(t, d, vol)); got != before {
		t.Fatal("volume restored from the full backup differs from the volume when backed up")
	}
	restored := cliField(cinderCLI(t, d, "backup-restore", incr), "volume_id")
	d.waitResource("backup", incr, "available")
	d.waitStatus(restored, "available")
	if got := testfile.Checksum(t, devicePath(t, d, restored)); got != after {
		t.Fatal("new volume restored from the incremental backup differs from the volume when backed up")
	}

	// Export the full backup and import it under another id, as after a
	// database loss (and as Tempest does), then restore the import.
	exported := cinderCLI(t, d, "backup-export", full)
	imported := uuid.NewString()
	url := withBackupID(t, cliField(exported, "backup_url"), imported)
	cinderCLI(t, d, "backup-import", cliField(exported, "backup_service"), url)
	d.waitResource("backup", imported, "available")
	fill(t, devicePath(t, d, vol), spread(2, 4096), 0x33)
	cinderCLI(t, d, "backup-restore", "--volume", vol, imported)
	d.waitResource("backup", imported, "available")
	d.waitStatus(vol, "available")
	if got := testfile.Checksum(t, devicePath(t, d, vol)); got != before {
		t.Fatal("volume restored from the imported backup differs from the volume when backed up")
	}

	cinderCLI(t, d, "backup-reset-state", "--state", "error", incr)
	cinderCLI(t, d, "backup-delete", "--force", incr)
	d.waitResource("backup", incr, "deleted")
	for _, id := range []string{imported, full} {
		cinderCLI(t, d, "backup-delete", id)
		d.waitResource("backup", id, "deleted")
	}
	for _, id := range []string{restored, vol} {
		cinderCLI(t, d, "delete", id)
		d.waitStatus(id, "deleted")
	}
}

// withBackupID returns the exported backup_url url with the backup's id
// changed to id.
func withBackupID(t *testing.T, url, id string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(url)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	rec["id"] = id
	if raw, err = json.Marshal(rec); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}
