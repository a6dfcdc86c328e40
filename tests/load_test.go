package tests

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cinder-go/cinder/internal/testenv"
)

const (
	loadClients  = 50
	loadProjects = 5                // clients share projects, well inside each one's 1000 GiB quota
	loadPhase    = 20 * time.Second // the load runs two phases; capacity is checked after each
	loadKeep     = 5                // each client keeps every 5th volume until it keeps the next
	loadPoll     = 100 * time.Millisecond
	loadStuck    = 60 * time.Second // a volume not done by then is stuck
)

// 50 clients of 5 projects create, extend and delete volumes for 40 s on a
// split deployment over RabbitMQ, on SQLite and on PostgreSQL (its pool held
// to 5 connections a process, so requests wait for connections). Every
// answer is well formed, every accepted volume ends available or deleted,
// get_pools accounts for exactly the volumes that exist, the quota usage
// of every project is back to nothing once they are deleted, and no process
// leaks goroutines or files.
func TestLoadOverRabbitMQ(t *testing.T) {
	url := testenv.RabbitURL(t) // may wait for another package's broker tests
	t.Run("sqlite", func(t *testing.T) { runLoad(t, setup{transport: url}) })
	t.Run("postgresql", func(t *testing.T) {
		runLoad(t, setup{transport: url, database: testenv.PostgresURL(t), dbOptions: "max_pool_size = 2\nmax_overflow = 3\n"})
	})
}

// runLoad runs the load on the deployment s describes, with a thin and a
// thick backend.
func runLoad(t *testing.T, s setup) {
	begin := time.Now()
	s.backends = map[string]string{
		"thin": "volume_driver = thin\n",
		// The default thick backend, wiping 1 MiB of each deleted volume
		// rather than all of it: the test loads RPC and the database, not the disk.
		"thick": "volume_driver = thick\nvolume_clear = zero\nvolume_clear_size = 1\n",
	}
	s.extra += "quota_volumes = -1\n" // ten clients of a project hold up to twenty volumes
	d := newDeployment(t, s)
	d.startSplit()
	for _, backend := range []string{"thin", "thick"} {
		typ := d.do("POST", "/admin/types", map[string]any{"volume_type": map[string]any{"name": "load-" + backend}}, 200)["volume_type"].(map[string]any)
		d.do("POST", "/admin/types/"+typ["id"].(string)+"/extra_specs",
			map[string]any{"extra_specs": map[string]string{"volume_backend_name": backend}}, 200)
	}
	http.DefaultClient.CloseIdleConnections()
	time.Sleep(3 * time.Second) // startup work and connections settle
	procs := []string{"cinder-api", "cinder-scheduler", "cinder-volume"}
	before := map[string]usage{}
	for _, p := range procs {
		before[p] = guru(t, d, p)
	}

	l := &load{t: t, d: d, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loadClients}},
		statuses: map[int]int{}, ops: map[string]int{}, accepted: map[string]bool{}}
	clients := make([]*loadClient, loadClients)
	for i := range clients {
		c := &loadClient{n: i, project: fmt.Sprintf("load-project-%d", i%loadProjects), volumeType: "load-thin"}
		c.token = fmt.Sprintf("load-user-%d:%s", i, c.project)
		if i%10 == 0 { // a tenth of the clients use thick storage, bounding its disk use
			c.volumeType = "load-thick"
		}
		clients[i] = c
	}
	var loadTime time.Duration
	for range 2 {
		start := time.Now()
		l.run(clients, loadPhase)
		loadTime += time.Since(start)
		l.checkCapacity()
	}

	// Every accepted volume left is available: delete them all.
	var left []string
	for _, v := range l.volumes() {
		id := v["id"].(string)
		if l.accepted[id] && v["status"] != "available" {
			l.problem("volume %s ended %v", id, v["status"])
		}
		d.do("DELETE", "/admin/volumes/"+id, nil, 202)
		left = append(left, id)
	}
	for _, id := range left {
		d.waitStatus(id, "deleted")
	}
	if vols := l.volumes(); len(vols) != 0 {
		t.Errorf("volumes remain after deleting every one: %v", vols)
	}
	l.checkCapacity()
	for p := range loadProjects { // every create, extend and delete kept the quota usage exact
		checkUsage(t, d, fmt.Sprintf("load-project-%d", p), map[string][2]float64{"volumes": {0, 0}, "gigabytes": {0, 0}})
	}
	for _, p := range l.problems[:min(len(l.problems), 20)] {
		t.Error(p)
	}
	if len(l.problems) > 20 {
		t.Errorf("… and %d more problems", len(l.problems)-20)
	}
	total := 0
	for _, n := range l.statuses {
		total += n
	}
	t.Logf("%d requests in %s (%.0f/s), by status (0: no answer) %v; volumes %v",
		total, loadTime.Round(time.Second), float64(total)/loadTime.Seconds(), l.statuses, l.ops)
	if l.ops["extended"] < loadClients || l.ops["deleted"] < loadClients {
		t.Errorf("the load did too little: %v", l.ops)
	}

	l.http.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
	time.Sleep(5 * time.Second) // the API's connections close
	t.Logf("%s from start to the leak check", time.Since(begin).Round(time.Second))
	for _, p := range procs {
		after := guru(t, d, p)
		t.Logf("%s: goroutines %d → %d, open fds %d → %d", p, before[p].goroutines, after.goroutines, before[p].fds, after.fds)
		if after.goroutines > before[p].goroutines+10 || after.fds > before[p].fds+5 {
			t.Errorf("%s leaks: goroutines %d → %d, open fds %d → %d (see its guru stacks file); fds by target: %v",
				p, before[p].goroutines, after.goroutines, before[p].fds, after.fds, openFiles(d, p))
		}
	}
}

// loadClient is one user of the load: it creates, extends and deletes
// volumes of its type in its project, one at a time.
type loadClient struct {
	n                          int
	token, project, volumeType string
	done                       int    // volumes created and extended
	kept                       string // the volume it keeps, "" when none
}

// load drives clients and records every answer.
type load struct {
	t    *testing.T
	d    *deployment
	http *http.Client

	mu       sync.Mutex
	statuses map[int]int     // answers by HTTP status, 0 for none
	ops      map[string]int  // volumes created, extended, deleted
	accepted map[string]bool // ids of the volumes whose create was accepted
	problems []string
}

// run has every client cycle until d has passed, finishing the cycle under way.
func (l *load) run(clients []*loadClient, d time.Duration) {
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for time.Now().Before(end) {
				l.cycle(c)
			}
		})
	}
	wg.Wait()
}

// cycle creates a volume, waits until available, extends it, waits for the
// new size, and deletes it (or keeps it and deletes the one kept before),
// then lists the project's volumes. A refused step ends the cycle.
func (l *load) cycle(c *loadClient) {
	volumes := "/" + c.project + "/volumes"
	create := map[string]any{"size": 1, "name": fmt.Sprintf("load-%d-%d", c.n, c.done), "volume_type": c.volumeType}
	code, out := l.call(c, "POST", volumes, map[string]any{"volume": create}, "volume")
	if code != http.StatusAccepted {
		time.Sleep(time.Second)
		return
	}
	v, _ := out["volume"].(map[string]any)
	id, _ := v["id"].(string)
	if id == "" {
		l.problem("accepted create answered no volume id: %v", out)
		return
	}
	l.record("created", id)
	if !l.wait(c, id, 1) {
		return
	}
	if code, _ := l.call(c, "POST", volumes+"/"+id+"/action", map[string]any{"os-extend": map[string]any{"new_size": 2}}, ""); code != http.StatusAccepted {
		return
	}
	if !l.wait(c, id, 2) {
		return
	}
	l.record("extended", "")
	if c.done++; c.done%loadKeep == 0 {
		c.kept, id = id, c.kept
	}
	if id != "" {
		l.remove(c, id)
	}
	l.call(c, "GET", volumes+"/detail?limit=10", nil, "volumes")
}

// remove deletes volume id and waits until it is gone.
func (l *load) remove(c *loadClient, id string) {
	path := "/" + c.project + "/volumes/" + id
	if code, _ := l.call(c, "DELETE", path, nil, ""); code != http.StatusAccepted {
		return
	}
	for deadline := time.Now().Add(loadStuck); time.Now().Before(deadline); time.Sleep(loadPoll) {
		code, out := l.call(c, "GET", path, nil, "volume")
		if code == http.StatusNotFound {
			l.record("deleted", "")
			return
		}
		if v, _ := out["volume"].(map[string]any); code == http.StatusOK && v["status"] != "deleting" {
			l.problem("volume %s went %v while deleting", id, v["status"])
			return
		}
	}
	l.problem("volume %s still not deleted %s after its delete was accepted", id, loadStuck)
}

// wait polls volume id until it is available with size GiB, and reports
// whether it got there; an error status or loadStuck without it is a problem.
func (l *load) wait(c *loadClient, id string, size int) bool {
	var v map[string]any
	for deadline := time.Now().Add(loadStuck); time.Now().Before(deadline); time.Sleep(loadPoll) {
		code, out := l.call(c, "GET", "/"+c.project+"/volumes/"+id, nil, "volume")
		if code != http.StatusOK {
			continue
		}
		v, _ = out["volume"].(map[string]any)
		status, _ := v["status"].(string)
		if status == "available" && v["size"] == float64(size) {
			return true
		}
		if strings.HasPrefix(status, "error") {
			l.problem("volume %s went %s waiting to be available with %d GiB: %v", id, status, size, v)
			return false
		}
	}
	l.problem("volume %s not available with %d GiB after %s: %v", id, size, loadStuck, v)
	return false
}

// call sends one request as c and records its answer, which must be well
// formed: a 2xx holding key want (when set), or a Cinder fault of a 4xx or
// 503 status; never a 500, a transport error or no answer in time.
func (l *load) call(c *loadClient, method, path string, body any, want string) (int, map[string]any) {
	code, out, err := l.d.tryWith(l.http, c.token, method, path, body)
	l.mu.Lock()
	l.statuses[code]++
	l.mu.Unlock()
	switch {
	case err != nil:
		l.problem("%s %s: %v", method, path, err)
		return 0, nil
	case code/100 == 2 && (want == "" || out[want] != nil):
	case (code/100 == 4 || code == http.StatusServiceUnavailable) && isFault(out, code):
	default:
		l.problem("%s %s: malformed answer %d %v", method, path, code, out)
		return 0, nil
	}
	return code, out
}

// isFault reports whether body is a Cinder fault of status code:
// {"<kind>": {"code": code, "message": "…"}}.
func isFault(body map[string]any, code int) bool {
	if len(body) != 1 {
		return false
	}
	for _, f := range body {
		f, _ := f.(map[string]any)
		msg, _ := f["message"].(string)
		return f["code"] == float64(code) && msg != ""
	}
	return false
}

// record counts an operation; created also notes the volume as accepted.
func (l *load) record(op, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops[op]++
	if id != "" {
		l.accepted[id] = true
	}
}

func (l *load) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

// volumes lists the volumes of every project.
func (l *load) volumes() []map[string]any {
	var out []map[string]any
	for _, v := range l.d.do("GET", "/admin/volumes/detail?all_tenants=1", nil, 200)["volumes"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// checkCapacity waits for a stats report of every pool computed after now
// (the load is idle) and compares its allocated_capacity_gb (the database's
// account), provisioned_capacity_gb and total_volumes (the backend's
// storage) with the volumes that exist on it.
func (l *load) checkCapacity() {
	l.t.Helper()
	gb, count := map[string]float64{}, map[string]float64{}
	for _, v := range l.volumes() {
		host, _ := v["os-vol-host-attr:host"].(string)
		gb[host] += v["size"].(float64)
		count[host]++
	}
	// A report is computed just before it is stamped: one stamped a second
	// after now was surely computed after now.
	since := time.Now().Add(time.Second)
	deadline := time.Now().Add(15 * time.Second)
	for {
		pools := l.d.do("GET", "/admin/scheduler-stats/get_pools?detail=true", nil, 200)["pools"].([]any)
		fresh, mismatch := len(pools) == l.d.backends, ""
		for _, p := range pools {
			name := p.(map[string]any)["name"].(string)
			caps := p.(map[string]any)["capabilities"].(map[string]any)
			ts, err := time.Parse("2006-01-02T15:04:05.000000", fmt.Sprint(caps["timestamp"]))
			fresh = fresh && err == nil && ts.After(since)
			for key, want := range map[string]float64{"allocated_capacity_gb": gb[name], "provisioned_capacity_gb": gb[name], "total_volumes": count[name]} {
				if caps[key] != want {
					mismatch += fmt.Sprintf(" %s %s = %v, want %v;", name, key, caps[key], want)
				}
			}
		}
		if fresh {
			if mismatch != "" {
				l.t.Errorf("get_pools does not account for the volumes that exist:%s", mismatch)
			} else {
				l.t.Logf("get_pools accounts for the volumes that exist: GiB %v, volumes %v", gb, count)
			}
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("no stats report of every pool after %s: %v", since.Format(time.TimeOnly), pools)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// openFiles counts the open file descriptors of the process started as
// name by what they refer to, socket and pipe numbers left out.
func openFiles(d *deployment, name string) map[string]int {
	d.mu.Lock()
	cmd := d.procs[name]
	d.mu.Unlock()
	dir := fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid)
	entries, _ := os.ReadDir(dir)
	out := map[string]int{}
	for _, e := range entries {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		target, _, _ = strings.Cut(target, ":[")
		out[target]++
	}
	return out
}

// usage is a process's goroutines and open file descriptors.
type usage struct{ goroutines, fds int }

// guruLine is the log line of a Guru Meditation Report (see service.reportOnSIGUSR2).
var guruLine = regexp.MustCompile(`msg="guru meditation report" .*goroutines=(\d+) fds=(\d+)`)

// guru sends SIGUSR2 to the process started as name and reads the counts of
// the Guru Meditation Report it logs.
func guru(t *testing.T, d *deployment, name string) usage {
	t.Helper()
	seen := len(guruLine.FindAllString(d.log(name), -1))
	d.signal(name, syscall.SIGUSR2)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		reports := guruLine.FindAllStringSubmatch(d.log(name), -1)
		if len(reports) > seen {
			last := reports[len(reports)-1]
			g, _ := strconv.Atoi(last[1])
			fds, _ := strconv.Atoi(last[2])
			return usage{g, fds}
		}
	}
	t.Fatalf("%s logged no guru meditation report 10s after SIGUSR2", name)
	return usage{}
}
