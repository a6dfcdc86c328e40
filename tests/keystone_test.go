package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder/internal/testenv"
)

// tokenCacheTime is cinder-api's token_cache_time in TestKeystone: how long
// a revoked token keeps working.
const tokenCacheTime = 5 * time.Second

// keystoneOverride is the cinder.conf part that puts cinder-api behind ks
// (auth_strategy = keystone), logging in as ks's service user.
func keystoneOverride(ks *testenv.KeystoneServer) string {
	return fmt.Sprintf(`[DEFAULT]
auth_strategy = keystone

[keystone_authtoken]
www_authenticate_uri = %[1]s/v3
auth_url = %[1]s
username = %[2]s
password = %[3]s
project_name = %[4]s
user_domain_name = Default
project_domain_name = Default
token_cache_time = %[5]d
`, ks.URL, ks.ServiceUser.Name, ks.ServiceUser.Password, ks.ServiceProject.Name, int(tokenCacheTime.Seconds()))
}

// osc runs the openstack CLI as u on project p, authenticated at ks, and
// returns its output.
func osc(t *testing.T, ks *testenv.KeystoneServer, u testenv.KeystoneUser, p testenv.KeystoneProject, args ...string) string {
	t.Helper()
	base := []string{"--os-auth-url", ks.URL + "/v3", "--os-username", u.Name, "--os-password", u.Password,
		"--os-project-name", p.Name, "--os-user-domain-name", "Default", "--os-project-domain-name", "Default",
		"--os-volume-api-version", "3"}
	cmd := exec.Command("openstack", append(base, args...)...)
	// python3-openstackclient 6's volume create makes an image client even
	// without --image, which fails on a cloud without an image service:
	// openstacksdk's has_image, false in the cloud of the environment
	// (OS_CLOUD=envvars), says there is none.
	cmd.Env = append(os.Environ(), "OS_CLOUD=envvars", "OS_HAS_IMAGE=")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			stderr = exit.Stderr
		}
		t.Fatalf("openstack %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

// oscJSON is osc with -f json, decoding the output into out.
func oscJSON(t *testing.T, ks *testenv.KeystoneServer, u testenv.KeystoneUser, p testenv.KeystoneProject, out any, args ...string) {
	t.Helper()
	raw := osc(t, ks, u, p, append(args, "-f", "json")...)
	if err := json.Unmarshal([]byte(raw), out); err != nil {
		t.Fatalf("openstack %s printed %q: %v", strings.Join(args, " "), raw, err)
	}
}

// cliToken issues a token of u on p with `openstack token issue`.
func cliToken(t *testing.T, ks *testenv.KeystoneServer, u testenv.KeystoneUser, p testenv.KeystoneProject) string {
	t.Helper()
	return strings.TrimSpace(osc(t, ks, u, p, "token", "issue", "-f", "value", "-c", "id"))
}

// cinder-api behind a real Keystone (Debian's keystone package): the
// openstack CLI finds the volume API in the catalog and drives it, the
// policy tells a member from an admin, and a revoked token stops working
// once token_cache_time has passed.
func TestKeystone(t *testing.T) {
	needProgram(t, "openstack", "the openstack CLI, from python3-openstackclient")
	ks := testenv.Keystone(t)
	p := ks.CreateProject(t)
	admin := ks.CreateUser(t, p, "admin")
	member := ks.CreateUser(t, p, "member")

	d := newDeployment(t, setup{})
	d.startAs("cinder-all", "cinder-all", keystoneOverride(ks))
	ks.RegisterVolumeService(t, d.endpoint+"/%(project_id)s")

	var svc struct {
		Endpoints []struct{ URL string }
	}
	oscJSON(t, ks, member, p, &svc, "catalog", "show", "volumev3")
	if !slices.ContainsFunc(svc.Endpoints, func(e struct{ URL string }) bool { return e.URL == d.endpoint+"/"+p.ID }) {
		t.Fatalf("catalog's volumev3 endpoints %v, want %s/%s", svc.Endpoints, d.endpoint, p.ID)
	}

	adminToken := cliToken(t, ks, admin, p)
	memberToken := cliToken(t, ks, member, p)
	get := func(token, path string) (int, map[string]any) {
		t.Helper()
		code, out, err := d.tryWith(http.DefaultClient, token, "GET", path, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return code, out
	}
	waitFor(t, 30*time.Second, "cinder-all ready behind Keystone", func() bool {
		code, out, err := d.tryWith(http.DefaultClient, adminToken, "GET", "/scheduler-stats/get_pools", nil)
		pools, _ := out["pools"].([]any)
		return err == nil && code == http.StatusOK && len(pools) >= d.backends
	})

	var created struct{ ID string }
	oscJSON(t, ks, member, p, &created, "volume", "create", "--size", "1", "keystone-vol")
	volume := "/" + p.ID + "/volumes/" + created.ID
	status := func() any {
		_, out := get(memberToken, volume)
		v, _ := out["volume"].(map[string]any)
		return v["status"]
	}
	waitFor(t, 60*time.Second, "the volume available", func() bool { return status() == "available" })
	var listed []struct{ ID string }
	oscJSON(t, ks, member, p, &listed, "volume", "list")
	if !slices.Contains(listed, struct{ ID string }{created.ID}) {
		t.Fatalf("volume list %v lacks %s", listed, created.ID)
	}

	reset := map[string]any{"os-reset_status": map[string]any{"status": "error"}}
	code, out, err := d.tryWith(http.DefaultClient, memberToken, "POST", volume+"/action", reset)
	if err != nil {
		t.Fatal(err)
	}
	const denied = "Policy doesn't allow volume_extension:volume_admin_actions:reset_status to be performed."
	if f, _ := out["forbidden"].(map[string]any); code != http.StatusForbidden || f["message"] != denied {
		t.Fatalf("member's os-reset_status: %d %v, want 403 %q", code, out, denied)
	}
	if code, out, err := d.tryWith(http.DefaultClient, adminToken, "POST", volume+"/action", reset); err != nil || code != http.StatusAccepted {
		t.Fatalf("admin's os-reset_status: %d %v %v, want 202", code, out, err)
	}
	if st := status(); st != "error" {
		t.Fatalf("status after the admin's reset: %v, want error", st)
	}
	osc(t, ks, member, p, "volume", "delete", created.ID)
	waitFor(t, 60*time.Second, "the volume deleted", func() bool {
		code, _ := get(memberToken, volume)
		return code == http.StatusNotFound
	})

	// A revoked token: answered from cinder-api's cache until token_cache_time
	// after its first use, refused once Keystone is asked again.
	revoked := cliToken(t, ks, member, p)
	first := time.Now()
	if code, out := get(revoked, "/"+p.ID+"/volumes"); code != http.StatusOK {
		t.Fatalf("fresh token: %d %v", code, out)
	}
	ks.RevokeToken(t, revoked)
	var served int
	waitFor(t, tokenCacheTime+30*time.Second, "the revoked token refused", func() bool {
		code, out := get(revoked, "/"+p.ID+"/volumes")
		switch {
		case code == http.StatusOK:
			served++
			return false
		case code == http.StatusUnauthorized && time.Since(first) < tokenCacheTime:
			t.Fatalf("revoked token refused %s after its first use, before token_cache_time (%s)", time.Since(first), tokenCacheTime)
		case code != http.StatusUnauthorized:
			t.Fatalf("revoked token: %d %v, want 200 then 401", code, out)
		}
		return true
	})
	if served == 0 {
		t.Fatalf("revoked token refused at once, not served from the cache for token_cache_time (%s)", tokenCacheTime)
	}
}
