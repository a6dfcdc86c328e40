package identity

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder/internal/testenv"
)

// openstack runs the openstack CLI against srv's /identity/v3 as admin,
// decoding its JSON output into v.
func openstack(t *testing.T, srv *httptest.Server, v any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openstack", append([]string{
		"--os-auth-url", srv.URL + "/identity/v3", "--os-identity-api-version", "3",
		"--os-username", "admin", "--os-password", "secret", "--os-project-name", "admin",
		"--os-user-domain-name", "Default", "--os-project-domain-name", "Default",
	}, append(args, "-f", "json")...)...)
	// Only this test's settings: no OS_* variable, no clouds.yaml of the user.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "OS_") || strings.HasPrefix(kv, "HOME=")
	})
	cmd.Env = append(cmd.Env, "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("openstack %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("openstack %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestOpenstackCLI drives the handler with the real openstack CLI
// (Debian's python3-openstackclient), as the embedded default serves it.
func TestOpenstackCLI(t *testing.T) {
	if _, err := exec.LookPath("openstack"); err != nil {
		if testenv.Required() {
			t.Fatalf("the openstack CLI is required (CINDER_TEST_REQUIRE_SERVICES=1): %v", err)
		}
		t.Skipf("SKIP: no openstack CLI (%v): apt-get install python3-openstackclient, or set CINDER_TEST_REQUIRE_SERVICES=1 to make this fail", err)
	}
	d, err := Load("../etc/cinder/identity.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(d, Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, h)

	var tok struct {
		ID        string `json:"id"`
		ProjectID string `json:"project_id"`
		UserID    string `json:"user_id"`
		Expires   string `json:"expires"`
	}
	openstack(t, srv, &tok, "token", "issue")
	if tok.ID == "" || tok.ProjectID == "" || tok.UserID == "" || tok.Expires == "" {
		t.Fatalf("token issue: %+v", tok)
	}

	var catalog []struct {
		Name      string `json:"Name"`
		Type      string `json:"Type"`
		Endpoints []struct {
			Interface string `json:"interface"`
			URL       string `json:"url"`
		} `json:"Endpoints"`
	}
	openstack(t, srv, &catalog, "catalog", "list")
	volume := srv.URL + "/v3/" + tok.ProjectID
	found := map[string]int{}
	for _, s := range catalog {
		for _, e := range s.Endpoints {
			if e.URL == volume {
				found[s.Type]++
			}
		}
	}
	if found["volumev3"] != 3 || found["block-storage"] != 3 {
		t.Errorf("catalog list: %+v; want volumev3 and block-storage at %s", catalog, volume)
	}

	// The identity API through the catalog's identity endpoint.
	var project struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	openstack(t, srv, &project, "project", "show", "admin")
	if project.ID != tok.ProjectID {
		t.Errorf("project show admin: %+v, want id %s", project, tok.ProjectID)
	}
	var assignments []struct {
		Role    string `json:"Role"`
		User    string `json:"User"`
		Project string `json:"Project"`
	}
	openstack(t, srv, &assignments, "role", "assignment", "list", "--user", "demo", "--names")
	if len(assignments) != 1 || assignments[0].Role != "member" || assignments[0].Project != "demo@Default" {
		t.Errorf("role assignment list --user demo --names: %+v", assignments)
	}
}
