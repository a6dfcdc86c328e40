package volume

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// backup writes a backup of volume vol, available, as set changes it, and
// returns its id.
func (c *cloud) backup(vol string, set func(b *cinder.Backup)) string {
	c.t.Helper()
	v := c.get(vol)
	b := &cinder.Backup{VolumeID: vol, ProjectID: v.ProjectID, Host: "hostA", Status: cinder.BackupAvailable, Size: v.Size}
	if set != nil {
		set(b)
	}
	if err := c.store.CreateBackup(context.Background(), b); err != nil {
		c.t.Fatal(err)
	}
	return b.ID
}

func (c *cloud) getBackup(id string) *cinder.Backup {
	c.t.Helper()
	b, err := c.store.GetBackup(context.Background(), id)
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

func TestCreateBackupRules(t *testing.T) {
	c := newCloud(t)
	for _, tc := range []struct {
		status, migration string
		force             bool
		code              int
	}{
		{status: "available"},
		{status: "in-use", force: true},
		{status: "in-use", code: 400},
		{status: "error", force: true, code: 400},
		{status: "backing-up", force: true, code: 400},
		{status: "available", migration: cinder.MigrationMigrating, code: 400},
	} {
		id := c.volume(func(v *cinder.Volume) { v.Status, v.MigrationStatus = tc.status, tc.migration })
		b, err := c.api.CreateBackup(admin(), BackupRequest{VolumeID: id, Name: "b", Force: tc.force})
		if tc.code != 0 {
			wantCode(t, "backup of a volume "+tc.status, err, tc.code)
			if v := c.get(id); v.Status != tc.status {
				t.Errorf("refused backup changed the volume to %s", v.Status)
			}
			continue
		}
		if err != nil {
			t.Fatalf("backup of a volume %s: %v", tc.status, err)
		}
		if v := c.get(id); v.Status != cinder.StatusBackingUp || v.PreviousStatus != tc.status {
			t.Errorf("volume after backup create: %s (previous %s)", v.Status, v.PreviousStatus)
		}
		if got := c.getBackup(b.ID); got.Status != cinder.BackupCreating || got.Host != "hostA" || got.ParentID != "" || got.Size != 1 {
			t.Errorf("backup = %+v", got)
		}
		if calls := c.rpc.called(); !slices.Contains(calls, "create_backup "+id+">"+b.ID) {
			t.Errorf("casts %v lack create_backup", calls)
		}
	}
}

func TestIncrementalBackupParent(t *testing.T) {
	c := newCloud(t)
	id := c.volume(nil)
	_, err := c.api.CreateBackup(admin(), BackupRequest{VolumeID: id, Incremental: true})
	wantCode(t, "incremental without a backup", err, 400)
	old := time.Now().Add(-time.Hour)
	c.backup(id, func(b *cinder.Backup) { b.DataTimestamp = old })
	latest := c.backup(id, nil)
	c.backup(id, func(b *cinder.Backup) { b.Status = cinder.BackupError })
	b, err := c.api.CreateBackup(admin(), BackupRequest{VolumeID: id, Incremental: true})
	if err != nil || b.ParentID != latest {
		t.Fatalf("incremental = %+v, %v; want parent %s", b, err, latest)
	}
}

func TestBackupQuotaAndCastFailure(t *testing.T) {
	c := newCloud(t)
	id := c.volume(nil)
	for range 4 {
		c.backup(id, nil)
	}
	_, err := c.api.CreateBackup(admin(), BackupRequest{VolumeID: id})
	wantCode(t, "backup over quota_backups", err, 413)

	c = newCloud(t)
	id = c.volume(nil)
	c.rpc.err = errBusDown
	_, err = c.api.CreateBackup(admin(), BackupRequest{VolumeID: id})
	wantCode(t, "backup with the bus down", err, 503)
	if v := c.get(id); v.Status != cinder.StatusAvailable {
		t.Errorf("volume after a failed cast: %s", v.Status)
	}
	if n, _ := c.store.CountBackups(context.Background(), db.BackupFilter{ProjectID: "admin"}); n != 0 {
		t.Errorf("%d backups left after a failed cast", n)
	}
	c.wantUsage("admin", map[string]db.Usage{db.QuotaBackups: {}, db.QuotaBackupGigabytes: {}})
}

func TestDeleteBackupRules(t *testing.T) {
	c := newCloud(t)
	vol := c.volume(nil)
	for _, tc := range []struct {
		status string
		force  bool
		code   int
	}{
		{status: "available"}, {status: "error"},
		{status: "creating", code: 400}, {status: "restoring", code: 400},
		{status: "creating", force: true},
	} {
		id := c.backup(vol, func(b *cinder.Backup) { b.Status = tc.status })
		err := c.api.DeleteBackup(admin(), id, tc.force)
		if tc.code != 0 {
			wantCode(t, "delete of a backup "+tc.status, err, tc.code)
			continue
		}
		if err != nil || c.getBackup(id).Status != cinder.BackupDeleting {
			t.Errorf("delete of a backup %s: %v, status %s", tc.status, err, c.getBackup(id).Status)
		}
	}
	parent := c.backup(vol, nil)
	c.backup(vol, func(b *cinder.Backup) { b.ParentID = parent })
	err := c.api.DeleteBackup(admin(), parent, true)
	wantCode(t, "delete of a backup with incrementals", err, 400)
	if e, _ := err.(*cinder.Error); e.Message != "Invalid backup: Incremental backups exist for this backup." {
		t.Errorf("message %q", e.Message)
	}

	c.rpc.err = errBusDown
	id := c.backup(vol, nil)
	wantCode(t, "delete with the bus down", c.api.DeleteBackup(admin(), id, false), 503)
	if s := c.getBackup(id).Status; s != cinder.BackupAvailable {
		t.Errorf("backup after a failed delete cast: %s", s)
	}
}

func TestRestoreBackup(t *testing.T) {
	c := newCloud(t)
	src := c.volume(func(v *cinder.Volume) { v.Size = 2 })
	b := c.backup(src, nil)
	small := c.volume(nil)
	_, err := c.api.RestoreBackup(admin(), b, small, "")
	wantCode(t, "restore into a smaller volume", err, 400)
	busy := c.volume(func(v *cinder.Volume) { v.Size, v.Status = 2, cinder.StatusInUse })
	_, err = c.api.RestoreBackup(admin(), b, busy, "")
	wantCode(t, "restore into an in-use volume", err, 400)
	if s := c.getBackup(b).Status; s != cinder.BackupAvailable {
		t.Fatalf("refused restores left the backup %s", s)
	}

	v, err := c.api.RestoreBackup(admin(), b, src, "")
	if err != nil || v.Status != cinder.StatusRestoringBackup {
		t.Fatalf("restore into its volume: %+v, %v", v, err)
	}
	if got := c.getBackup(b); got.Status != cinder.BackupRestoring || got.RestoreVolumeID != src {
		t.Errorf("backup during restore = %+v", got)
	}
	_, err = c.api.RestoreBackup(admin(), b, src, "")
	wantCode(t, "restore of a restoring backup", err, 400)

	c.setVolume(src, func(v *cinder.Volume) { v.Status = cinder.StatusAvailable })
	if _, err := c.store.UpdateBackup(context.Background(), b, func(b *cinder.Backup) error {
		b.Status = cinder.BackupAvailable
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.rpc.created = func(v *cinder.Volume) {
		c.setVolume(v.ID, func(v *cinder.Volume) { v.Status = cinder.StatusAvailable })
	}
	nv, err := c.api.RestoreBackup(admin(), b, "", "")
	if err != nil || nv.Size != 2 || nv.DisplayName != "restore_backup_"+b || nv.Status != cinder.StatusRestoringBackup {
		t.Fatalf("restore into a new volume: %+v, %v", nv, err)
	}
	if calls := c.rpc.called(); !slices.Contains(calls, "restore_backup "+b+">"+nv.ID+"@hostA new=true") {
		t.Errorf("casts %v lack the restore into a new volume", calls)
	}
}

func TestExportImportBackup(t *testing.T) {
	c := newCloud(t)
	id := c.backup(c.volume(nil), func(b *cinder.Backup) { b.DisplayName = "exported" })
	r, err := c.api.ExportBackup(admin(), id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.api.ImportBackup(admin(), *r)
	wantCode(t, "import of an existing backup", err, 400)
	if err := c.store.DestroyBackup(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	b, err := c.api.ImportBackup(admin(), *r)
	if err != nil || b.ID != id || b.Status != cinder.BackupCreating || b.DisplayName != "exported" {
		t.Fatalf("import = %+v, %v", b, err)
	}
	_, err = c.api.ImportBackup(admin(), cinder.BackupRecord{Service: "cinder.backup.drivers.swift.SwiftBackupDriver", URL: r.URL})
	wantCode(t, "import of another driver's record", err, 404)
}

func TestResetAndUpdateBackup(t *testing.T) {
	c := newCloud(t)
	id := c.backup(c.volume(nil), func(b *cinder.Backup) { b.Status = cinder.BackupCreating })
	wantCode(t, "reset to deleting", c.api.ResetBackupStatus(admin(), id, cinder.BackupDeleting), 400)
	if err := c.api.ResetBackupStatus(admin(), id, cinder.BackupError); err != nil || c.getBackup(id).Status != cinder.BackupError {
		t.Fatalf("reset to error: %v", err)
	}
	name := "new"
	b, err := c.api.UpdateBackup(admin(), id, BackupChanges{Name: &name, Metadata: map[string]string{"k": "v"}})
	if err != nil || b.DisplayName != "new" || b.Metadata["k"] != "v" {
		t.Fatalf("update = %+v, %v", b, err)
	}
	other := cinder.WithRequestContext(context.Background(), &cinder.RequestContext{UserID: "u", ProjectID: "other"})
	_, err = c.api.GetBackup(other, id)
	wantCode(t, "another project's backup", err, 404)
}
