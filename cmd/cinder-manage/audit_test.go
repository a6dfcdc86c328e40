package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/backup/posix"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/drivers"
)

// auditSite is a cinder.conf enabling thin (on hostA) and thick (on hostB,
// by backend_host) over a migrated SQLite database under state_path.
type auditSite struct {
	conf  string
	cfg   *conf.Config
	store *db.DB
}

func newAuditSite(t *testing.T) *auditSite {
	t.Helper()
	state := t.TempDir()
	path := filepath.Join(state, "cinder.conf")
	text := "[DEFAULT]\nhost = hostA\nstate_path = " + state + "\nenabled_backends = thin,thick\n" +
		"[thin]\nvolume_driver = thin\n[thick]\nvolume_driver = thick\nbackend_host = hostB\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range cfg.Backends {
		if err := os.MkdirAll(b.VolumesDir, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	store, err := db.Open(ctx, cfg.DatabaseConnection)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, err := store.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return &auditSite{conf: path, cfg: cfg, store: store}
}

// volume inserts a 1 GiB volume on host (host@backend#pool, or "") with
// status and, when nameID is not empty, that _name_id.
func (s *auditSite) volume(t *testing.T, host, status, nameID string) *cinder.Volume {
	t.Helper()
	v := &cinder.Volume{ProjectID: "p", Size: 1, Status: status, Host: host, NameID: nameID, AttachStatus: "detached"}
	if err := s.store.CreateVolume(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	return v
}

// file makes a sparse file of size bytes named name in backend's volumes_dir.
func (s *auditSite) file(t *testing.T, backend, name string, size int64) string {
	t.Helper()
	path := filepath.Join(s.cfg.Backend(backend).VolumesDir, name)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
	return path
}

// audit runs volume audit and returns its output and error.
func (s *auditSite) audit(t *testing.T) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := volumeAudit(context.Background(), s.cfg, nil, &out)
	return out.String(), err
}

func TestAuditAgrees(t *testing.T) {
	s := newAuditSite(t)
	const thin, thick = "hostA@thin#thin", "hostB@thick#thick"
	for _, c := range []struct {
		host, status string
		size         int64 // of its file; 0 for none
	}{
		{thin, cinder.StatusAvailable, drivers.GiB},
		{thick, cinder.StatusInUse, drivers.GiB},
		{thin, cinder.StatusCreating, 0},        // in flight
		{thick, cinder.StatusCreating, 1 << 20}, // in flight, partly made
		{thin, cinder.StatusError, 0},
		{thin, cinder.StatusError, drivers.GiB},
		{thick, cinder.StatusDeleting, drivers.GiB},
		{thin, cinder.StatusErrorDelete, 0},
		{thin, cinder.StatusExtending, 2 * drivers.GiB}, // grown, size not yet recorded
		{"", cinder.StatusCreating, 0},                  // not placed yet
		{"hostZ@other#other", cinder.StatusAvailable, 0},
	} {
		v := s.volume(t, c.host, c.status, "")
		if c.size > 0 {
			s.file(t, cinder.ExtractHost(c.host, cinder.LevelPool), v.Name(), c.size)
		}
	}
	// A migrated volume's storage carries its _name_id.
	migrated := s.volume(t, thick, cinder.StatusAvailable, uuid.NewString())
	s.file(t, "thick", migrated.Name(), drivers.GiB)
	// A deleted volume needs nothing; released storage and other files are no volumes.
	gone := s.volume(t, thin, cinder.StatusAvailable, "")
	if err := s.store.DestroyVolume(context.Background(), gone.ID); err != nil {
		t.Fatal(err)
	}
	s.file(t, "thin", "volume-not-a-uuid", 1)
	// Unmanaged storage and files waiting to be managed are foreign.
	s.file(t, "thin", drivers.UnmanagedPrefix+"volume-"+uuid.NewString(), drivers.GiB)
	s.file(t, "thick", drivers.UnmanagedPrefix+"snapshot-"+uuid.NewString(), drivers.GiB)
	s.file(t, "thick", "legacy-disk", 5)
	if err := os.MkdirAll(filepath.Join(s.cfg.Backend("thick").VolumesDir, ".free"), 0o750); err != nil {
		t.Fatal(err)
	}
	s.file(t, "thick", ".free/extent-1", drivers.GiB)

	out, err := s.audit(t)
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	want := "not checked: volumes on hostZ@other, which this cinder.conf does not enable\n" +
		"the database and the storage of 2 backends and backup_posix_path agree\n"
	if out != want {
		t.Fatalf("audit printed\n%s\nwant\n%s", out, want)
	}
}

func TestAuditNamesEachDifference(t *testing.T) {
	s := newAuditSite(t)
	thinDir, thickDir := s.cfg.Backend("thin").VolumesDir, s.cfg.Backend("thick").VolumesDir
	missing := s.volume(t, "hostA@thin#thin", cinder.StatusAvailable, "")
	short := s.volume(t, "hostB@thick#thick", cinder.StatusInUse, "")
	s.file(t, "thick", short.Name(), drivers.GiB/2)
	// Storage on the wrong backend is missing on one and unowned on the other.
	misplaced := s.volume(t, "hostA@thin#thin", cinder.StatusAvailable, "")
	s.file(t, "thick", misplaced.Name(), drivers.GiB)
	gone := s.volume(t, "hostA@thin#thin", cinder.StatusAvailable, "")
	s.file(t, "thin", gone.Name(), drivers.GiB)
	if err := s.store.DestroyVolume(context.Background(), gone.ID); err != nil {
		t.Fatal(err)
	}
	orphan := uuid.NewString()
	s.file(t, "thick", "volume-"+orphan, 3)

	out, err := s.audit(t)
	if !errors.Is(err, errDiffer) {
		t.Fatalf("audit: %v, want errDiffer\n%s", err, out)
	}
	for _, want := range []string{
		"hostA@thin: volume " + missing.ID + " (available, 1 GiB) has no storage: " + filepath.Join(thinDir, missing.Name()) + " is missing\n",
		"hostA@thin: volume " + misplaced.ID + " (available, 1 GiB) has no storage: " + filepath.Join(thinDir, misplaced.Name()) + " is missing\n",
		"hostA@thin: storage " + filepath.Join(thinDir, gone.Name()) + " (1073741824 bytes) belongs to no volume\n",
		"hostB@thick: volume " + short.ID + " (in-use, 1 GiB) has storage of the wrong size: " + filepath.Join(thickDir, short.Name()) + " holds 536870912 bytes, not 1073741824\n",
		"hostB@thick: storage " + filepath.Join(thickDir, misplaced.Name()) + " (1073741824 bytes) belongs to no volume\n",
		"hostB@thick: storage " + filepath.Join(thickDir, "volume-"+orphan) + " (3 bytes) belongs to no volume\n",
		"6 differences between the database and the storage of 2 backends and backup_posix_path\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 7 {
		t.Errorf("audit printed %d lines, want 7:\n%s", n, out)
	}
}

// The command exits 0 when the database and the storage agree, 1 when they
// differ and 2 when it cannot tell.
func TestAuditExitStatus(t *testing.T) {
	s := newAuditSite(t)
	run := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(os.Args[0], append([]string{"--config-file", s.conf, "volume", "audit"}, args...)...)
		cmd.Env = append(os.Environ(), "CINDER_MANAGE_RUN_MAIN=1")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	v := s.volume(t, "hostA@thin#thin", cinder.StatusAvailable, "")
	path := s.file(t, "thin", v.Name(), drivers.GiB)
	if out, code := run(); code != 0 || !strings.Contains(out, "agree") {
		t.Fatalf("audit of agreeing state: exit %d\n%s", code, out)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if out, code := run(); code != 1 || !strings.Contains(out, v.ID) {
		t.Fatalf("audit of a volume without storage: exit %d, want 1 naming %s\n%s", code, v.ID, out)
	}
	if out, code := run("extra"); code != 2 || !strings.Contains(out, "no arguments") {
		t.Fatalf("audit with an argument: exit %d, want 2\n%s", code, out)
	}
	if err := os.WriteFile(s.cfg.BackupPosixPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := run(); code != 2 || !strings.Contains(out, s.cfg.BackupPosixPath+": not a directory") {
		t.Fatalf("audit of a backup_posix_path that is a file: exit %d, want 2 naming it\n%s", code, out)
	}
	if err := os.Remove(s.cfg.BackupPosixPath); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(s.cfg.Backend("thick").VolumesDir); err != nil {
		t.Fatal(err)
	}
	if out, code := run(); code != 2 || !strings.Contains(out, "thick") {
		t.Fatalf("audit of a backend without volumes_dir: exit %d, want 2 naming it\n%s", code, out)
	}
}

// TestAuditSnapshots: snapshots are checked on their volume's backend as
// volumes are: one available without storage, one of the wrong size and a
// snapshot file no row names are differences; one creating may lack it.
func TestAuditSnapshots(t *testing.T) {
	s := newAuditSite(t)
	ctx := context.Background()
	v := s.volume(t, "hostA@thin#thin", cinder.StatusAvailable, "")
	s.file(t, "thin", v.Name(), drivers.GiB)
	snap := func(status string) *cinder.Snapshot {
		sn := &cinder.Snapshot{VolumeID: v.ID, ProjectID: "p", Status: status, VolumeSize: 1}
		if err := s.store.CreateSnapshot(ctx, sn); err != nil {
			t.Fatal(err)
		}
		return sn
	}
	good := snap(cinder.SnapshotAvailable)
	s.file(t, "thin", good.Name(), drivers.GiB)
	snap(cinder.SnapshotCreating) // in flight, no storage yet
	if out, err := s.audit(t); err != nil {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	missing := snap(cinder.SnapshotAvailable)
	short := snap(cinder.SnapshotAvailable)
	s.file(t, "thin", short.Name(), 1<<20)
	stray := uuid.NewString()
	s.file(t, "thin", "snapshot-"+stray, 4096)
	out, err := s.audit(t)
	if !errors.Is(err, errDiffer) {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	dir := s.cfg.Backend("thin").VolumesDir
	for _, want := range []string{
		"snapshot " + missing.ID + " (available, 1 GiB) has no storage: " + filepath.Join(dir, missing.Name()) + " is missing",
		"snapshot " + short.ID + " (available, 1 GiB) has storage of the wrong size",
		"storage " + filepath.Join(dir, "snapshot-"+stray) + " (4096 bytes) belongs to no snapshot",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit output lacks %q:\n%s", want, out)
		}
	}
}

// backup inserts a 1 GiB backup row with status and, when whole, writes
// its files first.
func (s *auditSite) backup(t *testing.T, status string, whole bool) *cinder.Backup {
	t.Helper()
	b := newBackup()
	b.Status = status
	if whole {
		s.backupFiles(t, b)
	}
	if err := s.store.CreateBackup(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return b
}

// newBackup returns a 1 GiB backup, not written anywhere, in its default
// container.
func newBackup() *cinder.Backup {
	b := &cinder.Backup{ID: uuid.NewString(), VolumeID: uuid.NewString(), ProjectID: "p", Size: 1}
	b.Container = posix.DefaultContainer(b.ID)
	return b
}

// backupFiles writes backup b under backup_posix_path with the posix
// driver, from a volume of 256 KiB random bytes, and records its prefix.
func (s *auditSite) backupFiles(t *testing.T, b *cinder.Backup) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "volume")
	data := make([]byte, 256<<10)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := posix.Create(context.Background(), posix.Options{Path: s.cfg.BackupPosixPath},
		posix.Backup{ID: b.ID, VolumeID: b.VolumeID, CreatedAt: time.Now()}, src, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	b.ServiceMetadata, b.ObjectCount, b.Service = st.Prefix, st.Objects, cinder.BackupServicePosix
}

// backupFile is the path of backup b's file of suffix (-00001, _metadata,
// _sha256file).
func (s *auditSite) backupFile(b *cinder.Backup, suffix string) string {
	return filepath.Join(s.cfg.BackupPosixPath, b.Container, b.ServiceMetadata+suffix)
}

// TestAuditBackups: backups are checked against their containers under
// backup_posix_path. One available or restoring must hold a whole backup;
// one creating, error or deleting may hold any part of one. A backup
// missing files, and files of a deleted backup or of none, are differences.
func TestAuditBackups(t *testing.T) {
	s := newAuditSite(t)
	ctx := context.Background()
	s.backup(t, cinder.BackupAvailable, true)
	s.backup(t, cinder.BackupRestoring, true)
	s.backup(t, cinder.BackupCreating, false)
	crashed := s.backup(t, cinder.BackupError, true) // a crash before its metadata
	if err := os.Remove(s.backupFile(crashed, "_metadata")); err != nil {
		t.Fatal(err)
	}
	s.backup(t, cinder.BackupDeleting, true)
	if err := os.WriteFile(filepath.Join(s.cfg.BackupPosixPath, "README"), []byte("not a backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := s.audit(t); err != nil {
		t.Fatalf("audit: %v\n%s", err, out)
	}

	lost := s.backup(t, cinder.BackupAvailable, true)
	if err := os.Remove(s.backupFile(lost, "-00001")); err != nil {
		t.Fatal(err)
	}
	unfinished := s.backup(t, cinder.BackupRestoring, true)
	if err := os.Remove(s.backupFile(unfinished, "_metadata")); err != nil {
		t.Fatal(err)
	}
	empty := s.backup(t, cinder.BackupAvailable, false)
	deleted := s.backup(t, cinder.BackupAvailable, true)
	if err := s.store.DestroyBackup(ctx, deleted.ID); err != nil {
		t.Fatal(err)
	}
	stray := newBackup() // of a row the database lost
	s.backupFiles(t, stray)

	out, err := s.audit(t)
	if !errors.Is(err, errDiffer) {
		t.Fatalf("audit: %v, want errDiffer\n%s", err, out)
	}
	dir := s.cfg.BackupPosixPath
	for _, want := range []string{
		"backup_posix_path: backup " + lost.ID + " (available, 1 GiB) is not whole: backup " + lost.ID +
			": object " + lost.ServiceMetadata + "-00001 is missing from container " + filepath.Join(dir, lost.Container) + "\n",
		"backup_posix_path: backup " + unfinished.ID + " (restoring, 1 GiB) is not whole: backup " + unfinished.ID +
			": " + s.backupFile(unfinished, "_metadata") + " is missing\n",
		"backup_posix_path: backup " + empty.ID + " (available, 1 GiB) has no files: " +
			filepath.Join(dir, empty.Container, "*_metadata") + " is missing\n",
		"backup_posix_path: files " + s.backupFile(deleted, "") + "* (3 files, ",
		"backup_posix_path: files " + s.backupFile(stray, "") + "* (3 files, ",
		"5 differences between the database and the storage of 2 backends and backup_posix_path\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 6 {
		t.Errorf("audit printed %d lines, want 6:\n%s", n, out)
	}
}
