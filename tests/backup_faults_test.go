package tests

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder/internal/testenv"
	"github.com/cinder-go/cinder/internal/testfile"
)

// usedBytes is the space used on the filesystem holding dir.
func usedBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize
}

// filesUnder lists every file and directory below dir.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	if err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err == nil && path != dir {
			found = append(found, path)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return found
}

// A backup of a volume holding 96 MiB that do not compress, into a
// backup_posix_path on a 64 MiB tmpfs, with Debian's cinder CLI and the
// database on PostgreSQL: the backup ends in error with a fail_reason
// naming the cause, the log names the file that could not be written, the
// volume is available again, and the filesystem holds nothing more than
// before. The failed backup holds its quota until deleted, as in Cinder;
// once deleted, a backup that fits succeeds, and the audit finds nothing.
func TestBackupDiskFull(t *testing.T) {
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	const space, data = 64 << 20, 96 << 20
	dir := smallFilesystem(t, space)
	d := newDeployment(t, setup{database: testenv.PostgresURL(t),
		extra: "backup_posix_path = " + dir + "\nquota_backups = 1\n"})
	d.startAll()
	used := usedBytes(t, dir)

	vol := cliField(cinderCLI(t, d, "create", "--name", "big", "1"), "id")
	d.waitStatus(vol, "available")
	fill(t, devicePath(t, d, vol), []extent{{0, data}}, 0)
	id := cliField(cinderCLI(t, d, "backup-create", "--name", "too-big", vol), "id")
	d.waitResource("backup", id, "error")
	if reason := cliField(cinderCLI(t, d, "backup-show", id), "fail_reason"); !strings.Contains(reason, "no space left on device") {
		t.Errorf("fail_reason %q does not say the backup ran out of space", reason)
	}
	d.waitStatus(vol, "available")
	line := d.waitLog("cinder-all", 1, `msg="create of backup failed"`, "backup_id="+id)
	if !strings.Contains(line, dir+"/") || !strings.Contains(line, "no space left on device") {
		t.Errorf("the failure's log line names no file under %s, or not the cause:\n%s", dir, line)
	}
	if left := filesUnder(t, dir); len(left) > 0 {
		t.Errorf("the failed backup left %v", left)
	}
	if now := usedBytes(t, dir); now != used {
		t.Errorf("backup_posix_path's filesystem uses %d bytes after the failed backup, %d before", now, used)
	}

	// quota_backups = 1: the failed backup counts until it is deleted.
	d.do("POST", "/admin/backups", map[string]any{"backup": map[string]any{"volume_id": vol}}, 413)
	cinderCLI(t, d, "backup-delete", id)
	d.waitResource("backup", id, "deleted")
	small := cliField(cinderCLI(t, d, "create", "--name", "small", "1"), "id")
	d.waitStatus(small, "available")
	fill(t, devicePath(t, d, small), []extent{{0, 8 << 20}}, 0)
	fits := cliField(cinderCLI(t, d, "backup-create", "--name", "fits", small), "id")
	d.waitResource("backup", fits, "available")
	d.waitStatus(small, "available")
	if out, code := d.audit(); code != 0 {
		t.Fatalf("volume audit after the full disk: exit %d, want 0:\n%s", code, out)
	}
}

// words returns n bytes of text that bz2 compresses about 13 times and
// restores slowly (64 MiB in 7 s here, one object, one worker), so that a
// restore can be caught writing.
func words(n int) []byte {
	list := []string{"volume ", "backup ", "cinder ", "posix ", "chunk ", "restore ", "sha256\n"}
	r := rand.New(rand.NewPCG(12, 0))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(list[r.IntN(len(list))])
	}
	return b.Bytes()[:n]
}

// cinder-backup, a process of its own over RabbitMQ, killed (SIGKILL)
// while it restores 32 MiB compressed with bz2 into a new volume, then
// started again: as Cinder's _cleanup_incomplete_backup_operations, the
// backup is available and the volume error_restoring. The backup then
// restores whole into another new volume, the half-restored volume can be
// deleted, and the audit finds the database and the storage agreeing.
func TestBackupKilledMidRestore(t *testing.T) {
	const data = 32 << 20
	const started = `msg="cinder-backup started"`
	d := newDeployment(t, setup{transport: testenv.RabbitURL(t), extra: "backup_compression_algorithm = bz2\n"})
	d.startSplit()
	d.start("cinder-backup")
	d.waitLog("cinder-backup", 1, started)
	vol := d.createVolume(1, nil)
	d.waitStatus(vol, "available")
	testfile.WriteAt(t, devicePath(t, d, vol), 0, words(data))
	want := testfile.Checksum(t, devicePath(t, d, vol))
	id := d.do("POST", "/admin/backups", map[string]any{"backup": map[string]any{"volume_id": vol}}, 202)["backup"].(map[string]any)["id"].(string)
	d.waitResource("backup", id, "available")

	restore := func() string {
		t.Helper()
		return d.do("POST", "/admin/backups/"+id+"/restore", map[string]any{"restore": nil}, 202)["restore"].(map[string]any)["volume_id"].(string)
	}
	half := restore()
	path := devicePath(t, d, half)
	waitFor(t, 60*time.Second, "the restore into "+half+" to write", func() bool {
		_, allocated := testfile.Stat(t, path)
		return allocated > 0
	})
	d.signal("cinder-backup", syscall.SIGSTOP)
	if _, allocated := testfile.Stat(t, path); allocated >= data {
		t.Fatalf("volume %s already holds %d bytes: the restore ended before the kill", half, allocated)
	}
	if st := d.do("GET", "/admin/backups/"+id, nil, 200)["backup"].(map[string]any)["status"]; st != "restoring" {
		t.Fatalf("backup %s is %v mid-restore, want restoring", id, st)
	}
	d.kill("cinder-backup")
	d.start("cinder-backup")
	d.waitLog("cinder-backup", 2, started)
	d.waitResource("backup", id, "available")
	d.waitStatusAny(half, "error_restoring")

	whole := restore()
	d.waitResource("backup", id, "available")
	d.waitStatus(whole, "available")
	if got := testfile.Checksum(t, devicePath(t, d, whole)); got != want {
		t.Fatal("volume restored after the kill differs from the backed-up volume")
	}
	if out, code := d.audit(); code != 0 {
		t.Fatalf("volume audit after the kill: exit %d, want 0:\n%s", code, out)
	}
	d.do("DELETE", "/admin/volumes/"+half, nil, 202)
	d.waitStatus(half, "deleted")
}
