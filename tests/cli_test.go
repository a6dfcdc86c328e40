package tests

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// cinderCLI runs Debian's python-cinderclient CLI against d with noauth.
func cinderCLI(t *testing.T, d *deployment, args ...string) string {
	t.Helper()
	out, err := cinderRun(d, args...)
	if err != nil {
		t.Fatalf("cinder %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// cinderRun runs the cinder CLI as cinderCLI does and returns its output
// and how it failed, if it did.
func cinderRun(d *deployment, args ...string) (string, error) {
	base := []string{"--os-auth-type", "noauth", "--os-user-id", "admin", "--os-project-id", "admin",
		"--os-endpoint", d.endpoint, "--os-volume-api-version", "3.64"}
	out, err := exec.Command("cinder", append(base, args...)...).CombinedOutput()
	return string(out), err
}

// cliField reads a field of a `cinder show`-style table.
func cliField(out, field string) string {
	for _, line := range strings.Split(out, "\n") {
		cols := strings.Split(line, "|")
		if len(cols) >= 3 && strings.TrimSpace(cols[1]) == field {
			return strings.TrimSpace(cols[2])
		}
	}
	return ""
}

func TestCinderCLI(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()

	out := cinderCLI(t, d, "type-create", "fast")
	if !strings.Contains(out, "fast") {
		t.Fatalf("type-create: %s", out)
	}
	cinderCLI(t, d, "type-key", "fast", "set", "volume_backend_name=thin")
	if out := cinderCLI(t, d, "type-list"); !strings.Contains(out, "fast") || !strings.Contains(out, "__DEFAULT__") {
		t.Fatalf("type-list: %s", out)
	}
	if out := cinderCLI(t, d, "extra-specs-list"); !strings.Contains(out, "volume_backend_name") {
		t.Fatalf("extra-specs-list: %s", out)
	}

	out = cinderCLI(t, d, "create", "--name", "clivol", "--volume-type", "fast", "1")
	id := cliField(out, "id")
	if id == "" {
		t.Fatalf("create printed no id: %s", out)
	}
	v := d.waitStatus(id, "available")
	if !strings.HasPrefix(v["os-vol-host-attr:host"].(string), "hostA@thin#") {
		t.Fatalf("volume of type fast not on thin: %v", v)
	}
	if out := cinderCLI(t, d, "list"); !strings.Contains(out, id) || !strings.Contains(out, "clivol") {
		t.Fatalf("list: %s", out)
	}
	if out := cinderCLI(t, d, "show", id); cliField(out, "status") != "available" || cliField(out, "os-vol-host-attr:host") == "" {
		t.Fatalf("show: %s", out)
	}
	cinderCLI(t, d, "extend", id, "2")
	deadline := time.Now().Add(30 * time.Second)
	for cliField(cinderCLI(t, d, "show", id), "size") != "2" {
		if time.Now().After(deadline) {
			t.Fatal("extend not visible in show after 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}

	if out := cinderCLI(t, d, "service-list"); !strings.Contains(out, "cinder-scheduler") ||
		!strings.Contains(out, "hostA@thin") || !strings.Contains(out, "hostA@thick") || strings.Contains(out, "down") {
		t.Fatalf("service-list: %s", out)
	}
	if out := cinderCLI(t, d, "get-pools", "--detail"); !strings.Contains(out, "hostA@thin#") ||
		!strings.Contains(out, "total_capacity_gb") {
		t.Fatalf("get-pools --detail: %s", out)
	}
	out = cinderCLI(t, d, "get-capabilities", "hostA@thick")
	if !strings.Contains(out, "thick") || strings.Contains(out, "sparse_copy_volume") {
		t.Fatalf("get-capabilities: %s", out)
	}

	// cinder migrate: the volume of type fast (volume_backend_name thin) may
	// only go to a backend of that name, so move an untyped one.
	untyped := d.createVolume(1, nil)
	d.waitStatus(untyped, "available")
	dest := "hostA@thick"
	if strings.HasPrefix(d.volume(untyped)["os-vol-host-attr:host"].(string), dest) {
		dest = "hostA@thin"
	}
	cinderCLI(t, d, "migrate", "--force-host-copy", "True", untyped, dest)
	if v := d.waitMigration(untyped); v["migration_status"] != "success" ||
		!strings.HasPrefix(v["os-vol-host-attr:host"].(string), dest+"#") {
		t.Fatalf("cinder migrate: %v", v)
	}
	if out := cinderCLI(t, d, "show", untyped); cliField(out, "os-vol-mig-status-attr:migstat") != "success" {
		t.Fatalf("show after migrate: %s", out)
	}

	cinderCLI(t, d, "delete", id)
	d.waitStatus(id, "deleted")
	if out := cinderCLI(t, d, "list"); strings.Contains(out, id) {
		t.Fatalf("deleted volume still listed: %s", out)
	}
}

// The openstack CLI shows a volume. With --os-auth-type none it sends the
// token "notused", so, as with real Cinder, the endpoint must not name a
// project (the token's project would not match it).
func TestOpenStackCLI(t *testing.T) {
	t.Parallel()
	needProgram(t, "openstack", "the openstack CLI, from python3-openstackclient")
	d := newDeployment(t, setup{})
	d.startAll()
	id := d.createVolume(1, map[string]any{"name": "osc"})
	d.waitStatus(id, "available")
	out, err := exec.Command("openstack", "--os-auth-type", "none", "--os-endpoint", d.endpoint,
		"--os-volume-api-version", "3", "volume", "show", id, "-f", "json").CombinedOutput()
	if err != nil {
		t.Fatalf("openstack volume show: %v\n%s", err, out)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("openstack volume show printed %s", out)
	}
	if v["id"] != id || v["status"] != "available" || v["name"] != "osc" {
		t.Fatalf("openstack volume show: %v", v)
	}
}

// cinder retype: to a type the volume's backend serves, in place; to one
// only another backend serves, refused under the default policy (never) and
// migrated with --migration-policy on-demand.
func TestCinderCLIRetype(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()
	for name, backend := range map[string]string{"thin-a": "thin", "thin-b": "thin", "thick-a": "thick"} {
		cinderCLI(t, d, "type-create", name)
		cinderCLI(t, d, "type-key", name, "set", "volume_backend_name="+backend)
	}
	id := cliField(cinderCLI(t, d, "create", "--volume-type", "thin-a", "1"), "id")
	host := d.waitStatus(id, "available")["os-vol-host-attr:host"]

	// settled waits for the retype to end and returns the volume.
	settled := func() map[string]any {
		var v map[string]any
		waitFor(t, 30*time.Second, "the retype to end", func() bool {
			v = d.volume(id)
			return v["status"] != "retyping" && v["migration_status"] != "starting" &&
				v["migration_status"] != "migrating" && v["migration_status"] != "completing"
		})
		return v
	}
	cinderCLI(t, d, "retype", id, "thin-b")
	if v := settled(); v["status"] != "available" || v["volume_type"] != "thin-b" || v["os-vol-host-attr:host"] != host || v["migration_status"] != nil {
		t.Fatalf("after retype to thin-b: %v; want available, thin-b, on %v, not migrated", v, host)
	}
	cinderCLI(t, d, "retype", id, "thick-a")
	if v := settled(); v["status"] != "available" || v["volume_type"] != "thin-b" || v["os-vol-host-attr:host"] != host {
		t.Fatalf("after retype to thick-a without migration: %v; want available, thin-b, on %v", v, host)
	}
	cinderCLI(t, d, "retype", "--migration-policy", "on-demand", id, "thick-a")
	if v := settled(); v["status"] != "available" || v["volume_type"] != "thick-a" || v["migration_status"] != "success" ||
		!strings.HasPrefix(v["os-vol-host-attr:host"].(string), "hostA@thick#") {
		t.Fatalf("after retype to thick-a on demand: %v; want available, thick-a, migrated to hostA@thick", v)
	}
}
