package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// updateGolden makes TestReplayRealCinder rewrite its golden file instead of
// comparing with it, as CINDER_UPDATE_GOLDEN=1 does.
var updateGolden = flag.Bool("update", false, "rewrite "+goldenPath+" from this service's answers")

const (
	recordedDir = "testdata/replay/real-cinder" // copies of ../shared/reference/real-cinder
	goldenPath  = "testdata/replay/golden.txt"
)

// recording is one request to real Cinder and, of its answer, the id of the
// volume it shows, if any.
type recording struct {
	name    string // the file's name
	Request struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
		Body    *string           `json:"body"`
	} `json:"request"`
	Response struct {
		BodyJSON struct {
			Volume struct {
				ID string `json:"id"`
			} `json:"volume"`
		} `json:"body_json"`
	} `json:"response"`
}

// standIn is a volume that the recordings name but no recorded request
// creates.
type standIn struct {
	size    int
	name    string
	backend string // where real Cinder had it, as the requests naming it assume
}

// standIns, by real Cinder's id, are created before the first request naming
// them: 50 deletes e96f0da4; 62 and 63 migrate vol2 from fake1 to fake2 and back.
var standIns = map[string]standIn{
	"e96f0da4-a5fd-48c1-a170-5d35cfb914c7": {size: 1, name: "vol-deleted", backend: "fake1"},
	"2422ad8e-521d-40e8-a24f-ca76418ec870": {size: 2, name: "vol2", backend: "fake1"},
}

var (
	uuidForm  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	reqIDForm = regexp.MustCompile(`req-` + uuidForm.String())
	// timeForm is a timestamp as Cinder writes one; any other form stays as
	// it is, so that a change of form fails the comparison.
	timeForm = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}`)
	// fakePool is a pool of Cinder's fake driver, named fake; the thin
	// driver names its pool after the backend.
	fakePool = regexp.MustCompile(`@(fake\d)#fake\b`)
)

// The requests recorded from real Cinder 21, replayed in file-name order
// against cinder-all, get the answers in the golden file, byte for byte once
// normalised (-update or CINDER_UPDATE_GOLDEN=1 rewrites it).
func TestReplayRealCinder(t *testing.T) {
	t.Parallel()
	recs := loadRecordings(t)
	// fake1 is the larger, so that the scheduler places every volume there,
	// as real Cinder did; both smaller than the filesystem's free space, so
	// that their capacities are those configured.
	d := newDeployment(t, setup{backends: map[string]string{
		"fake1": "volume_driver = thin\ntotal_capacity_gb = 8\n",
		"fake2": "volume_driver = thin\ntotal_capacity_gb = 4\n",
	}})
	// cinder-all registers its services concurrently: cinder-scheduler and
	// cinder-backup run alone first have os-services list them in one
	// order, the recording's with cinder-backup (which the recorded Cinder
	// did not run) second.
	for _, svc := range []string{"cinder-scheduler", "cinder-backup"} {
		d.start(svc)
		d.waitLog(svc, 1, svc+" started")
		d.stop(svc)
	}
	d.startAll()
	// Real Cinder's services had all reported, as 03_os_services shows.
	waitFor(t, 30*time.Second, "a heartbeat of every service", func() bool {
		for _, s := range d.do("GET", "/admin/os-services", nil, 200)["services"].([]any) {
			if s.(map[string]any)["updated_at"] == nil {
				return false
			}
		}
		return true
	})
	r := &replay{
		d:     d,
		addr:  strings.TrimSuffix(strings.TrimPrefix(d.endpoint, "http://"), "/v3"),
		ids:   map[string]string{},
		names: ownIDs(recs),
	}
	var got strings.Builder
	for _, rec := range recs {
		fmt.Fprintf(&got, "=== %s\n%s", rec.name, r.play(rec))
	}
	if *updateGolden || os.Getenv("CINDER_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(goldenPath, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", goldenPath)
		return
	}
	raw, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (go test -run TestReplay ./tests -update writes it)", err)
	}
	want, have := sections(string(raw)), sections(got.String())
	for _, rec := range recs {
		if w, g := want[rec.name], have[rec.name]; w != g {
			t.Errorf("%s: answer differs from %s (-golden +got):\n%s%s", rec.name, goldenPath, diff(w, g), firstDifference(w, g))
		}
		delete(want, rec.name)
	}
	for name := range want {
		t.Errorf("%s is in %s but was not replayed", name, goldenPath)
	}
}

// loadRecordings reads the recordings in file-name order.
func loadRecordings(t *testing.T) []recording {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(recordedDir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no recordings in %s: %v", recordedDir, err)
	}
	recs := make([]recording, len(paths))
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &recs[i]); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		recs[i].name = filepath.Base(p)
	}
	return recs
}

// ownIDs maps to themselves the ids that the requests carry and that name
// no volume of real Cinder's, such as an unknown volume's.
func ownIDs(recs []recording) map[string]string {
	volumes := map[string]bool{}
	for _, rec := range recs {
		volumes[rec.Response.BodyJSON.Volume.ID] = true
	}
	own := map[string]string{}
	for _, rec := range recs {
		for _, id := range uuidForm.FindAllString(rec.Request.Path+rec.body(), -1) {
			if _, ok := standIns[id]; !ok && !volumes[id] {
				own[id] = id
			}
		}
	}
	return own
}

// body is the recorded request's body, "" when it had none.
func (rec recording) body() string {
	if rec.Request.Body == nil {
		return ""
	}
	return *rec.Request.Body
}

// replay plays recordings against a deployment with this service's volume
// ids in place of real Cinder's, and normalises the answers.
type replay struct {
	d       *deployment
	addr    string            // the API's host:port
	ids     map[string]string // real Cinder's volume id → this service's
	names   map[string]string // id in an answer → its placeholder (itself for the requests' own)
	volumes int               // volumes named so far
	others  int               // other ids named so far
}

// play sends rec's request, waits for what it started to end, and returns the
// request line and the normalised answer.
func (r *replay) play(rec recording) string {
	t := r.d.t
	t.Helper()
	path, body := r.translate(rec.Request.Path), r.translate(rec.body())
	req, err := http.NewRequest(rec.Request.Method, "http://"+r.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", rec.name, err)
	}
	for k, v := range rec.Request.Headers {
		req.Header.Set(k, v)
	}
	head, answer, err := exchange(r.addr, req)
	if err != nil {
		t.Fatalf("%s: %v", rec.name, err)
	}
	accepted := strings.Contains(head[0], " 202 ")
	id := volumeOf(path)
	if accepted && rec.Request.Method == "POST" && strings.HasSuffix(path, "/volumes") {
		var v struct{ Volume struct{ ID string } }
		if err := json.Unmarshal(answer, &v); err != nil {
			t.Fatalf("%s: create answer: %v", rec.name, err)
		}
		id = v.Volume.ID
		r.ids[rec.Response.BodyJSON.Volume.ID] = id
		r.name(id)
	}
	line := rec.Request.Method + " " + path
	if body != "" {
		line += " " + body
	}
	out := r.normalise(line, map[string]string{}) + "\n\n" + r.answer(head, answer)
	switch {
	case !accepted:
	case rec.Request.Method == "POST" && strings.HasSuffix(path, "/volumes"), strings.Contains(body, `"os-extend"`):
		r.d.waitStatus(id, "available")
	case rec.Request.Method == "DELETE":
		r.d.waitStatus(id, "deleted")
	case strings.Contains(body, `"os-migrate_volume"`):
		r.d.waitMigration(id)
	}
	return out
}

// translate rewrites a recorded path or body for this service: its volume
// ids (creating stand-ins first) and its pools.
func (r *replay) translate(s string) string {
	for _, old := range uuidForm.FindAllString(s, -1) {
		if _, ok := r.ids[old]; !ok {
			if si, ok := standIns[old]; ok {
				r.ids[old] = r.createStandIn(old, si)
			}
		}
		if id, ok := r.ids[old]; ok {
			s = strings.ReplaceAll(s, old, id)
		}
	}
	return fakePool.ReplaceAllString(s, "@${1}#${1}")
}

// createStandIn creates si in place of real Cinder's volume old and returns
// its id once available on si's backend.
func (r *replay) createStandIn(old string, si standIn) string {
	d := r.d
	d.t.Helper()
	id := d.createVolume(si.size, map[string]any{"name": si.name})
	r.name(id)
	if host := hostOfVolume(d.waitStatus(id, "available")); !strings.HasPrefix(host, "hostA@"+si.backend+"#") {
		d.t.Fatalf("stand-in for %s is on %s; the recordings have it on %s", old, host, si.backend)
	}
	return id
}

// name gives this service's volume id its placeholder, <volume:N> for the
// Nth volume created.
func (r *replay) name(id string) {
	r.volumes++
	r.names[id] = fmt.Sprintf("<volume:%d>", r.volumes)
}

// volumeOf is the volume id in a path /v3/{project}/volumes/{id}[/action],
// "" for none.
func volumeOf(path string) string {
	_, rest, ok := strings.Cut(path, "/volumes/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}

// exchange sends req on a connection of its own to addr and returns the
// answer's status line and header lines, as sent and in order, and its body.
func exchange(addr string, req *http.Request) ([]string, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the API: %w", err)
	}
	defer func() { _ = conn.Close() }() // the answer is read whole before
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return nil, nil, fmt.Errorf("set a deadline on the API connection: %w", err)
	}
	if err := req.Write(conn); err != nil {
		return nil, nil, fmt.Errorf("send %s %s: %w", req.Method, req.URL.Path, err)
	}
	var raw bytes.Buffer
	resp, err := http.ReadResponse(bufio.NewReader(io.TeeReader(conn, &raw)), req)
	if err != nil {
		return nil, nil, fmt.Errorf("read the answer to %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer func() { _ = resp.Body.Close() }() // read: nothing to lose
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("read the body of the answer to %s %s: %w", req.Method, req.URL.Path, err)
	}
	head, _, _ := bytes.Cut(raw.Bytes(), []byte("\r\n\r\n"))
	return strings.Split(string(head), "\r\n"), body, nil
}

// answer renders an answer normalised: the status line, the headers in the
// order sent without Date, a Content-Length that matches the body as
// <len(body)>, and the body.
func (r *replay) answer(head []string, body []byte) string {
	reqIDs := map[string]string{}
	var b strings.Builder
	for _, line := range head {
		name, value, _ := strings.Cut(line, ": ")
		switch {
		case strings.EqualFold(name, "Date"):
			continue
		case strings.EqualFold(name, "Content-Length") && value == strconv.Itoa(len(body)):
			line = name + ": <len(body)>"
		}
		b.WriteString(r.normalise(line, reqIDs) + "\n")
	}
	return b.String() + "\n" + r.normalise(string(body), reqIDs) + "\n"
}

// normalise replaces in s the API's address, the state path, request ids
// (numbered in reqIDs, one answer's), other ids and timestamps with placeholders.
func (r *replay) normalise(s string, reqIDs map[string]string) string {
	s = strings.ReplaceAll(s, r.addr, "<server>")
	s = strings.ReplaceAll(s, r.d.dir, "<state_path>")
	s = reqIDForm.ReplaceAllStringFunc(s, func(id string) string {
		if reqIDs[id] == "" {
			reqIDs[id] = fmt.Sprintf("<req-id:%d>", len(reqIDs)+1)
		}
		return reqIDs[id]
	})
	s = uuidForm.ReplaceAllStringFunc(s, func(id string) string {
		if r.names[id] == "" {
			r.others++
			r.names[id] = fmt.Sprintf("<uuid:%d>", r.others)
		}
		return r.names[id]
	})
	return timeForm.ReplaceAllString(s, "<time>")
}

// sections splits a golden file into its sections, by recording name.
func sections(text string) map[string]string {
	out := map[string]string{}
	for _, s := range strings.Split(text, "=== ")[1:] {
		name, rest, _ := strings.Cut(s, "\n")
		out[name] = rest
	}
	return out
}

// diff returns want and got line by line, unified-diff style: "-" for a line
// only in want, "+" only in got.
func diff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	// common[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	common := make([][]int, len(a)+1)
	for i := range common {
		common[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				common[i][j] = common[i+1][j+1] + 1
			} else {
				common[i][j] = max(common[i+1][j], common[i][j+1])
			}
		}
	}
	var out strings.Builder
	for i, j := 0, 0; i < len(a) || j < len(b); {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			fmt.Fprintf(&out, "  %s\n", a[i])
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || common[i+1][j] >= common[i][j+1]):
			fmt.Fprintf(&out, "- %s\n", a[i])
			i++
		default:
			fmt.Fprintf(&out, "+ %s\n", b[j])
			j++
		}
	}
	return out.String()
}

// firstDifference shows where want and got first differ, for long lines.
func firstDifference(want, got string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	from := max(0, i-40)
	return fmt.Sprintf("first difference at byte %d: golden %q, got %q", i, want[from:min(len(want), i+40)], got[from:min(len(got), i+40)])
}
