package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMakeRunWithPassword starts cinder-all with the embedded default's
// own cinder.conf (make run's; only its port, state path and file paths
// moved) and drives it with Debian's openstack CLI and a password: the
// embedded identity endpoint issues the token, cinder-api validates it
// there and Cinder's policy decides.
func TestMakeRunWithPassword(t *testing.T) {
	needProgram(t, "openstack", "the openstack CLI, from python3-openstackclient")
	d := newDeployment(t, setup{})
	base, err := filepath.Abs("../etc/cinder/cinder.conf")
	if err != nil {
		t.Fatal(err)
	}
	port := strings.TrimSuffix(strings.TrimPrefix(d.endpoint, "http://127.0.0.1:"), "/v3")
	authURL := "http://127.0.0.1:" + port + "/identity/v3"
	override := filepath.Join(d.dir, "override.conf")
	err = os.WriteFile(override, []byte(fmt.Sprintf(`[DEFAULT]
state_path = %s
osapi_volume_listen_port = %s
backend_stats_polling_interval = 3
[identity]
data_file = %s
[keystone_authtoken]
www_authenticate_uri = %s
auth_url = %s
`, d.dir, port, filepath.Join(filepath.Dir(base), "identity.yaml"), authURL, authURL)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d.startFiles("cinder-all", "cinder-all", base, override)

	as := func(user string, args ...string) (string, error) {
		cmd := exec.Command("openstack", append([]string{"--os-auth-url", authURL, "--os-username", user,
			"--os-password", "secret", "--os-project-name", user, "--os-volume-api-version", "3.64"}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := func(user string, args ...string) string {
		t.Helper()
		out, err := as(user, args...)
		if err != nil {
			t.Fatalf("openstack %s as %s: %v\n%s", strings.Join(args, " "), user, err, out)
		}
		return strings.TrimSpace(out)
	}
	waitFor(t, 30*time.Second, "cinder-api to answer", func() bool { _, err := as("admin", "token", "issue"); return err == nil })

	id := must("demo", "volume", "create", "--size", "1", "demo-vol", "-f", "value", "-c", "id")
	waitFor(t, 30*time.Second, "volume "+id+" available", func() bool {
		return must("demo", "volume", "show", id, "-f", "value", "-c", "status") == "available"
	})
	if out := must("demo", "volume", "list", "-f", "value", "-c", "ID"); !strings.Contains(out, id) {
		t.Fatalf("demo's list lacks %s: %s", id, out)
	}
	if out := must("alt_demo", "volume", "list", "-f", "value", "-c", "ID"); strings.Contains(out, id) {
		t.Fatalf("another project sees demo's volume: %s", out)
	}
	if out, err := as("demo", "volume", "service", "list"); err == nil ||
		!strings.Contains(out, "Policy doesn't allow volume_extension:services:index to be performed.") {
		t.Fatalf("a member listed services: %v\n%s", err, out)
	}
	if out := must("admin", "volume", "service", "list", "-f", "value", "-c", "Binary"); !strings.Contains(out, "cinder-volume") {
		t.Fatalf("admin's service list: %s", out)
	}
	if out, err := as("demo", "--os-password", "wrong", "volume", "list"); err == nil || !strings.Contains(out, "401") {
		t.Fatalf("a wrong password listed volumes: %v\n%s", err, out)
	}
	must("demo", "volume", "delete", id)
	waitFor(t, 30*time.Second, "volume "+id+" deleted", func() bool {
		return !strings.Contains(must("demo", "volume", "list", "-f", "value", "-c", "ID"), id)
	})
}
