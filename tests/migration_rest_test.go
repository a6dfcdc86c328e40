package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder/internal/testenv"
)

// migrateFault sends os-migrate_volume with args and checks the fault.
func (d *deployment) migrateFault(id string, args map[string]any, code int, kind, message string) {
	d.t.Helper()
	out := d.do("POST", "/admin/volumes/"+id+"/action", map[string]any{"os-migrate_volume": args}, code)
	f, ok := out[kind].(map[string]any)
	if !ok || !strings.Contains(f["message"].(string), message) {
		d.t.Fatalf("os-migrate_volume %v: %v, want %s containing %q", args, out, kind, message)
	}
}

// Each precondition of os-migrate_volume refused with a clear 400 (404 for
// an unknown volume), leaving the volume as it was. Snapshots and
// non-admin callers are not covered here: this Cinder has no snapshots, and
// noauth makes every caller an admin (api's unit tests check the 403 with
// keystone-style roles).
func TestMigrationPreconditions(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, setup{backends: fourBackends("zero")})
	d.startAll()
	id := d.volumeOn("thin")
	action := func(body map[string]any) { d.do("POST", "/admin/volumes/"+id+"/action", body, 202) }

	d.migrateFault("4d1a6f1e-0000-4000-8000-000000000000", map[string]any{"host": "hostB@thin2"}, 404, "itemNotFound", "could not be found")
	d.migrateFault(id, map[string]any{}, 400, "badRequest", "host")
	d.migrateFault(id, map[string]any{"host": "hostB@thin2", "force_host_copy": "maybe"}, 400, "badRequest", "force_host_copy")
	d.migrateFault(id, map[string]any{"host": "hostZ@nowhere"}, 400, "badRequest", "hostZ@nowhere")
	d.migrateFault(id, map[string]any{"host": "hostA@thin"}, 400, "badRequest", "")
	d.migrateFault(id, map[string]any{"host": "hostA@thin#thin"}, 400, "badRequest", "")

	action(map[string]any{"os-reset_status": map[string]any{"status": "error"}})
	d.migrateFault(id, map[string]any{"host": "hostB@thin2"}, 400, "badRequest", "")
	action(map[string]any{"os-reset_status": map[string]any{"status": "available", "migration_status": "migrating"}})
	d.migrateFault(id, map[string]any{"host": "hostB@thin2"}, 400, "badRequest", "")
	action(map[string]any{"os-reset_status": map[string]any{"status": "available", "migration_status": "success"}})

	d.do("PUT", "/admin/os-services/disable", map[string]any{"host": "hostB@thin2", "binary": "cinder-volume"}, 200)
	d.migrateFault(id, map[string]any{"host": "hostB@thin2"}, 400, "badRequest", "")
	d.do("PUT", "/admin/os-services/enable", map[string]any{"host": "hostB@thin2", "binary": "cinder-volume"}, 200)

	// None of the refusals touched the volume; a valid request still works.
	if v := d.volume(id); v["status"] != "available" || !strings.HasPrefix(v["os-vol-host-attr:host"].(string), "hostA@thin#") {
		t.Fatalf("refused migrations changed the volume: %v", v)
	}
	d.migrate(id, "hostB@thin2", nil)

	// lock_volume keeps an available volume in maintenance while it moves.
	d.do("POST", "/admin/volumes/"+id+"/action", map[string]any{"os-migrate_volume": map[string]any{"host": "hostA@thick", "lock_volume": true}}, 202)
	seen := map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		v := d.volume(id)
		seen[v["status"].(string)] = true
		if v["migration_status"] == "success" {
			break
		}
		if time.Now().After(deadline) || v["migration_status"] == "error" {
			t.Fatalf("locked migration: %v", v)
		}
	}
	if !seen["maintenance"] || d.volume(id)["status"] != "available" {
		t.Fatalf("statuses seen during a locked migration: %v, final %v", seen, d.volume(id)["status"])
	}
}

// A destination whose cinder-volume is down is refused at once.
func TestMigrationToADownBackend(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, setup{transport: testenv.RabbitVhostURL(t), backends: fourBackends("zero")})
	splitTwoHosts(t, d)
	id := d.volumeOn("thin")
	d.stop("cinder-volume-hostB")
	deadline := time.Now().Add(30 * time.Second)
	for !d.serviceDown("hostB@thin2") {
		if time.Now().After(deadline) {
			t.Fatal("hostB@thin2 not reported down 30s after its cinder-volume stopped")
		}
		time.Sleep(500 * time.Millisecond)
	}
	d.migrateFault(id, map[string]any{"host": "hostB@thin2"}, 400, "badRequest", "")
	if v := d.volume(id); v["status"] != "available" || v["migration_status"] != nil {
		t.Fatalf("volume after refused migration: %v", v)
	}
}

// serviceDown reports whether os-services lists the cinder-volume of host as down.
func (d *deployment) serviceDown(host string) bool {
	d.t.Helper()
	for _, s := range d.do("GET", "/admin/os-services?binary=cinder-volume", nil, 200)["services"].([]any) {
		s := s.(map[string]any)
		if s["host"] == host {
			return s["state"] == "down"
		}
	}
	return false
}
