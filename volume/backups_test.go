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

// TestCreateSnapshotBackupRules backs up snapshots as backup/api.py create
// does: the snapshot must be the volume's and available, whatever the
// volume's status; it goes backing-up and the volume is left as it is.
// The backup is of the snapshot's size and data time.
func TestCreateSnapshotBackupRules(t *testing.T) {
	c := newCloud(t)
	vol := c.volume(nil)
	snap := c.snapshot(vol, nil)
	c.setVolume(vol, func(v *cinder.Volume) { v.Size, v.Status = 2, cinder.StatusInUse }) // extended and attached since
	other := c.snapshot(c.volume(nil), nil)
	failed := c.snapshot(vol, func(s *cinder.Snapshot) { s.Status = cinder.SnapshotError })
	for _, tc := range []struct {
		what, snap string
		code       int
	}{
		{"a snapshot of another volume", other, 400},
		{"a snapshot in error", failed, 400},
		{"an unknown snapshot", vol, 404},
	} {
		_, err := c.api.CreateBackup(admin(), BackupRequest{VolumeID: vol, SnapshotID: tc.snap})
		wantCode(t, "backup of "+tc.what, err, tc.code)
	}
	if s := c.snap(other).Status; s != cinder.SnapshotAvailable {
		t.Errorf("refused backup left the snapshot %s", s)
	}

	b, err := c.api.CreateBackup(admin(), BackupRequest{VolumeID: vol, SnapshotID: snap})
	if err != nil {
		t.Fatal(err)
	}
	s := c.snap(snap)
	if got := c.getBackup(b.ID); got.SnapshotID != snap || got.Size != 1 || !got.DataTimestamp.Equal(s.CreatedAt) || got.Status != cinder.BackupCreating {
		t.Errorf("backup of a snapshot = %+v; want snapshot %s, size 1, data_timestamp %s", got, snap, s.CreatedAt)
	}
	if v := c.get(vol); s.Status != cinder.SnapshotBackingUp || v.Status != cinder.StatusInUse {
		t.Errorf("during the backup: snapshot %s, volume %s; want backing-up, in-use", s.Status, v.Status)
	}
	if calls := c.rpc.called(); !slices.Contains(calls, "create_backup "+vol+">"+b.ID) {
		t.Errorf("casts %v lack create_backup", calls)
	}
	_, err = c.api.CreateBackup(admin(), BackupRequest{VolumeID: vol, SnapshotID: snap})
	wantCode(t, "backup of a snapshot backing-up", err, 400)

	// A cast that cannot be sent leaves no backup and the snapshot available.
	c.setSnapshot(snap, cinder.SnapshotAvailable)
	c.rpc.err = errBusDown
	_, err = c.api.CreateBackup(admin(), BackupRequest{VolumeID: vol, SnapshotID: snap})
	wantCode(t, "backup of a snapshot with the bus down", err, 503)
	if s, v := c.snap(snap).Status, c.get(vol).Status; s != cinder.SnapshotAvailable || v != cinder.StatusInUse {
		t.Errorf("after a failed cast: snapshot %s, volume %s; want available, in-use", s, v)
	}
	u, err := c.store.QuotaUsages(context.Background(), "admin", []string{db.QuotaBackups})
	if err != nil {
		t.Fatal(err)
	}
	if got := u[db.QuotaBackups]; got.InUse != 1 || got.Reserved != 0 {
		t.Errorf("backups quota usage %+v after a failed cast, want the first one only", got)
	}
}

// setSnapshot sets snapshot id's status.
func (c *cloud) setSnapshot(id, status string) {
	c.t.Helper()
	if _, err := c.store.UpdateSnapshot(context.Background(), id, func(s *cinder.Snapshot) error { s.Status = status; return nil }); err != nil {
		c.t.Fatal(err)
	}
}

// TestSnapshotBackupParent takes Cinder's example: a backup at 8:00, a
// snapshot at 8:10 and a backup at 8:20. An incremental backup of the
// snapshot has the 8:00 backup as parent, one of the volume the 8:20
// backup; a snapshot older than every backup has no parent to build on.
func TestSnapshotBackupParent(t *testing.T) {
	c := newCloud(t)
	vol := c.volume(nil)
	at := func(hour, minute int) time.Time { return time.Date(2026, 3, 1, hour, minute, 0, 0, time.UTC) }
	b0800 := c.backup(vol, func(b *cinder.Backup) { b.DataTimestamp = at(8, 0) })
	snap := c.snapshot(vol, func(s *cinder.Snapshot) { s.CreatedAt = at(8, 10) })
	b0820 := c.backup(vol, func(b *cinder.Backup) { b.DataTimestamp = at(8, 20) })
	old := c.snapshot(vol, func(s *cinder.Snapshot) { s.CreatedAt = at(7, 0) })

	b, err := c.api.CreateBackup(admin(), BackupRequest{VolumeID: vol, SnapshotID: snap, Incremental: true})
	if err != nil || b.ParentID != b0800 || !b.DataTimestamp.Equal(at(8, 10)) {
		t.Fatalf("incremental backup of the snapshot = %+v, %v; want parent %s (8:00), data at 8:10", b, err, b0800)
	}
	if n, m := c.getBackup(b0800).NumDependentBackups, c.getBackup(b0820).NumDependentBackups; n != 1 || m != 0 {
		t.Errorf("dependent backups: 8:00 has %d, 8:20 has %d; want 1, 0", n, m)
	}
	_, err = c.api.CreateBackup(admin(), BackupRequest{VolumeID: vol, SnapshotID: old, Incremental: true})
	wantCode(t, "incremental backup of a snapshot older than every backup", err, 400)
	if s := c.snap(old).Status; s != cinder.SnapshotAvailable {
		t.Errorf("refused backup left the snapshot %s", s)
	}
	b, err = c.api.CreateBackup(admin(), BackupRequest{VolumeID: vol, Incremental: true})
	if err != nil || b.ParentID != b0820 {
		t.Fatalf("incremental backup of the volume = %+v, %v; want parent %s (8:20)", b, err, b0820)
	}
}

// TestBackupHost chooses cinder-backup hosts as
// _get_available_backup_service_host: any up, enabled one of the zone, at
// random, or with backup_use_same_host only the volume's own host.
func TestBackupHost(t *testing.T) {
	c := newCloud(t)
	now := time.Now().UTC()
	long := now.Add(-time.Hour)
	for _, svc := range []*cinder.Service{
		{Host: "hostB", AvailabilityZone: "nova", UpdatedAt: &now},
		{Host: "hostC", AvailabilityZone: "other", UpdatedAt: &now},
		{Host: "hostD", AvailabilityZone: "nova", UpdatedAt: &now, Disabled: true},
		{Host: "hostE", AvailabilityZone: "nova", UpdatedAt: &long},
	} {
		svc.Binary, svc.Topic = cinder.BinaryBackup, cinder.BinaryBackup
		if err := c.store.CreateService(context.Background(), svc); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	chosen := func(host, az string) []string {
		t.Helper()
		var hosts []string
		for range 64 {
			h, err := c.api.backupHost(ctx, host, az)
			if err != nil {
				t.Fatalf("backupHost(%q, %q): %v", host, az, err)
			}
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
		slices.Sort(hosts)
		return hosts
	}
	for _, tc := range []struct {
		host, az string
		same     bool
		want     []string
	}{
		{"hostC", "nova", false, []string{"hostA", "hostB"}},
		{"", "other", false, []string{"hostC"}},
		{"", "", false, []string{"hostA", "hostB", "hostC"}},
		{"hostB", "nova", true, []string{"hostB"}},
		{"", "nova", true, []string{"hostA", "hostB"}},
	} {
		c.api.cfg.BackupUseSameHost = tc.same
		if got := chosen(tc.host, tc.az); !slices.Equal(got, tc.want) {
			t.Errorf("backupHost(%q, %q) with backup_use_same_host %v chose %v, want %v", tc.host, tc.az, tc.same, got, tc.want)
		}
	}
	for _, tc := range []struct {
		host, az string
		same     bool
	}{
		{"hostC", "nova", true}, // in another zone
		{"hostD", "nova", true}, // disabled
		{"hostE", "nova", true}, // down
		{"", "nowhere", false},
	} {
		c.api.cfg.BackupUseSameHost = tc.same
		_, err := c.api.backupHost(ctx, tc.host, tc.az)
		wantCode(t, "backupHost("+tc.host+", "+tc.az+")", err, 503)
	}

	// A backup goes to the volume's host, in the zone asked for or the volume's.
	c.api.cfg.BackupUseSameHost = true
	vol := c.volume(func(v *cinder.Volume) { v.Host = "hostB@fake1#fake" })
	b, err := c.api.CreateBackup(admin(), BackupRequest{VolumeID: vol})
	if err != nil || b.Host != "hostB" || b.AvailabilityZone != "nova" {
		t.Fatalf("backup with backup_use_same_host = %+v, %v; want on hostB in nova", b, err)
	}
	c.api.cfg.BackupUseSameHost = false
	c.setVolume(vol, func(v *cinder.Volume) { v.Status = cinder.StatusAvailable })
	b, err = c.api.CreateBackup(admin(), BackupRequest{VolumeID: vol, AvailabilityZone: "other"})
	if err != nil || b.Host != "hostC" || b.AvailabilityZone != "other" {
		t.Fatalf("backup in zone other = %+v, %v; want on hostC in other", b, err)
	}
}
