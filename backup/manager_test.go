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
// called directly, counting connections still open.
type volumes struct {
	drv  drivers.Driver
	open int
}

func (f *volumes) InitializeConnection(ctx context.Context, v *cinder.Volume, c map[string]any) (*cinder.ConnectionInfo, error) {
	f.open++
	return f.drv.InitializeConnection(ctx, v, c)
}

func (f *volumes) TerminateConnection(ctx context.Context, v *cinder.Volume, c map[string]any) error {
	f.open--
	return f.drv.TerminateConnection(ctx, v, c)
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
	b := &conf.Backend{Name: "thin", VolumeDriver: "thin", VolumeBackendName: "thin",
		VolumesDir: filepath.Join(t.TempDir(), "volumes"), MaxOverSubscriptionRatio: 20, VolumeClear: "none"}
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
// left restoring and one left deleting.
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
}
