package backup

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/drivers/thin"
	"github.com/cinder-go/cinder/internal/testdb"
	"github.com/cinder-go/cinder/internal/testfile"
)

// volumes is the backend as the manager reaches it over RPC: a thin driver
// called directly, counting connections still open and snapshot exports
// removed, and keeping the last volume connection's info.
type volumes struct {
	drv        drivers.Driver
	open       int
	unexported int
	last       *cinder.ConnectionInfo
}

func (f *volumes) InitializeConnection(ctx context.Context, v *cinder.Volume, c map[string]any) (*cinder.ConnectionInfo, error) {
	f.open++
	info, err := f.drv.InitializeConnection(ctx, v, c)
	f.last = info
	return info, err
}

func (f *volumes) TerminateConnection(ctx context.Context, v *cinder.Volume, c map[string]any) error {
	f.open--
	return f.drv.TerminateConnection(ctx, v, c)
}

func (f *volumes) InitializeConnectionSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot, c map[string]any) (*cinder.ConnectionInfo, error) {
	info, err := f.drv.InitializeConnectionSnapshot(ctx, s, c)
	if err == nil {
		f.open++
	}
	return info, err
}

func (f *volumes) TerminateConnectionSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot, c map[string]any) error {
	f.open--
	return f.drv.TerminateConnectionSnapshot(ctx, s, c)
}

func (f *volumes) RemoveExportSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	f.unexported++
	return f.drv.RemoveExportSnapshot(ctx, s)
}

func (f *volumes) GetCapabilities(ctx context.Context, host string, discover bool) (map[string]any, error) {
	return map[string]any{"sparse_copy_volume": true}, nil
}

// env is a cinder-backup over a thin backend, both in temporary directories.
type env struct {
	store *db.DB
	vols  *volumes
	mgr   *Manager
	dir   string // backup_posix_path
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, filepath.Join(t.TempDir(), "volumes"))
}

// newEnvOn is newEnv with the thin backend's volumes_dir at dir.
func newEnvOn(t *testing.T, dir string) *env {
	t.Helper()
	b := &conf.Backend{Name: "thin", VolumeDriver: "thin", VolumeBackendName: "thin",
		VolumesDir: dir, MaxOverSubscriptionRatio: 20, VolumeClear: "none"}
	drv := thin.New(b, "node1@thin")
	if err := drv.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := &env{store: testdb.SQLite(t), vols: &volumes{drv: drv}, dir: filepath.Join(t.TempDir(), "backup")}
	cfg := &conf.Config{Host: "node1", BackupPosixPath: e.dir, BackupFileSize: 4 << 20, BackupSHABlockSize: 32768, BackupCompression: "zlib"}
	e.mgr = New(cfg, e.store, e.vols)
	if err := e.mgr.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// volume makes a 1 GiB thin volume with status and returns it with its path.
func (e *env) volume(t *testing.T, status string) (*cinder.Volume, string) {
	t.Helper()
	ctx := context.Background()
	v := &cinder.Volume{ProjectID: "p", Size: 1, Status: status, PreviousStatus: cinder.StatusAvailable, Host: "node1@thin#thin"}
	if err := e.store.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := e.vols.drv.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	info, err := e.vols.drv.InitializeConnection(ctx, v, nil)
	if err != nil {
		t.Fatal(err)
	}
	path, err := info.DevicePath()
	if err != nil {
		t.Fatal(err)
	}
	return v, path
}

// backup inserts a backup row of v, kept by node1.
func (e *env) backup(t *testing.T, v *cinder.Volume, status, parent string) *cinder.Backup {
	t.Helper()
	b := &cinder.Backup{VolumeID: v.ID, ProjectID: "p", Host: "node1", Status: status, Size: v.Size, ParentID: parent}
	if err := e.store.CreateBackup(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return b
}

// snapshot takes a snapshot of v on the backend, its row backing-up, as
// the API leaves it for a backup of it.
func (e *env) snapshot(t *testing.T, v *cinder.Volume) *cinder.Snapshot {
	t.Helper()
	s := &cinder.Snapshot{VolumeID: v.ID, ProjectID: "p", Status: cinder.SnapshotBackingUp, VolumeSize: v.Size}
	if err := e.store.CreateSnapshot(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if err := e.vols.drv.CreateSnapshot(context.Background(), s, v); err != nil {
		t.Fatal(err)
	}
	return s
}

// snapshotBackup inserts a creating backup of snapshot s, kept by node1.
func (e *env) snapshotBackup(t *testing.T, s *cinder.Snapshot, parent string) *cinder.Backup {
	t.Helper()
	b := &cinder.Backup{VolumeID: s.VolumeID, SnapshotID: s.ID, ProjectID: "p", Host: "node1", Status: cinder.BackupCreating,
		Size: s.VolumeSize, ParentID: parent, DataTimestamp: s.CreatedAt}
	if err := e.store.CreateBackup(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return b
}

// snapshotStatus is snapshot id's status.
func (e *env) snapshotStatus(t *testing.T, id string) string {
	t.Helper()
	s, err := e.store.GetSnapshot(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s.Status
}

// restoreNew restores b into a new volume and returns its checksum.
func (e *env) restoreNew(t *testing.T, b *cinder.Backup) string {
	t.Helper()
	target, path := e.volume(t, cinder.StatusRestoringBackup)
	if _, err := e.store.UpdateBackup(context.Background(), b.ID, func(b *cinder.Backup) error {
		b.Status, b.RestoreVolumeID = cinder.BackupRestoring, target.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	handle(t, e.mgr.restoreBackup, map[string]any{"backup": b, "volume_id": target.ID, "volume_is_new": true})
	if s := e.status(t, target.ID); s != cinder.StatusAvailable {
		t.Fatalf("volume restored from backup %s is %s", b.ID, s)
	}
	return testfile.Checksum(t, path)
}

// setStatus sets volume id's status.
func (e *env) setStatus(t *testing.T, id, status string) {
	t.Helper()
	if _, err := e.store.UpdateVolume(context.Background(), id, func(v *cinder.Volume) error {
		v.Status, v.PreviousStatus = status, cinder.StatusAvailable
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// get reads backup id, nil when it is gone.
func (e *env) get(t *testing.T, id string) *cinder.Backup {
	t.Helper()
	b, err := e.store.GetBackup(context.Background(), id)
	if cinder.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// status is volume id's status.
func (e *env) status(t *testing.T, id string) string {
	t.Helper()
	v, err := e.store.GetVolume(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return v.Status
}

// handle runs handler with args as the RPC server would.
func handle(t *testing.T, handler func(context.Context, json.RawMessage) (any, error), args map[string]any) any {
	t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := handler(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return reply
}

// TestBackupRestoreDelete backs a volume up in full and incrementally,
// restores the incremental into a new volume and the full one into the
// source, comparing checksums, then deletes both backups and their files.
func TestBackupRestoreDelete(t *testing.T) {
	e := newEnv(t)
	v, path := e.volume(t, cinder.StatusBackingUp)
	if _, err := e.store.UpdateVolume(context.Background(), v.ID, func(v *cinder.Volume) error {
		v.DisplayName, v.Metadata = "source", map[string]string{"k": "v"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	testfile.WriteAt(t, path, 0, []byte(strings.Repeat("full", 40000)))
	testfile.WriteAt(t, path, 300<<20, []byte("far away"))
	before := testfile.Checksum(t, path)
	full := e.backup(t, v, cinder.BackupCreating, "")
	handle(t, e.mgr.createBackup, map[string]any{"backup": full})
	if b := e.get(t, full.ID); b.Status != cinder.BackupAvailable || b.ServiceMetadata == "" || b.ObjectCount == 0 {
		t.Fatalf("full backup = %+v; want available with a prefix and objects", b)
	}
	if s := e.status(t, v.ID); s != cinder.StatusAvailable {
		t.Fatalf("volume after backup is %s, want available", s)
	}

	testfile.WriteAt(t, path, 1<<20, []byte(strings.Repeat("incr", 1000)))
	after := testfile.Checksum(t, path)
	e.setStatus(t, v.ID, cinder.StatusBackingUp)
	incr := e.backup(t, v, cinder.BackupCreating, full.ID)
	handle(t, e.mgr.createBackup, map[string]any{"backup": incr})
	if b := e.get(t, incr.ID); b.Status != cinder.BackupAvailable || b.ObjectCount >= e.get(t, full.ID).ObjectCount+10 {
		t.Fatalf("incremental backup = %+v", b)
	}

	for _, c := range []struct {
		backup *cinder.Backup
		isNew  bool
		want   string
	}{{incr, true, after}, {full, false, before}} {
		target, tpath := v, path
		if c.isNew {
			target, tpath = e.volume(t, cinder.StatusRestoringBackup)
		} else {
			e.setStatus(t, v.ID, cinder.StatusRestoringBackup)
		}
		if _, err := e.store.UpdateBackup(context.Background(), c.backup.ID, func(b *cinder.Backup) error {
			b.Status, b.RestoreVolumeID = cinder.BackupRestoring, target.ID
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		handle(t, e.mgr.restoreBackup, map[string]any{"backup": c.backup, "volume_id": target.ID, "volume_is_new": c.isNew})
		if got := testfile.Checksum(t, tpath); got != c.want {
			t.Errorf("restore of %s (new volume %v): checksum %s, want %s", c.backup.ID, c.isNew, got, c.want)
		}
		if s, b := e.status(t, target.ID), e.get(t, c.backup.ID); s != cinder.StatusAvailable || b.Status != cinder.BackupAvailable {
			t.Errorf("after restore: volume %s, backup %s; want both available", s, b.Status)
		}
		if got, _ := e.store.GetVolume(context.Background(), target.ID); c.isNew &&
			(got.Metadata["k"] != "v" || got.Metadata["src_backup_id"] != c.backup.ID || got.DisplayName != "source") {
			t.Errorf("new volume after restore: name %q, metadata %v; want the source's and src_backup_id", got.DisplayName, got.Metadata)
		}
	}

	for _, b := range []*cinder.Backup{incr, full} {
		if _, err := e.store.UpdateBackup(context.Background(), b.ID, func(b *cinder.Backup) error {
			b.Status = cinder.BackupDeleting
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		handle(t, e.mgr.deleteBackup, map[string]any{"backup": b})
		if got := e.get(t, b.ID); got != nil {
			t.Errorf("backup %s after delete: %+v", b.ID, got)
		}
	}
	if entries, err := os.ReadDir(e.dir); err != nil || len(entries) != 0 {
		t.Errorf("backup_posix_path after the deletes holds %v (%v)", entries, err)
	}
	if e.vols.open != 0 {
		t.Errorf("%d connections left open", e.vols.open)
	}
}

// TestFailedCreateSetsError fails a backup whose volume is not backing-up.
func TestFailedCreateSetsError(t *testing.T) {
	e := newEnv(t)
	v, _ := e.volume(t, cinder.StatusAvailable)
	b := e.backup(t, v, cinder.BackupCreating, "")
	handle(t, e.mgr.createBackup, map[string]any{"backup": b})
	if got := e.get(t, b.ID); got.Status != cinder.BackupError || !strings.Contains(got.FailReason, "expected volume status backing-up") {
		t.Errorf("backup = %+v; want error naming the volume's status", got)
	}
	if s := e.status(t, v.ID); s != cinder.StatusAvailable {
		t.Errorf("volume is %s, want available", s)
	}
}

// TestExportImport imports an exported record into a new row and finds
// the backup's files.
func TestExportImport(t *testing.T) {
	e := newEnv(t)
	v, path := e.volume(t, cinder.StatusBackingUp)
	testfile.WriteAt(t, path, 0, []byte("exported"))
	b := e.backup(t, v, cinder.BackupCreating, "")
	handle(t, e.mgr.createBackup, map[string]any{"backup": b})
	r, ok := handle(t, e.mgr.exportRecord, map[string]any{"backup": b}).(cinder.BackupRecord)
	if !ok || r.Service != cinder.BackupServicePosix {
		t.Fatalf("export_record = %+v", r)
	}
	exported := e.get(t, b.ID)
	if err := e.store.DestroyBackup(context.Background(), b.ID); err != nil {
		t.Fatal(err)
	}
	row := &cinder.Backup{ID: b.ID, ProjectID: "q", Status: cinder.BackupCreating}
	if err := e.store.CreateBackup(context.Background(), row); err != nil {
		t.Fatal(err)
	}
	handle(t, e.mgr.importRecord, map[string]any{"backup": row, "backup_service": r.Service, "backup_url": r.URL})
	got := e.get(t, row.ID)
	if got.Status != cinder.BackupAvailable || got.ServiceMetadata != exported.ServiceMetadata || got.ProjectID != "q" || got.Host != "node1" {
		t.Errorf("imported backup = %+v; want available with the prefix %s", got, exported.ServiceMetadata)
	}

	bad := &cinder.Backup{ProjectID: "q", Status: cinder.BackupCreating}
	if err := e.store.CreateBackup(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	r.URL = "bm90IGpzb24="
	handle(t, e.mgr.importRecord, map[string]any{"backup": bad, "backup_service": r.Service, "backup_url": r.URL})
	if got := e.get(t, bad.ID); got.Status != cinder.BackupError {
		t.Errorf("import of a bad record: %+v; want error", got)
	}
}

// TestInitRecovers restarts the manager over a backup left creating, one
// left restoring, one left deleting and a backup of a snapshot left
// creating.
func TestInitRecovers(t *testing.T) {
	e := newEnv(t)
	src, _ := e.volume(t, cinder.StatusBackingUp)
	dst, _ := e.volume(t, cinder.StatusRestoringBackup)
	creating := e.backup(t, src, cinder.BackupCreating, "")
	restoring := e.backup(t, src, cinder.BackupRestoring, "")
	if _, err := e.store.UpdateBackup(context.Background(), restoring.ID, func(b *cinder.Backup) error {
		b.RestoreVolumeID = dst.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	deleting := e.backup(t, src, cinder.BackupDeleting, "")
	snapped, _ := e.volume(t, cinder.StatusInUse)
	snap := e.snapshot(t, snapped)
	creatingOfSnapshot := e.snapshotBackup(t, snap, "")
	if err := e.mgr.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b := e.get(t, creating.ID); b.Status != cinder.BackupError || b.FailReason != "incomplete backup reset on manager restart" {
		t.Errorf("backup left creating = %+v", b)
	}
	if b := e.get(t, restoring.ID); b.Status != cinder.BackupAvailable {
		t.Errorf("backup left restoring = %+v", b)
	}
	if b := e.get(t, deleting.ID); b != nil {
		t.Errorf("backup left deleting = %+v", b)
	}
	if s, d := e.status(t, src.ID), e.status(t, dst.ID); s != cinder.StatusAvailable || d != cinder.StatusErrorRestoring {
		t.Errorf("volumes: source %s, restore target %s; want available, error_restoring", s, d)
	}
	if b := e.get(t, creatingOfSnapshot.ID); b.Status != cinder.BackupError {
		t.Errorf("backup of a snapshot left creating = %+v", b)
	}
	if s, v := e.snapshotStatus(t, snap.ID), e.status(t, snapped.ID); s != cinder.SnapshotAvailable || v != cinder.StatusInUse {
		t.Errorf("after recovery: snapshot %s, its volume %s; want available, in-use", s, v)
	}
}

// TestSnapshotBackup backs up two snapshots of an in-use volume, the second
// incrementally on the first, while the volume changes after each: every
// backup restores the bytes of its snapshot, each snapshot is available
// again and the volume keeps its status.
func TestSnapshotBackup(t *testing.T) {
	e := newEnv(t)
	v, path := e.volume(t, cinder.StatusInUse)
	testfile.WriteAt(t, path, 0, []byte(strings.Repeat("snap1", 40000)))
	testfile.WriteAt(t, path, 300<<20, []byte("far away"))
	first := testfile.Checksum(t, path)
	s1 := e.snapshot(t, v)
	testfile.WriteAt(t, path, 1<<20, []byte(strings.Repeat("snap2", 1000)))
	second := testfile.Checksum(t, path)
	s2 := e.snapshot(t, v)
	testfile.WriteAt(t, path, 0, []byte(strings.Repeat("later", 5000)))

	full := e.snapshotBackup(t, s1, "")
	handle(t, e.mgr.createBackup, map[string]any{"backup": full})
	incr := e.snapshotBackup(t, s2, full.ID)
	handle(t, e.mgr.createBackup, map[string]any{"backup": incr})
	for _, b := range []*cinder.Backup{full, incr} {
		if got := e.get(t, b.ID); got.Status != cinder.BackupAvailable || got.SnapshotID != b.SnapshotID || got.ObjectCount == 0 {
			t.Fatalf("backup of snapshot %s = %+v; want available", b.SnapshotID, got)
		}
		if s := e.snapshotStatus(t, b.SnapshotID); s != cinder.SnapshotAvailable {
			t.Errorf("snapshot %s after its backup is %s, want available", b.SnapshotID, s)
		}
	}
	if s := e.status(t, v.ID); s != cinder.StatusInUse {
		t.Errorf("volume after the backups of its snapshots is %s, want in-use as it was", s)
	}
	if e.vols.open != 0 || e.vols.unexported != 2 {
		t.Errorf("%d connections left open, %d snapshot exports removed; want 0, 2", e.vols.open, e.vols.unexported)
	}

	if got := e.restoreNew(t, full); got != first {
		t.Error("restore of the first snapshot's backup differs from the volume when snapshotted")
	}
	if got := e.restoreNew(t, incr); got != second {
		t.Error("restore of the second snapshot's incremental backup differs from the volume when snapshotted")
	}
}

// TestSnapshotBackupFailures fails backups of a snapshot that is not
// backing-up and of one without storage: each backup goes to error, the
// snapshot to available, and the volume keeps its status.
func TestSnapshotBackupFailures(t *testing.T) {
	e := newEnv(t)
	v, _ := e.volume(t, cinder.StatusAvailable)
	idle := e.snapshot(t, v)
	if _, err := e.store.UpdateSnapshot(context.Background(), idle.ID, func(s *cinder.Snapshot) error {
		s.Status = cinder.SnapshotAvailable
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	lost := e.snapshot(t, v)
	if err := e.vols.drv.DeleteSnapshot(context.Background(), lost); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s      *cinder.Snapshot
		reason string
	}{
		{idle, "expected snapshot status backing-up but got available"},
		{lost, "Snapshot " + lost.ID + " could not be found"},
	} {
		b := e.snapshotBackup(t, c.s, "")
		handle(t, e.mgr.createBackup, map[string]any{"backup": b})
		if got := e.get(t, b.ID); got.Status != cinder.BackupError || !strings.Contains(got.FailReason, c.reason) {
			t.Errorf("backup of snapshot %s = %+v; want error saying %q", c.s.ID, got, c.reason)
		}
		if s := e.snapshotStatus(t, c.s.ID); s != cinder.SnapshotAvailable {
			t.Errorf("snapshot %s after a failed backup is %s, want available", c.s.ID, s)
		}
	}
	if s := e.status(t, v.ID); s != cinder.StatusAvailable {
		t.Errorf("volume is %s, want available", s)
	}
	if e.vols.open != 0 {
		t.Errorf("%d connections left open", e.vols.open)
	}
}
