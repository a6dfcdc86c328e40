package tests

import (
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder/internal/testenv"
	"github.com/cinder-go/cinder/internal/testfile"
)

// TestCinderCLIBackups drives cinder-backup with Debian's cinder CLI
// against cinder-all: a full and an incremental backup of a thin volume,
// restores into the volume and into a new one, a backup of a snapshot
// taken before the volume changed again, export, delete and import of a
// record, and deletes, comparing bytes by checksum with what was written
// before each backup or snapshot.
func TestCinderCLIBackups(t *testing.T) {
	t.Parallel()
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

	// A backup of a snapshot holds the snapshot's bytes, not those the
	// volume took after it; the volume stays available throughout.
	fill(t, devicePath(t, d, vol), spread(3, 8192), 0x55)
	atSnapshot := testfile.Checksum(t, devicePath(t, d, vol))
	snap := cliField(cinderCLI(t, d, "snapshot-create", "--name", "s", vol), "id")
	d.waitResource("snapshot", snap, "available")
	fill(t, devicePath(t, d, vol), spread(3, 8192), 0x66)
	snapBackup := cliField(cinderCLI(t, d, "backup-create", "--snapshot-id", snap, "--name", "of-snapshot", vol), "id")
	d.waitResource("backup", snapBackup, "available")
	d.waitResource("snapshot", snap, "available")
	if out := cinderCLI(t, d, "backup-show", snapBackup); cliField(out, "snapshot_id") != snap || cliField(out, "volume_id") != vol {
		t.Fatalf("backup-show of the snapshot's backup:\n%s", out)
	}
	if got := cliField(cinderCLI(t, d, "show", vol), "status"); got != "available" {
		t.Fatalf("volume after the backup of its snapshot is %s", got)
	}
	fromSnap := cliField(cinderCLI(t, d, "backup-restore", snapBackup), "volume_id")
	d.waitResource("backup", snapBackup, "available")
	d.waitStatus(fromSnap, "available")
	if got := testfile.Checksum(t, devicePath(t, d, fromSnap)); got != atSnapshot {
		t.Fatal("new volume restored from the snapshot's backup differs from the volume when snapshotted")
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
	for _, id := range []string{imported, full, snapBackup} {
		cinderCLI(t, d, "backup-delete", id)
		d.waitResource("backup", id, "deleted")
	}
	cinderCLI(t, d, "snapshot-delete", snap)
	d.waitResource("snapshot", snap, "deleted")
	for _, id := range []string{restored, fromSnap, vol} {
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

// TestBackupSplitOverRabbitMQ runs cinder-backup as a process of its own
// beside cinder-scheduler, cinder-volume and cinder-api over RabbitMQ: a
// backup of a volume restored into a new volume holds its bytes.
func TestBackupSplitOverRabbitMQ(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, setup{transport: testenv.RabbitVhostURL(t)})
	d.startSplit()
	d.start("cinder-backup")
	vol := d.createVolume(1, nil)
	d.waitStatus(vol, "available")
	fill(t, devicePath(t, d, vol), spread(4, 64<<10), 0x44)
	want := testfile.Checksum(t, devicePath(t, d, vol))
	var id string
	waitFor(t, 60*time.Second, "cinder-backup to take a backup", func() bool {
		code, out, err := d.try("POST", "/admin/backups", map[string]any{"backup": map[string]any{"volume_id": vol}})
		if err != nil || code != 202 { // 503 until cinder-backup has registered
			return false
		}
		id = out["backup"].(map[string]any)["id"].(string)
		return true
	})
	d.waitResource("backup", id, "available")
	out := d.do("POST", "/admin/backups/"+id+"/restore", map[string]any{"restore": nil}, 202)
	restored := out["restore"].(map[string]any)["volume_id"].(string)
	d.waitResource("backup", id, "available")
	d.waitStatus(restored, "available")
	if got := testfile.Checksum(t, devicePath(t, d, restored)); got != want {
		t.Fatal("volume restored over RabbitMQ differs from its source")
	}
}

// TestBackupCrashRecovery kills cinder-all while cinder-backup compresses
// 256 MiB that do not compress: the restart sets the backup to error and
// its volume back to available, and deleting the backup removes the files
// the crash left under backup_posix_path.
func TestBackupCrashRecovery(t *testing.T) {
	d := newDeployment(t, setup{})
	d.startAll()
	vol := d.createVolume(1, nil)
	d.waitStatus(vol, "available")
	noise := make([]byte, 256<<20)
	if _, err := rand.NewChaCha8([32]byte{1}).Read(noise); err != nil {
		t.Fatal(err)
	}
	testfile.WriteAt(t, devicePath(t, d, vol), 0, noise)
	out := d.do("POST", "/admin/backups", map[string]any{"backup": map[string]any{"volume_id": vol}}, 202)
	id := out["backup"].(map[string]any)["id"].(string)
	d.kill("cinder-all")
	d.startAll()
	// cinder-backup's restart runs beside the API and the volume managers
	// (startAll waits for the pools only): wait for it to settle the backup.
	var b map[string]any
	waitFor(t, 30*time.Second, "the restart to settle backup "+id, func() bool {
		b = d.do("GET", "/admin/backups/"+id, nil, 200)["backup"].(map[string]any)
		return b["status"] != "creating"
	})
	if b["status"] != "error" || b["fail_reason"] != "incomplete backup reset on manager restart" {
		t.Fatalf("backup after the crash: %v", b)
	}
	d.waitStatus(vol, "available")
	d.do("DELETE", "/admin/backups/"+id, nil, 202)
	d.waitResource("backup", id, "deleted")
	var left []string
	if err := filepath.WalkDir(filepath.Join(d.dir, "backup"), func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			left = append(left, path)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("files left after deleting the crashed backup: %v", left)
	}
}

// TestCinderCLIBackupRestoreThick restores a sparse thin volume's backup
// onto thick storage that holds stale bytes, with Debian's cinder CLI:
// into a new volume (the default type is thick, whose new volumes do not
// read as zeros) and over an existing thick volume. Neither shows a stale
// byte: the restore writes the backup's holes as zeros.
func TestCinderCLIBackupRestoreThick(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{
		backends: map[string]string{
			"thin":  "volume_driver = thin\n",
			"thick": "volume_driver = thick\nvolume_clear = none\n", // released storage keeps its bytes
		},
		extra: "default_volume_type = thick\n",
	})
	d.startAll()
	cinderCLI(t, d, "type-create", "thin")
	cinderCLI(t, d, "type-key", "thin", "set", "volume_backend_name=thin")
	cinderCLI(t, d, "type-create", "thick")
	cinderCLI(t, d, "type-key", "thick", "set", "volume_backend_name=thick")

	// Leave stale bytes in the thick backend's free storage.
	old := cliField(cinderCLI(t, d, "create", "--volume-type", "thick", "1"), "id")
	d.waitStatus(old, "available")
	fill(t, devicePath(t, d, old), []extent{{0, 1 << 30}}, 0xAA)
	cinderCLI(t, d, "delete", old)
	d.waitStatus(old, "deleted")

	vol := cliField(cinderCLI(t, d, "create", "--volume-type", "thin", "--name", "src", "1"), "id")
	d.waitStatus(vol, "available")
	fill(t, devicePath(t, d, vol), spread(4, 64<<10), 0x11)
	want := testfile.Checksum(t, devicePath(t, d, vol))
	backup := cliField(cinderCLI(t, d, "backup-create", vol), "id")
	d.waitResource("backup", backup, "available")

	restored := cliField(cinderCLI(t, d, "backup-restore", backup), "volume_id")
	d.waitResource("backup", backup, "available")
	d.waitStatus(restored, "available")
	if got := cliField(cinderCLI(t, d, "show", restored), "volume_type"); got != "thick" {
		t.Fatalf("restored volume's type %q, want thick", got)
	}
	target := cliField(cinderCLI(t, d, "create", "--volume-type", "thick", "1"), "id")
	d.waitStatus(target, "available")
	fill(t, devicePath(t, d, target), []extent{{0, 1 << 30}}, 0xBB)
	cinderCLI(t, d, "backup-restore", "--volume", target, backup)
	d.waitResource("backup", backup, "available")
	d.waitStatus(target, "available")
	for _, id := range []string{restored, target} {
		if got := testfile.Checksum(t, devicePath(t, d, id)); got != want {
			b, _ := os.ReadFile(devicePath(t, d, id))
			t.Fatalf("thick volume %s restored from the backup differs from its source (stale 1 MiB blocks: %d)", id, staleBlocks(b))
		}
	}
}
