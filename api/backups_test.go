package api

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/cinder-go/cinder"
)

// fakeBackups stands in for the cinder-backup RPC client: it records each
// request as "method id" and answers castErr, if set.
type fakeBackups struct {
	castErr error

	mu    sync.Mutex
	calls []string
}

func (f *fakeBackups) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.castErr
}

func (f *fakeBackups) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeBackups) CreateBackup(_ context.Context, b *cinder.Backup) error {
	return f.record("create_backup " + b.ID)
}

func (f *fakeBackups) DeleteBackup(_ context.Context, b *cinder.Backup) error {
	return f.record("delete_backup " + b.ID)
}

func (f *fakeBackups) RestoreBackup(_ context.Context, _ string, b *cinder.Backup, volumeID string, _ bool) error {
	return f.record("restore_backup " + b.ID + " " + volumeID)
}

func (f *fakeBackups) ExportRecord(_ context.Context, b *cinder.Backup) (*cinder.BackupRecord, error) {
	r, err := cinder.ExportBackup(b)
	if err == nil {
		err = f.record("export_record " + b.ID)
	}
	return &r, err
}

func (f *fakeBackups) ImportRecord(_ context.Context, _ string, b *cinder.Backup, _ cinder.BackupRecord) error {
	return f.record("import_record " + b.ID)
}

// backupKeys are the members of a backup's detailed view at 3.64 for an admin.
var backupKeys = []string{"id", "name", "links", "status", "size", "object_count", "availability_zone", "container",
	"created_at", "updated_at", "description", "fail_reason", "volume_id", "is_incremental", "has_dependent_backups",
	"snapshot_id", "data_timestamp", "os-backup-project-attr:project_id", "metadata", "user_id", "encryption_key_id"}

// backupEnv is an API with a cinder-backup up and an available volume.
func backupEnv(t *testing.T) (*env, string) {
	e := newEnv(t)
	e.addService("hostA", cinder.BinaryBackup, 0, false)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	e.setVolume(id, func(v *cinder.Volume) { v.Status, v.Host = cinder.StatusAvailable, "hostA@fake1#fake" })
	return e, id
}

// setBackup changes backup id's row with fn.
func (e *env) setBackup(id string, fn func(b *cinder.Backup)) {
	e.t.Helper()
	if _, err := e.store.UpdateBackup(context.Background(), id, func(b *cinder.Backup) error { fn(b); return nil }); err != nil {
		e.t.Fatal(err)
	}
}

func TestBackupLifecycle(t *testing.T) {
	e, vol := backupEnv(t)
	r := e.post("/v3/admin/backups", `{"backup": {"volume_id": "`+vol+`", "name": "b1", "metadata": {"k": "v"}}}`).expect(t, http.StatusAccepted)
	sameKeys(t, "created backup", r.keys(t, "backup"), []string{"id", "name", "links"})
	id := r.obj(t, "backup")["id"].(string)
	if st := e.volume(vol).Status; st != cinder.StatusBackingUp {
		t.Fatalf("volume during backup: %s", st)
	}
	if calls := e.backups.called(); !slices.Contains(calls, "create_backup "+id) {
		t.Fatalf("cinder-backup calls %v", calls)
	}
	show := e.get("/v3/admin/backups/"+id).expect(t, http.StatusOK)
	sameKeys(t, "backup", show.keys(t, "backup"), backupKeys)
	if b := show.obj(t, "backup"); b["status"] != "creating" || b["is_incremental"] != false || b["metadata"].(map[string]any)["k"] != "v" {
		t.Fatalf("backup view %v", b)
	}
	e.setBackup(id, func(b *cinder.Backup) { b.Status = cinder.BackupAvailable })
	e.setVolume(vol, func(v *cinder.Volume) { v.Status = cinder.StatusAvailable })

	for _, path := range []string{"/v3/admin/backups", "/v3/admin/backups/detail?with_count=true", "/v3/admin/backups?volume_id=" + vol,
		"/v3/admin/backups?name=b1&sort=name:asc"} {
		list := e.get(path).expect(t, http.StatusOK)
		if items := list.body["backups"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != id {
			t.Fatalf("%s: %s", path, list.raw)
		}
	}
	e.put("/v3/admin/backups/"+id, `{"backup": {"name": "b2"}}`, "OpenStack-API-Version", "volume 3.8").fault(t, http.StatusNotFound, "itemNotFound")
	if upd := e.put("/v3/admin/backups/"+id, `{"backup": {"name": "b2"}}`).expect(t, http.StatusOK).obj(t, "backup"); upd["name"] != "b2" {
		t.Fatalf("update view %v", upd)
	}

	rs := e.post("/v3/admin/backups/"+id+"/restore", `{"restore": {"volume_id": "`+vol+`"}}`).expect(t, http.StatusAccepted)
	if got := rs.obj(t, "restore"); got["backup_id"] != id || got["volume_id"] != vol {
		t.Fatalf("restore view %v", got)
	}
	if st := e.volume(vol).Status; st != cinder.StatusRestoringBackup {
		t.Fatalf("volume during restore: %s", st)
	}
	e.del("/v3/admin/backups/"+id).fault(t, http.StatusBadRequest, "badRequest")
	e.post("/v3/admin/backups/"+id+"/action", `{"os-reset_status": {"status": "available"}}`).expect(t, http.StatusAccepted)
	e.del("/v3/admin/backups/"+id).expect(t, http.StatusAccepted)
	if calls := e.backups.called(); !slices.Contains(calls, "delete_backup "+id) {
		t.Fatalf("cinder-backup calls %v", calls)
	}
	e.get("/v3/admin/backups/nope").fault(t, http.StatusNotFound, "itemNotFound")
}

// TestSnapshotBackupCreate backs up a snapshot through the API: Cinder's
// schema for snapshot_id and availability_zone, 404 for an unknown
// snapshot, and the snapshot backing-up while its volume stays available.
func TestSnapshotBackupCreate(t *testing.T) {
	e, vol := backupEnv(t)
	snap := e.createSnapshot(vol, "")["id"].(string)
	e.setSnapshot(snap, func(s *cinder.Snapshot) { s.Status = cinder.SnapshotAvailable })
	body := func(members string) string { return `{"backup": {"volume_id": "` + vol + `"` + members + `}}` }
	for _, c := range []struct {
		members, version string
		status           int
		kind, message    string
	}{
		{`, "snapshot_id": "abc"`, "3.64", 400, "badRequest", "Invalid input for field/attribute snapshot_id. Value: abc. 'abc' is not valid under any of the given schemas"},
		{`, "snapshot_id": 5`, "3.64", 400, "badRequest", "Invalid input for field/attribute snapshot_id. Value: 5. 5 is not valid under any of the given schemas"},
		{`, "snapshot_id": "` + vol + `"`, "3.64", 404, "itemNotFound", "Snapshot " + vol + " could not be found."},
		{`, "availability_zone": "nova"`, "3.50", 400, "badRequest", ""},
		{`, "availability_zone": 5`, "3.51", 400, "badRequest", "Invalid input for field/attribute availability_zone. Value: 5. 5 is not of type 'string', 'null'"},
		{`, "availability_zone": "elsewhere"`, "3.51", 503, "serviceUnavailable", "Service cinder-backup could not be found."},
	} {
		msg := e.post("/v3/admin/backups", body(c.members), "OpenStack-API-Version", "volume "+c.version).fault(t, c.status, c.kind)
		if c.message != "" && msg != c.message {
			t.Errorf("%s at %s: %q, want %q", c.members, c.version, msg, c.message)
		}
	}
	if st := e.snapshot(snap).Status; st != cinder.SnapshotAvailable {
		t.Fatalf("refused backups left the snapshot %s", st)
	}

	r := e.post("/v3/admin/backups", body(`, "snapshot_id": "`+snap+`", "availability_zone": null`), "OpenStack-API-Version", "volume 3.51")
	id := r.expect(t, http.StatusAccepted).obj(t, "backup")["id"].(string)
	if b := e.get("/v3/admin/backups/"+id).expect(t, http.StatusOK).obj(t, "backup"); b["snapshot_id"] != snap || b["volume_id"] != vol {
		t.Fatalf("backup of a snapshot: %v", b)
	}
	if s, v := e.snapshot(snap).Status, e.volume(vol).Status; s != cinder.SnapshotBackingUp || v != cinder.StatusAvailable {
		t.Fatalf("during a snapshot's backup: snapshot %s, volume %s; want backing-up, available", s, v)
	}
	msg := e.post("/v3/admin/backups", body(`, "snapshot_id": "`+snap+`"`)).fault(t, http.StatusBadRequest, "badRequest")
	if want := `Invalid snapshot: Snapshot to be backed up must be available, but the current status is "backing-up".`; msg != want {
		t.Fatalf("second backup of a backing-up snapshot: %q, want %q", msg, want)
	}
}

func TestBackupExportImport(t *testing.T) {
	e, vol := backupEnv(t)
	id := e.post("/v3/admin/backups", `{"backup": {"volume_id": "`+vol+`"}}`).expect(t, http.StatusAccepted).obj(t, "backup")["id"].(string)
	e.get("/v3/admin/backups/"+id+"/export_record").fault(t, http.StatusBadRequest, "badRequest") // still creating
	e.setBackup(id, func(b *cinder.Backup) { b.Status = cinder.BackupAvailable })
	rec := e.get("/v3/admin/backups/"+id+"/export_record").expect(t, http.StatusOK).obj(t, "backup-record")
	if rec["backup_service"] != cinder.BackupServicePosix {
		t.Fatalf("record %v", rec)
	}
	body := `{"backup-record": {"backup_service": "` + rec["backup_service"].(string) + `", "backup_url": "` + rec["backup_url"].(string) + `"}}`
	e.post("/v3/admin/backups/import_record", body).fault(t, http.StatusBadRequest, "badRequest") // exists
	e.post("/v3/admin/backups/"+id+"/action", `{"os-force_delete": {}}`).expect(t, http.StatusAccepted)
	if err := e.store.DestroyBackup(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	imported := e.post("/v3/admin/backups/import_record", body).expect(t, http.StatusCreated).obj(t, "backup")
	if imported["id"] != id {
		t.Fatalf("imported %v", imported)
	}
	e.post("/v3/admin/backups/import_record", `{"backup-record": {"backup_service": "x"}}`).fault(t, http.StatusBadRequest, "badRequest")
}

func TestBackupPolicy(t *testing.T) {
	e, vol := backupEnv(t)
	id := e.post("/v3/admin/backups", `{"backup": {"volume_id": "`+vol+`"}}`).expect(t, http.StatusAccepted).obj(t, "backup")["id"].(string)
	e.setBackup(id, func(b *cinder.Backup) { b.ProjectID = "p1" })
	member := []string{"X-Auth-Token", "u:p1", "X-Roles", "member"}
	e.cfg.AuthStrategy = "noauth_roles"
	e.get("/v3/p1/backups/"+id, member...).expect(t, http.StatusOK)
	for _, rq := range []req{
		{method: "GET", path: "/v3/p1/backups/" + id + "/export_record"},
		{method: "POST", path: "/v3/p1/backups/" + id + "/action", body: `{"os-reset_status": {"status": "error"}}`},
		{method: "POST", path: "/v3/p1/backups/" + id + "/action", body: `{"os-force_delete": {}}`},
	} {
		rq.headers = member
		e.do(rq).fault(t, http.StatusForbidden, "forbidden")
	}
}
