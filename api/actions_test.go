package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/rpc"
)

func TestExtend(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	action := "/v3/admin/volumes/" + id + "/action"
	r := e.post(action, `{"os-extend": {"new_size": 2}}`).expect(t, http.StatusAccepted)
	if len(r.raw) != 0 {
		t.Fatalf("extend answered %s", r.raw)
	}
	if v := e.volume(id); v.Status != cinder.StatusExtending || v.PreviousStatus != cinder.StatusAvailable {
		t.Fatalf("after extend: status %s, previous %s", v.Status, v.PreviousStatus)
	}
	if calls := e.volumes.called(); len(calls) != 1 || calls[0] != "extend "+id+" 2" {
		t.Fatalf("cinder-volume calls %v", calls)
	}
	// Extending: not available any more.
	msg := e.post(action, `{"os-extend": {"new_size": 3}}`).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Invalid volume: Volume "+id+" status must be 'available' or 'in-use' to extend, currently extending." {
		t.Fatalf("busy message %q", msg)
	}
	e.setVolume(id, func(v *cinder.Volume) { v.Status, v.Size = cinder.StatusAvailable, 2 })
	msg = e.post(action, `{"os-extend": {"new_size": 2}}`).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Invalid input received: New size for extend must be greater than current size. (current: 2, extended: 2)." {
		t.Fatalf("shrink message %q", msg)
	}
	for _, body := range []string{`{"os-extend": {}}`, `{"os-extend": {"new_size": "x"}}`, `{"os-extend": {"new_size": 0}}`,
		`{"os-extend": {"new_size": 3, "force": true}}`, `{"os-extend": 3}`} {
		e.post(action, body).fault(t, http.StatusBadRequest, "badRequest")
	}
	e.post(action, `{"os-extend": {"new_size": 5000}}`).fault(t, http.StatusRequestEntityTooLarge, "overLimit")
	// The message bus unreachable: the statuses come back.
	e.volumes.castErr = errBrokerDown
	e.setVolume(id, func(v *cinder.Volume) { v.PreviousStatus = "" })
	msg = e.post(action, `{"os-extend": {"new_size": "3"}}`).fault(t, http.StatusServiceUnavailable, "serviceUnavailable")
	if msg != "Could not ask cinder-volume to extend volume "+id+": the message bus is unreachable. Try again later." {
		t.Fatalf("503 message %q", msg)
	}
	if v := e.volume(id); v.Status != cinder.StatusAvailable || v.PreviousStatus != "" || v.Size != 2 {
		t.Fatalf("after a failed extend cast: status %s, previous %q, size %d", v.Status, v.PreviousStatus, v.Size)
	}
}

func TestResetStatusAndForceDelete(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	action := "/v3/admin/volumes/" + id + "/action"
	e.post(action, `{"os-reset_status": {"status": "error"}}`).expect(t, http.StatusAccepted)
	show := e.get("/v3/admin/volumes/"+id).expect(t, http.StatusOK)
	if show.obj(t, "volume")["status"] != "error" {
		t.Fatalf("after reset: %s", show.raw)
	}
	e.post(action, `{"os-reset_status": {"attach_status": "DETACHED", "migration_status": "error"}}`).expect(t, http.StatusAccepted)
	if v := e.volume(id); v.AttachStatus != "detached" || v.MigrationStatus != "error" {
		t.Fatalf("attach %s migration %s", v.AttachStatus, v.MigrationStatus)
	}
	e.post(action, `{"os-reset_status": {"migration_status": "none"}}`).expect(t, http.StatusAccepted)
	if v := e.volume(id); v.MigrationStatus != "" {
		t.Fatalf("migration_status none left %q", v.MigrationStatus)
	}
	for body, want := range map[string]string{
		`{"os-reset_status": {}}`:                      "Must specify 'status', 'attach_status' or 'migration_status' for update.",
		`{"os-reset_status": {"status": "deleting"}}`:  "Cannot reset-state to deleting",
		`{"os-reset_status": {"status": "in-use"}}`:    "Cannot reset-state to in-use because volume does not have any attachments.",
		`{"os-reset_status": {"status": "sleeping"}}`:  "",
		`{"os-reset_status": {"colour": "blue"}}`:      "Invalid input for field/attribute os-reset_status. Additional properties are not allowed ('colour' was unexpected)",
		`{"os-reset_status": {"attach_status": "on"}}`: "",
	} {
		msg := e.post(action, body).fault(t, http.StatusBadRequest, "badRequest")
		if want != "" && msg != want {
			t.Errorf("%s: %q, want %q", body, msg, want)
		}
	}

	// Force delete works from any status but migration.
	e.setVolume(id, func(v *cinder.Volume) { v.Status = cinder.StatusCreating })
	e.post(action, `{"os-force_delete": {}}`).expect(t, http.StatusAccepted)
	if st := e.volume(id).Status; st != cinder.StatusDeleting {
		t.Fatalf("after force delete: %s", st)
	}
	other := e.createVolume(`{"volume": {"size": 1}}`)
	e.setVolume(other, func(v *cinder.Volume) { v.MigrationStatus = cinder.MigrationMigrating })
	e.post("/v3/admin/volumes/"+other+"/action", `{"os-force_delete": {}}`).fault(t, http.StatusBadRequest, "badRequest")
}

func TestConnections(t *testing.T) {
	e := newEnv(t)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	action := "/v3/admin/volumes/" + id + "/action"
	r := e.post(action, `{"os-initialize_connection": {"connector": {"host": "node1", "initiator": "iqn.x"}}}`).expect(t, http.StatusOK)
	info := r.obj(t, "connection_info")
	if info["driver_volume_type"] != "local" || r.obj(t, "connection_info", "data")["device_path"] != "/dev/fake/"+id {
		t.Fatalf("connection_info %s", r.raw)
	}
	e.post(action, `{"os-terminate_connection": {"connector": {"host": "node1"}}}`).expect(t, http.StatusAccepted)
	if calls := e.volumes.called(); len(calls) != 2 || calls[0] != "initialize "+id || calls[1] != "terminate "+id {
		t.Fatalf("cinder-volume calls %v", calls)
	}
	e.post(action, `{"os-initialize_connection": {}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.post(action, `{"os-initialize_connection": {"connector": 7}}`).fault(t, http.StatusBadRequest, "badRequest")

	e.volumes.connErr = cinder.VolumeBackendAPIException("export failed")
	msg := e.post(action, `{"os-initialize_connection": {"connector": {}}}`).fault(t, http.StatusInternalServerError, "computeFault")
	if msg != "Unable to fetch connection information from backend." {
		t.Fatalf("backend failure message %q", msg)
	}
	e.volumes.connErr = cinder.InvalidInput("connector lacks host")
	e.post(action, `{"os-initialize_connection": {"connector": {}}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.volumes.connErr = &rpc.TimeoutError{Method: "initialize_connection", Target: "cinder-volume.hostA@fake1", Timeout: time.Second}
	e.post(action, `{"os-initialize_connection": {"connector": {}}}`).fault(t, http.StatusBadGateway, "computeFault")

	// A volume not on a backend has nothing to connect.
	e.sched.place = ""
	unplaced := e.createVolume(`{"volume": {"size": 1}}`)
	e.post("/v3/admin/volumes/"+unplaced+"/action", `{"os-initialize_connection": {"connector": {}}}`).fault(t, http.StatusBadRequest, "badRequest")
}

// newMigrationEnv is an API whose clients can migrate, with the backends
// hostA@fake1 and hostA@fake2 up.
func newMigrationEnv(t *testing.T) (*env, *migratingScheduler) {
	t.Helper()
	var m *migratingScheduler
	e := newEnv(t, func(e *env) {
		m = &migratingScheduler{fakeScheduler: e.sched}
		e.schedOverride = m
		e.volumesOverride = completingVolumes{e.volumes}
	})
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	e.addService("hostA@fake2", cinder.BinaryVolume, 0, false)
	return e, m
}

func TestMigrateVolume(t *testing.T) {
	e, m := newMigrationEnv(t)
	e.addService("hostA@down", cinder.BinaryVolume, time.Hour, false)
	e.addService("hostA@off", cinder.BinaryVolume, 0, true)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	action := "/v3/admin/volumes/" + id + "/action"

	for _, tc := range []struct{ body, message string }{
		{`{"os-migrate_volume": {"host": "hostA@fake1"}}`, "Invalid volume: Volume " + id + " status must be available or in-use, must not be migrating, have snapshots, be replicated, be part of a group and destination host/cluster must be different than the current one"},
		{`{"os-migrate_volume": {"host": "hostA@fake1#fake"}}`, ""},
		{`{"os-migrate_volume": {"host": "hostA@down"}}`, "Invalid host: No available service named 'hostA@down'"},
		{`{"os-migrate_volume": {"host": "hostA@off"}}`, ""},
		{`{"os-migrate_volume": {"host": "hostB@fake1"}}`, ""},
		{`{"os-migrate_volume": {}}`, "Invalid input received: One and only one of cluster and host must be set."},
		{`{"os-migrate_volume": {"host": "hostA@fake2", "cluster": "c"}}`, ""},
		{`{"os-migrate_volume": {"host": "hostA@fake2", "lock_volume": "maybe"}}`, ""},
	} {
		msg := e.post(action, tc.body).fault(t, http.StatusBadRequest, "badRequest")
		if tc.message != "" && msg != tc.message {
			t.Errorf("%s: %q, want %q", tc.body, msg, tc.message)
		}
	}
	if len(m.migrations) != 0 {
		t.Fatalf("refused migrations reached the scheduler: %v", m.migrations)
	}
	e.post(action, `{"os-migrate_volume": {"host": "hostA@fake2", "lock_volume": true, "force_host_copy": "false"}}`).expect(t, http.StatusAccepted)
	if v := e.volume(id); v.MigrationStatus != cinder.MigrationStarting || v.Status != cinder.StatusMaintenance || v.PreviousStatus != cinder.StatusAvailable {
		t.Fatalf("after migrate: %+v", v)
	}
	if len(m.migrations) != 1 || m.migrations[0] != id+">hostA@fake2" {
		t.Fatalf("scheduler asked %v", m.migrations)
	}
	// Before 3.16 host is required and cluster unknown.
	e.post(action, `{"os-migrate_volume": {"cluster": "c"}}`, "OpenStack-API-Version", "volume 3.15").fault(t, http.StatusBadRequest, "badRequest")

	// Completion: the target must be this volume's.
	e.sched.place = "hostA@fake2#fake"
	target := e.createVolume(`{"volume": {"size": 1}}`)
	e.setVolume(id, func(v *cinder.Volume) { v.MigrationStatus = cinder.MigrationMigrating })
	complete := `{"os-migrate_volume_completion": {"new_volume": "` + target + `", "error": false}}`
	msg := e.post(action, complete).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Invalid volume: Destination volume not mid-migration." {
		t.Fatalf("completion refusal %q", msg)
	}
	e.setVolume(target, func(v *cinder.Volume) { v.MigrationStatus = cinder.MigrationTarget(id) })
	r := e.post(action, complete).expect(t, http.StatusOK)
	if r.body["save_volume_id"] != id {
		t.Fatalf("completion answered %s", r.raw)
	}
	if calls := e.volumes.called(); calls[len(calls)-1] != "complete "+id+" "+target+" false" {
		t.Fatalf("cinder-volume calls %v", calls)
	}
	e.post(action, `{"os-migrate_volume_completion": {"new_volume": "x"}}`).fault(t, http.StatusBadRequest, "badRequest")
}

func TestMigrateVolumeRollsBackWhenSchedulerUnreachable(t *testing.T) {
	var m *migratingScheduler
	e := newEnv(t, func(e *env) {
		m = &migratingScheduler{fakeScheduler: e.sched, err: errBrokerDown}
		e.schedOverride = m
	})
	e.addService("hostA@fake2", cinder.BinaryVolume, 0, false)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	e.post("/v3/admin/volumes/"+id+"/action", `{"os-migrate_volume": {"host": "hostA@fake2", "lock_volume": true}}`).
		fault(t, http.StatusServiceUnavailable, "serviceUnavailable")
	if v := e.volume(id); v.MigrationStatus != "" || v.Status != cinder.StatusAvailable || v.PreviousStatus != "" {
		t.Fatalf("after a failed migrate cast: %+v", v)
	}
}
