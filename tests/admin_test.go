package tests

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cinder-go/cinder/db"
)

// cinderAs runs Debian's cinder CLI as user:project (noauth) at
// microversion version; it returns the output and whether the CLI
// succeeded.
func cinderAs(t *testing.T, d *deployment, project, version string, args ...string) (string, bool) {
	t.Helper()
	base := []string{"--os-auth-type", "noauth", "--os-user-id", "u-" + project, "--os-project-id", project,
		"--os-endpoint", d.endpoint, "--os-volume-api-version", version}
	out, err := exec.Command("cinder", append(base, args...)...).CombinedOutput()
	return string(out), err == nil
}

// mustCinder is cinderAs that fails the test when the CLI fails.
func mustCinder(t *testing.T, d *deployment, project, version string, args ...string) string {
	t.Helper()
	out, ok := cinderAs(t, d, project, version, args...)
	if !ok {
		t.Fatalf("cinder %s: %s", strings.Join(args, " "), out)
	}
	return out
}

// listRow returns the cells of the row of a `cinder …-list` table whose
// cells include key, or nil.
func listRow(out, key string) []string {
	for _, line := range strings.Split(out, "\n") {
		var cells []string
		for _, c := range strings.Split(line, "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		for _, c := range cells {
			if c == key {
				return cells
			}
		}
	}
	return nil
}

// TestCinderCLITransfers drives volume transfers with Debian's cinder CLI
// between two projects: the volume and its snapshot change hands with the
// key, a wrong key is refused, and a withdrawn transfer leaves the volume
// available to its owner.
func TestCinderCLITransfers(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()

	vol := cliField(mustCinder(t, d, "admin", "3.57", "create", "--name", "gift", "1"), "id")
	d.waitStatus(vol, "available")
	snap := cliField(mustCinder(t, d, "admin", "3.57", "snapshot-create", "--name", "s", vol), "id")
	d.waitSnapshot(snap, "available")

	out := mustCinder(t, d, "admin", "3.57", "transfer-create", "--name", "t1", vol)
	id, key := cliField(out, "id"), cliField(out, "auth_key")
	if len(key) != 16 || cliField(out, "volume_id") != vol || cliField(out, "name") != "t1" ||
		cliField(out, "source_project_id") != "admin" || cliField(out, "accepted") != "False" || cliField(out, "no_snapshots") != "False" {
		t.Fatalf("transfer-create:\n%s", out)
	}
	if got := cliField(mustCinder(t, d, "admin", "3.57", "show", vol), "status"); got != "awaiting-transfer" {
		t.Fatalf("volume %s after transfer-create", got)
	}
	if row := listRow(mustCinder(t, d, "admin", "3.57", "transfer-list"), id); len(row) < 4 || row[2] != vol || row[3] != "t1" {
		t.Fatalf("transfer-list row %q", row)
	}
	if row := listRow(mustCinder(t, d, "demo", "3.57", "transfer-list"), id); row != nil {
		t.Fatalf("demo lists another project's transfer: %q", row)
	}
	if out := mustCinder(t, d, "admin", "3.3", "transfer-show", id); cliField(out, "volume_id") != vol || cliField(out, "auth_key") != "" {
		t.Fatalf("transfer-show (legacy route):\n%s", out)
	}

	if out, ok := cinderAs(t, d, "demo", "3.57", "transfer-accept", id, "0123456789abcdef"); ok || !strings.Contains(out, "Invalid auth key") {
		t.Fatalf("transfer-accept with a wrong key: %s", out)
	}
	out = mustCinder(t, d, "demo", "3.57", "transfer-accept", id, key)
	if cliField(out, "id") != id || cliField(out, "volume_id") != vol {
		t.Fatalf("transfer-accept:\n%s", out)
	}
	out = mustCinder(t, d, "demo", "3.57", "show", vol)
	if cliField(out, "status") != "available" || cliField(out, "os-vol-tenant-attr:tenant_id") != "demo" || cliField(out, "user_id") != "u-demo" {
		t.Fatalf("volume after accept:\n%s", out)
	}
	if out := mustCinder(t, d, "demo", "3.57", "snapshot-show", snap); cliField(out, "os-extended-snapshot-attributes:project_id") != "demo" {
		t.Fatalf("snapshot after accept:\n%s", out)
	}
	if out, ok := cinderAs(t, d, "admin", "3.57", "transfer-show", id); ok || !strings.Contains(out, "No volumetransfer with a name or ID") {
		t.Fatalf("transfer-show of an accepted transfer: %s", out)
	}

	// Back to admin without the snapshot, then withdrawn: available again.
	out = mustCinder(t, d, "demo", "3.57", "transfer-create", "--no-snapshots", vol)
	id = cliField(out, "id")
	if cliField(out, "no_snapshots") != "True" {
		t.Fatalf("transfer-create --no-snapshots:\n%s", out)
	}
	mustCinder(t, d, "demo", "3.57", "transfer-delete", id)
	if out := mustCinder(t, d, "demo", "3.57", "show", vol); cliField(out, "status") != "available" {
		t.Fatalf("volume after transfer-delete:\n%s", out)
	}
	if row := listRow(mustCinder(t, d, "demo", "3.57", "transfer-list"), id); row != nil {
		t.Fatalf("deleted transfer listed: %q", row)
	}
}

// TestCinderCLITransferEncrypted: a volume of an encrypted type, with a
// snapshot, is refused by transfer-create before 3.70 with Cinder's
// message and given with its snapshot from 3.70; the recipient sees it
// encrypted, its encryption key id unchanged (ConfKeyManager's fixed key).
func TestCinderCLITransferEncrypted(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()
	mustCinder(t, d, "admin", "3.70", "type-create", "secret")
	mustCinder(t, d, "admin", "3.70", "encryption-type-create", "--cipher", "aes-xts-plain64", "--key-size", "256",
		"--control-location", "front-end", "secret", "luks")
	vol := cliField(mustCinder(t, d, "admin", "3.70", "create", "--volume-type", "secret", "--name", "sealed", "1"), "id")
	d.waitStatus(vol, "available")
	snap := cliField(mustCinder(t, d, "admin", "3.70", "snapshot-create", vol), "id")
	d.waitSnapshot(snap, "available")
	keyOf := func() any { return d.do("GET", "/admin/volumes/"+vol+"/encryption", nil, 200)["encryption_key_id"] }
	key := keyOf()
	if key == nil {
		t.Fatal("an encrypted volume without an encryption key id")
	}

	if out, ok := cinderAs(t, d, "admin", "3.69", "transfer-create", vol); ok || !strings.Contains(out, "transferring encrypted volume is not supported") {
		t.Fatalf("transfer-create at 3.69: %s", out)
	}
	if out, ok := cinderAs(t, d, "admin", "3.70", "transfer-create", "--no-snapshots", vol); ok ||
		!strings.Contains(out, "transferring an encrypted volume without its snapshots is not supported") {
		t.Fatalf("transfer-create --no-snapshots at 3.70: %s", out)
	}
	if got := cliField(mustCinder(t, d, "admin", "3.70", "show", vol), "status"); got != "available" {
		t.Fatalf("volume %s after refused transfers", got)
	}
	out := mustCinder(t, d, "admin", "3.70", "transfer-create", vol)
	mustCinder(t, d, "demo", "3.70", "transfer-accept", cliField(out, "id"), cliField(out, "auth_key"))
	out = mustCinder(t, d, "demo", "3.70", "show", vol)
	if cliField(out, "os-vol-tenant-attr:tenant_id") != "demo" || cliField(out, "encrypted") != "True" || cliField(out, "status") != "available" {
		t.Fatalf("volume after accept:\n%s", out)
	}
	if out := mustCinder(t, d, "demo", "3.70", "snapshot-show", snap); cliField(out, "os-extended-snapshot-attributes:project_id") != "demo" {
		t.Fatalf("snapshot after accept:\n%s", out)
	}
	if got := keyOf(); got != key {
		t.Fatalf("encryption key id after accept: %v, was %v", got, key)
	}
}

// TestCinderCLIAdmin drives the admin infrastructure with Debian's cinder
// CLI against cinder-all: service-disable with a reason and enable,
// freeze-host (the backend disables itself as frozen and refuses deletes)
// and thaw-host, cluster-list, work-cleanup recovering a volume a backend
// left creating; /os-hosts, which the CLI no longer has, and
// os-extend_volume_completion (3.71, past the CLI) over REST.
func TestCinderCLIAdmin(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()
	admin := func(version string, args ...string) string { return mustCinder(t, d, "admin", version, args...) }

	out := admin("3.64", "service-disable", "--reason", "maintenance window", "hostA@thin", "cinder-volume")
	if row := listRow(out, "hostA@thin"); len(row) < 5 || row[3] != "disabled" || row[4] != "maintenance window" {
		t.Fatalf("service-disable: %q\n%s", row, out)
	}
	if row := listRow(admin("3.64", "service-list"), "hostA@thin"); len(row) < 9 || row[4] != "disabled" || row[8] != "maintenance window" {
		t.Fatalf("service-list after disable: %q", row)
	}
	hosts := d.do("GET", "/admin/os-hosts", nil, 200)["hosts"].([]any)
	for _, h := range hosts {
		if h.(map[string]any)["host_name"] == "hostA@thin" {
			t.Fatalf("os-hosts lists the disabled backend: %v", hosts)
		}
	}
	// Enabled again; as Cinder's, the reason stays until another is given.
	admin("3.64", "service-enable", "hostA@thin", "cinder-volume")
	if row := listRow(admin("3.64", "service-list"), "hostA@thin"); len(row) < 9 || row[4] != "enabled" || row[8] != "maintenance window" {
		t.Fatalf("service-list after enable: %q", row)
	}

	vol := cliField(admin("3.64", "create", "--name", "frozen-in", "1"), "id")
	host, _, _ := strings.Cut(hostOfVolume(d.waitStatus(vol, "available")), "#")
	admin("3.64", "freeze-host", host)
	if row := listRow(admin("3.64", "service-list"), host); len(row) < 9 || row[4] != "disabled" || row[8] != "frozen" {
		t.Fatalf("service-list after freeze-host: %q", row)
	}
	if frozen := d.serviceField(host, "frozen"); frozen != true {
		t.Fatalf("os-services frozen %v", frozen)
	}
	if out, ok := cinderAs(t, d, "admin", "3.64", "delete", vol); ok || !strings.Contains(out, "frozen storage backends") {
		t.Fatalf("delete on a frozen backend: %s", out)
	}
	if got := cliField(admin("3.64", "show", vol), "status"); got != "available" {
		t.Fatalf("volume %s after a refused delete", got)
	}
	admin("3.64", "thaw-host", host)
	if row := listRow(admin("3.64", "service-list"), host); len(row) < 9 || row[4] != "enabled" {
		t.Fatalf("service-list after thaw-host: %q", row)
	}

	out = admin("3.64", "cluster-list", "--detailed")
	if !strings.Contains(out, "Num Hosts") || strings.Count(out, "\n|") != 1 {
		t.Fatalf("cluster-list with no clusters (a header, no row):\n%s", out)
	}
	if _, ok := cinderAs(t, d, "admin", "3.64", "cluster-show", "nope"); ok {
		t.Fatal("cluster-show of no cluster succeeded")
	}

	// A volume its backend left creating (as a crash would) is recovered by
	// a cleanup of that backend, which is up: it goes to error.
	admin("3.64", "reset-state", "--state", "creating", vol)
	out = admin("3.64", "work-cleanup", "--host", host, "--is-up", "true", "--binary", "cinder-volume")
	if !strings.Contains(out, "Following services will be cleaned:") || listRow(out, host) == nil {
		t.Fatalf("work-cleanup:\n%s", out)
	}
	d.waitStatusAny(vol, "error")
	if out := admin("3.64", "work-cleanup"); !strings.Contains(out, "No cleanable services matched cleanup criteria.") {
		t.Fatalf("work-cleanup of services down, with none down:\n%s", out)
	}

	// An extend that awaits its completion ends at the size it waited for.
	vol = cliField(admin("3.64", "create", "--name", "extended", "1"), "id")
	d.waitStatus(vol, "available")
	admin("3.64", "reset-state", "--state", "extending", vol)
	store, err := db.Open(context.Background(), "sqlite:///"+filepath.Join(d.dir, "cinder.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	}()
	if err := store.SetVolumeAdminMetadata(context.Background(), vol, "extend_new_size", "3"); err != nil {
		t.Fatal(err)
	}
	if code := d.post371("/admin/volumes/"+vol+"/action", `{"os-extend_volume_completion": {"error": false}}`); code != 202 {
		t.Fatalf("os-extend_volume_completion: %d", code)
	}
	v := d.waitStatus(vol, "available")
	if out := admin("3.64", "show", vol); v["size"] != 3.0 || cliField(out, "size") != "3" {
		t.Fatalf("volume after the extend completed: %v\n%s", v, out)
	}
	if fi, err := os.Stat(devicePath(t, d, vol)); err != nil || fi.Size() != 3<<30 {
		t.Fatalf("storage after the extend completed: %v, %v", fi, err)
	}
}

// serviceField is field of the os-services entry of host.
func (d *deployment) serviceField(host, field string) any {
	d.t.Helper()
	for _, s := range d.do("GET", "/admin/os-services?host="+host, nil, 200)["services"].([]any) {
		if svc := s.(map[string]any); svc["host"] == host {
			return svc[field]
		}
	}
	d.t.Fatalf("no service on %s", host)
	return nil
}

// post371 posts body to path as admin at microversion 3.71 and returns the status.
func (d *deployment) post371(path, body string) int {
	d.t.Helper()
	req, err := http.NewRequest("POST", d.endpoint+path, bytes.NewBufferString(body))
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", "admin:admin")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("OpenStack-API-Version", "volume 3.71")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	_ = resp.Body.Close() // only the status matters
	return resp.StatusCode
}
