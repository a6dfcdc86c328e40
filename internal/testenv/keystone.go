package testenv

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder/internal/deploy"
)

// KeystoneServer is Debian's Keystone serving on 127.0.0.1, one per test
// binary run, with its own directory and PostgreSQL database.
type KeystoneServer struct {
	URL            string          // auth_url, http://127.0.0.1:port; the v3 API is below /v3
	AdminPassword  string          // user admin's, admin on project admin
	ServiceProject KeystoneProject // project service
	ServiceUser    KeystoneUser    // user cinder, role service on project service

	adminToken string
	hold       *os.File // the watchdog's standard input, closed when the binary exits
}

// KeystoneProject is a project of domain Default.
type KeystoneProject struct{ ID, Name string }

// KeystoneUser is a user of domain Default and its password.
type KeystoneUser struct{ ID, Name, Password string }

// missing is what keeps Keystone from starting on this machine: a program
// or PostgreSQL. Tests skip on it.
type missing struct{ error }

// client bounds each call to Keystone.
var client = &http.Client{Timeout: 30 * time.Second}

var keystone struct {
	once sync.Once
	k    *KeystoneServer
	err  error
}

// Keystone returns the Keystone of this test binary, starting it on the
// first call (about 15 s); it stops when the binary exits. It needs Debian's
// keystone package and the local PostgreSQL.
func Keystone(t testing.TB) *KeystoneServer {
	t.Helper()
	keystone.once.Do(func() {
		begin := time.Now()
		keystone.k, keystone.err = startKeystone()
		if keystone.err == nil {
			t.Logf("Keystone at %s started in %s", keystone.k.URL, time.Since(begin).Round(time.Second))
		}
	})
	if errors.As(keystone.err, new(missing)) {
		unavailable(t, "Keystone", keystone.err)
	}
	if keystone.err != nil {
		t.Fatalf("start Keystone: %v", keystone.err)
	}
	return keystone.k
}

// keystoneWatch serves Keystone until its standard input, a pipe that the
// test binary holds, closes as the binary exits; then it stops Keystone,
// drops its database and removes its directory.
// Arguments: config file, port, PostgreSQL admin URL, database, directory.
const keystoneWatch = `OS_KEYSTONE_CONFIG_FILES="$1" keystone-wsgi-public --host 127.0.0.1 --port "$2" </dev/null &
cat >/dev/null
kill $!
wait
psql -q "$3" -c "DROP DATABASE IF EXISTS $4 WITH (FORCE)" >/dev/null 2>&1
rm -rf "$5"
`

func startKeystone() (_ *KeystoneServer, err error) {
	if _, err := exec.LookPath("keystone-manage"); err != nil {
		return nil, missing{fmt.Errorf("%w; install Debian's keystone package", err)}
	}
	admin := os.Getenv("CINDER_TEST_POSTGRES_URL")
	if admin == "" {
		admin = "postgresql://postgres@127.0.0.1:5432/postgres"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pg, err := sql.Open("pgx", admin)
	if err == nil {
		err = pg.PingContext(ctx)
	}
	if err != nil {
		return nil, missing{fmt.Errorf("PostgreSQL: %w", err)}
	}
	defer func() { _ = pg.Close() }() // nothing is left to lose
	db := "keystone_test_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	if _, err := pg.ExecContext(ctx, "CREATE DATABASE "+db); err != nil {
		return nil, fmt.Errorf("create Keystone's database: %w", err)
	}
	dir, err := os.MkdirTemp("", "keystone-")
	k := &KeystoneServer{AdminPassword: uuid.NewString()}
	defer func() {
		if err == nil {
			return
		}
		if k.hold != nil { // the watchdog cleans up
			_ = k.hold.Close() // the startup's error is the one to report
			return
		}
		_, _ = pg.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		_ = os.RemoveAll(dir)
	}()
	if err != nil {
		return nil, err
	}
	port, err := deploy.FreePort()
	if err != nil {
		return nil, err
	}
	k.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	conf := filepath.Join(dir, "keystone.conf")
	text := fmt.Sprintf(`[DEFAULT]
log_dir = %[1]s
log_file = keystone.log
[database]
connection = %[2]s/%[3]s
[fernet_tokens]
key_repository = %[1]s/fernet
[credential]
key_repository = %[1]s/cred
[token]
provider = fernet
# The helper's admin token outlives any test run.
expiration = 86400
`, dir, admin[:strings.LastIndex(admin, "/")], db)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	owner := []string{"--keystone-user", "root", "--keystone-group", "root"}
	for _, args := range [][]string{
		{"db_sync"},
		append([]string{"fernet_setup"}, owner...),
		append([]string{"credential_setup"}, owner...),
		{"bootstrap", "--bootstrap-password", k.AdminPassword, "--bootstrap-region-id", "RegionOne",
			"--bootstrap-admin-url", k.URL + "/v3/", "--bootstrap-public-url", k.URL + "/v3/"},
	} {
		cmd := exec.CommandContext(ctx, "keystone-manage", append([]string{"--config-file", conf}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("keystone-manage %s: %w\n%s", args[0], err, out)
		}
	}
	if err := k.serve(conf, port, admin, db, dir); err != nil {
		return nil, err
	}
	if err := k.waitReady(ctx, dir); err != nil {
		return nil, err
	}
	if err := k.createService(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// serve starts Keystone's WSGI server under keystoneWatch, in a process
// group of its own so that an interrupted test run still cleans up.
func (k *KeystoneServer) serve(conf string, port int, admin, db, dir string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer func() { _ = r.Close() }() // the watchdog holds its own copy
	log, err := os.Create(filepath.Join(dir, "keystone-wsgi.log"))
	if err != nil {
		_ = w.Close() // the log's error is the one to report
		return err
	}
	defer func() { _ = log.Close() }() // the watchdog writes through its own copy
	cmd := exec.Command("sh", "-c", keystoneWatch, "keystone", conf, strconv.Itoa(port), admin, db, dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = w.Close() // the start's error is the one to report
		return fmt.Errorf("start Keystone: %w", err)
	}
	k.hold = w
	return nil
}

// waitReady waits until Keystone answers and takes the admin's token.
func (k *KeystoneServer) waitReady(ctx context.Context, dir string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, "GET", k.URL+"/v3", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close() // only the status matters
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-ctx.Done():
			log, _ := os.ReadFile(filepath.Join(dir, "keystone-wsgi.log"))
			return fmt.Errorf("keystone-wsgi-public not answering at %s: %w\n%s", k.URL, ctx.Err(), log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	tok, err := k.issue(ctx, "admin", k.AdminPassword, "admin")
	if err != nil {
		return err
	}
	k.adminToken = tok
	return nil
}

// createService makes the role service, project service and user cinder
// with that role on it, as devstack does for a service's own user.
func (k *KeystoneServer) createService(ctx context.Context) error {
	if err := k.call(ctx, "POST", "/roles", map[string]any{"role": map[string]any{"name": "service"}}, nil, http.StatusCreated); err != nil {
		return err
	}
	p, err := k.createProject(ctx, "service")
	if err != nil {
		return err
	}
	u, err := k.createUser(ctx, p, "cinder", "service")
	if err != nil {
		return err
	}
	k.ServiceProject, k.ServiceUser = p, u
	return nil
}

// CreateProject creates a project of a new name.
func (k *KeystoneServer) CreateProject(t testing.TB) KeystoneProject {
	t.Helper()
	p, err := k.createProject(context.Background(), "project-"+uuid.NewString()[:8])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (k *KeystoneServer) createProject(ctx context.Context, name string) (KeystoneProject, error) {
	var out struct{ Project KeystoneProject }
	err := k.call(ctx, "POST", "/projects", map[string]any{"project": map[string]any{"name": name, "domain_id": "default"}}, &out, http.StatusCreated)
	return out.Project, err
}

// CreateUser creates a user of a new name and password holding role
// (reader, member, admin, service) on project p.
func (k *KeystoneServer) CreateUser(t testing.TB, p KeystoneProject, role string) KeystoneUser {
	t.Helper()
	u, err := k.createUser(context.Background(), p, role+"-"+uuid.NewString()[:8], role)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (k *KeystoneServer) createUser(ctx context.Context, p KeystoneProject, name, role string) (KeystoneUser, error) {
	var roles struct{ Roles []struct{ ID string } }
	if err := k.call(ctx, "GET", "/roles?name="+role, nil, &roles, http.StatusOK); err != nil {
		return KeystoneUser{}, err
	}
	if len(roles.Roles) != 1 {
		return KeystoneUser{}, fmt.Errorf("keystone: no role %q", role)
	}
	var out struct{ User KeystoneUser }
	password := uuid.NewString()
	body := map[string]any{"user": map[string]any{"name": name, "password": password, "domain_id": "default"}}
	if err := k.call(ctx, "POST", "/users", body, &out, http.StatusCreated); err != nil {
		return KeystoneUser{}, err
	}
	out.User.Password = password
	path := fmt.Sprintf("/projects/%s/users/%s/roles/%s", p.ID, out.User.ID, roles.Roles[0].ID)
	return out.User, k.call(ctx, "PUT", path, nil, nil, http.StatusNoContent)
}

// RegisterVolumeService adds the volume API at url, as Cinder names it
// (.../v3/%(project_id)s), to the catalog under the types block-storage and
// volumev3, with public, internal and admin endpoints, until t ends.
func (k *KeystoneServer) RegisterVolumeService(t testing.TB, url string) {
	t.Helper()
	ctx := context.Background()
	for _, s := range [][2]string{{"block-storage", "cinder"}, {"volumev3", "cinderv3"}} {
		var out struct{ Service struct{ ID string } }
		body := map[string]any{"service": map[string]any{"type": s[0], "name": s[1]}}
		if err := k.call(ctx, "POST", "/services", body, &out, http.StatusCreated); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // its endpoints go with it
			if err := k.call(context.Background(), "DELETE", "/services/"+out.Service.ID, nil, nil, http.StatusNoContent); err != nil {
				t.Error(err)
			}
		})
		for _, iface := range []string{"public", "internal", "admin"} {
			body := map[string]any{"endpoint": map[string]any{
				"service_id": out.Service.ID, "interface": iface, "url": url, "region_id": "RegionOne"}}
			if err := k.call(ctx, "POST", "/endpoints", body, nil, http.StatusCreated); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// RevokeToken revokes token at Keystone (DELETE /v3/auth/tokens).
func (k *KeystoneServer) RevokeToken(t testing.TB, token string) {
	t.Helper()
	req, err := k.request(context.Background(), "DELETE", "/auth/tokens", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Subject-Token", token)
	if _, _, err := send(req, http.StatusNoContent); err != nil {
		t.Fatal(err)
	}
}

// issue returns a token of user, by name, scoped to project, by name.
func (k *KeystoneServer) issue(ctx context.Context, user, password, project string) (string, error) {
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": user, "password": password, "domain": map[string]any{"id": "default"}}}},
		"scope": map[string]any{"project": map[string]any{"name": project, "domain": map[string]any{"id": "default"}}},
	}}
	req, err := k.request(ctx, "POST", "/auth/tokens", body)
	if err != nil {
		return "", err
	}
	h, _, err := send(req, http.StatusCreated)
	if err != nil {
		return "", err
	}
	return h.Get("X-Subject-Token"), nil
}

// call sends method path (below /v3) as the admin, body as JSON unless nil,
// expects status want and decodes the answer into out unless nil.
func (k *KeystoneServer) call(ctx context.Context, method, path string, body, out any, want int) error {
	req, err := k.request(ctx, method, path, body)
	if err != nil {
		return err
	}
	_, raw, err := send(req, want)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("keystone: %s %s: %w", method, path, err)
	}
	return nil
}

// request makes a request of method path (below /v3) with the admin's
// token, once there is one.
func (k *KeystoneServer) request(ctx context.Context, method, path string, body any) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("keystone: %s %s: %w", method, path, err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.URL+"/v3"+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if k.adminToken != "" {
		req.Header.Set("X-Auth-Token", k.adminToken)
	}
	return req, nil
}

// send sends req, expects status want and returns the answer's headers and body.
func send(req *http.Request, want int) (http.Header, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("keystone: %w", err)
	}
	defer func() { _ = resp.Body.Close() }() // read-only: nothing to lose
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("keystone: %s %s: read answer: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != want {
		return nil, nil, fmt.Errorf("keystone: %s %s: status %d, want %d: %s", req.Method, req.URL.Path, resp.StatusCode, want, raw)
	}
	return resp.Header, raw, nil
}
