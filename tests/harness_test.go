// Package tests starts real Cinder processes (cinder-all, or cinder-api,
// cinder-scheduler and cinder-volume apart) and drives them over REST, with
// real clients, RabbitMQ, SQLite and PostgreSQL.
package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder/internal/deploy"
	"github.com/cinder-go/cinder/internal/proc"
	"github.com/cinder-go/cinder/internal/testenv"
)

// binDir holds the binaries built once for the whole test run.
var binDir string

// TestMain builds the binaries once for every test.
//
// Tests that stop RabbitMQ, kill processes on a timer, fill a disk or drive
// load stay serial: go test runs them first, alone. Every other test calls
// t.Parallel; each has its own state directory, port, control_exchange and
// PostgreSQL database, so they share nothing but the machine.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cinder-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cmd := exec.Command("go", "build", "-o", dir+"/", "../cmd/...")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		os.Exit(1)
	}
	binDir = dir
	m.Run()
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "remove binaries:", err)
	}
}

// needProgram skips t when program, needed for what, is not installed, or
// fails it when the suites are required (CINDER_TEST_REQUIRE_SERVICES=1).
func needProgram(t *testing.T, program, what string) {
	t.Helper()
	if _, err := exec.LookPath(program); err == nil {
		return
	}
	if testenv.Required() {
		t.Fatalf("%s is required: %s", program, what)
	}
	t.Skipf("SKIP: %s not installed: %s", program, what)
}

// setup describes one deployment's cinder.conf.
type setup struct {
	transport string            // transport_url; default fake://
	database  string            // [database] connection; default SQLite under state_path
	dbOptions string            // more [database] lines, with database
	exchange  string            // control_exchange; default a unique one per deployment
	backends  map[string]string // section name → extra lines, enabled in name order; default thin and thick
	extra     string            // extra [DEFAULT] lines
}

// deployment is a running set of Cinder processes sharing one cinder.conf.
type deployment struct {
	t        testing.TB
	dir      string
	conf     string
	exchange string // control_exchange
	backends int
	endpoint string // http://127.0.0.1:port/v3
	mu       sync.Mutex
	procs    map[string]*exec.Cmd
}

// newDeployment writes cinder.conf for s into a temp dir; nothing runs yet.
func newDeployment(t testing.TB, s setup) *deployment {
	t.Helper()
	dir := t.TempDir()
	port, err := deploy.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if s.transport == "" {
		s.transport = "fake://"
	}
	if s.exchange == "" {
		s.exchange = "cinder-test-" + uuid.NewString()[:8]
	}
	if s.backends == nil {
		s.backends = map[string]string{
			"thin":  "volume_driver = thin\n",
			"thick": "volume_driver = thick\nvolume_clear = zero\n",
		}
	}
	c := deploy.Conf{
		StatePath:       dir,
		Transport:       s.transport,
		Exchange:        s.exchange,
		Port:            port,
		Default:         "report_interval = 1\nservice_down_time = 10\nbackend_stats_polling_interval = 3\nrpc_response_timeout = 10\n" + s.extra,
		Database:        s.database,
		DatabaseOptions: s.dbOptions,
	}
	for _, name := range slices.Sorted(maps.Keys(s.backends)) {
		c.Backends = append(c.Backends, deploy.Backend{Name: name, Options: s.backends[name]})
	}
	conf := filepath.Join(dir, "cinder.conf")
	if err := c.Write(conf); err != nil {
		t.Fatal(err)
	}
	d := &deployment{t: t, dir: dir, conf: conf, exchange: s.exchange, backends: len(c.Backends), endpoint: fmt.Sprintf("http://127.0.0.1:%d/v3", port), procs: map[string]*exec.Cmd{}}
	t.Cleanup(d.stopAll)
	return d
}

// start runs binary (cinder-all, cinder-api, …) with the deployment's
// cinder.conf, logging to dir/<binary>.log.
func (d *deployment) start(binary string) {
	d.t.Helper()
	d.startAs(binary, binary, "")
}

// startAs runs binary under name (its log is dir/<name>.log) with the
// deployment's cinder.conf and then, when override is not empty, a second
// file holding override, whose options win as oslo.config's later files do.
func (d *deployment) startAs(name, binary, override string) {
	d.t.Helper()
	files := []string{d.conf}
	if override != "" {
		p := filepath.Join(d.dir, name+".conf")
		if err := os.WriteFile(p, []byte(override), 0o644); err != nil {
			d.t.Fatal(err)
		}
		files = append(files, p)
	}
	d.startFiles(name, binary, files...)
}

// startFiles runs binary under name (its log is dir/<name>.log) with files
// as its --config-file options, in order.
func (d *deployment) startFiles(name, binary string, files ...string) {
	d.t.Helper()
	args := []string{"--debug"}
	for _, f := range files {
		args = append(args, "--config-file", f)
	}
	cmd, err := proc.Start(filepath.Join(binDir, binary), filepath.Join(d.dir, name+".log"), args...)
	if err != nil {
		d.t.Fatalf("start %s: %v", name, err)
	}
	d.mu.Lock()
	d.procs[name] = cmd
	d.mu.Unlock()
}

// stop ends the process started as name with SIGTERM (SIGKILL after 10 s)
// and waits for it.
func (d *deployment) stop(name string) {
	d.mu.Lock()
	cmd := d.procs[name]
	delete(d.procs, name)
	d.mu.Unlock()
	if cmd != nil {
		proc.Stop(cmd, 10*time.Second)
	}
}

// signal sends sig to the process started as name (SIGSTOP, SIGCONT, …).
func (d *deployment) signal(name string, sig syscall.Signal) {
	d.t.Helper()
	d.mu.Lock()
	cmd := d.procs[name]
	d.mu.Unlock()
	if cmd == nil {
		d.t.Fatalf("signal %v: no process %s", sig, name)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		d.t.Fatalf("signal %v to %s: %v", sig, name, err)
	}
}

// kill ends the process started as name with SIGKILL, as a crash would, and
// waits for it; startAs may then start it again under the same name.
func (d *deployment) kill(name string) {
	d.t.Helper()
	d.mu.Lock()
	cmd := d.procs[name]
	delete(d.procs, name)
	d.mu.Unlock()
	if cmd == nil {
		d.t.Fatalf("kill: no process %s", name)
	}
	_ = cmd.Process.Kill() // fails only when it has exited already
	_ = cmd.Wait()         // killed: its error only says so
}

func (d *deployment) stopAll() {
	d.mu.Lock()
	var names []string
	for name := range d.procs {
		names = append(names, name)
	}
	d.mu.Unlock()
	for _, name := range names {
		d.stop(name)
	}
	if d.t.Failed() {
		d.dumpLogs()
	}
}

// dumpLogs prints the tail of every process log, for a failed test, and
// keeps the whole logs in $CINDER_TEST_LOGDIR/<test> when that is set.
func (d *deployment) dumpLogs() {
	logs, _ := filepath.Glob(filepath.Join(d.dir, "*.log"))
	keep := os.Getenv("CINDER_TEST_LOGDIR")
	if keep != "" {
		keep = filepath.Join(keep, strings.ReplaceAll(d.t.Name(), "/", "_"))
		if err := os.MkdirAll(keep, 0o755); err != nil {
			d.t.Logf("cannot keep the logs: %v", err)
			keep = ""
		}
	}
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		if keep != "" {
			if err := os.WriteFile(filepath.Join(keep, filepath.Base(l)), b, 0o644); err != nil {
				d.t.Logf("cannot keep a log: %v", err)
			}
		}
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		d.t.Logf("---- %s ----\n%s", filepath.Base(l), b)
	}
}

// log returns the whole log of the process started as name.
func (d *deployment) log(name string) string {
	b, _ := os.ReadFile(filepath.Join(d.dir, name+".log"))
	return string(b)
}

// logs returns the logs of every process, concatenated.
func (d *deployment) logs() string {
	paths, _ := filepath.Glob(filepath.Join(d.dir, "*.log"))
	var b strings.Builder
	for _, p := range paths {
		text, _ := os.ReadFile(p)
		b.Write(text)
	}
	return b.String()
}

// startAll runs cinder-all and waits until the API answers and every
// backend has reported stats to the scheduler.
func (d *deployment) startAll() {
	d.t.Helper()
	d.start("cinder-all")
	d.waitReady()
}

// startSplit runs cinder-scheduler, cinder-volume and cinder-api as three
// processes and waits until they work together.
func (d *deployment) startSplit() {
	d.t.Helper()
	d.start("cinder-scheduler")
	d.start("cinder-volume")
	d.start("cinder-api")
	d.waitReady()
}

// waitReady waits until get_pools lists a pool of every backend.
func (d *deployment) waitReady() {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, err := d.try("GET", "/scheduler-stats/get_pools", nil)
		if err == nil && code == 200 {
			if p, _ := body["pools"].([]any); len(p) >= d.backends {
				return
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("deployment not ready after 30s: last get_pools %d %v %v", code, body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// try sends a request as admin (token admin:admin) at microversion 3.64.
func (d *deployment) try(method, path string, body any) (int, map[string]any, error) {
	return d.tryWith(http.DefaultClient, "admin:admin", method, path, body)
}

// tryWith is try through client with the noauth token user:project.
func (d *deployment) tryWith(client *http.Client, token, method, path string, body any) (int, map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, raw, err := deploy.Request(ctx, client, token, method, d.endpoint+path, body)
	if err != nil {
		return code, nil, err
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return code, nil, fmt.Errorf("%s %s: answer is not JSON: %q", method, path, raw)
		}
	}
	return code, out, nil
}

// do is try that fails the test on a transport error or an unexpected status.
func (d *deployment) do(method, path string, body any, want int) map[string]any {
	d.t.Helper()
	code, out, err := d.try(method, path, body)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	if code != want {
		d.t.Fatalf("%s %s: status %d, want %d: %v", method, path, code, want, out)
	}
	return out
}

// createVolume creates a volume and returns its id.
func (d *deployment) createVolume(size int, extra map[string]any) string {
	d.t.Helper()
	v := map[string]any{"size": size, "name": "vol-" + uuid.NewString()[:6]}
	for k, val := range extra {
		v[k] = val
	}
	out := d.do("POST", "/admin/volumes", map[string]any{"volume": v}, 202)
	return out["volume"].(map[string]any)["id"].(string)
}

// volume returns the volume's admin view.
func (d *deployment) volume(id string) map[string]any {
	d.t.Helper()
	return d.do("GET", "/admin/volumes/"+id, nil, 200)["volume"].(map[string]any)
}

// waitFor polls cond until it holds, failing after timeout with what it
// waited for.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStatus polls volume id until its status is want (or, for "deleted",
// until it is gone) and fails on an error status that is not want.
func (d *deployment) waitStatus(id, want string) map[string]any {
	d.t.Helper()
	return d.poll(id, want, true)
}

// waitStatusAny is waitStatus that keeps waiting through error statuses.
func (d *deployment) waitStatusAny(id, want string) map[string]any {
	d.t.Helper()
	return d.poll(id, want, false)
}

func (d *deployment) poll(id, want string, failOnError bool) map[string]any {
	d.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last map[string]any
	for time.Now().Before(deadline) {
		code, out, err := d.try("GET", "/admin/volumes/"+id, nil)
		if err == nil && code == 404 && want == "deleted" {
			return nil
		}
		if err == nil && code == 200 {
			last = out["volume"].(map[string]any)
			st := last["status"]
			if st == want {
				return last
			}
			if failOnError && strings.HasPrefix(st.(string), "error") {
				d.t.Fatalf("volume %s went to %v while waiting for %s: %v", id, st, want, last)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("volume %s not %s after 60s: %v", id, want, last)
	return nil
}
