package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/internal/testdb"
	"github.com/cinder-go/cinder/policy"
	"github.com/cinder-go/cinder/rpc"
	"github.com/cinder-go/cinder/volume"
)

// The fakes below stand in for the RPC layer (scheduler.Client and
// manager.Client): they record what the API asked. tests/ covers the API
// over real RPC end to end.

// fakeScheduler records create_volume casts; with place set it plays
// scheduler and backend at once: the volume lands on place, available.
type fakeScheduler struct {
	store     *db.DB
	place     string
	createErr error
	pools     []cinder.Pool
	poolsErr  error
	panics    bool
	full      bool  // no backend has room (validate_host_capacity)
	held      *held // when set, get_pools waits for its release

	mu       sync.Mutex
	creates  []cinder.RequestSpec
	contexts []*cinder.RequestContext // the request context of each create
}

func (f *fakeScheduler) CreateVolume(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec) error {
	f.mu.Lock()
	f.creates = append(f.creates, spec)
	f.contexts = append(f.contexts, cinder.FromContext(ctx))
	f.mu.Unlock()
	if f.createErr != nil {
		return f.createErr
	}
	if f.place != "" {
		_, err := f.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
			v.Host, v.Status = f.place, cinder.StatusAvailable
			return nil
		})
		return err
	}
	return nil
}

// CreateGroup plays scheduler and backend at once when place is set: the
// group lands there, available.
func (f *fakeScheduler) CreateGroup(ctx context.Context, g *cinder.Group) error {
	if f.createErr != nil || f.place == "" {
		return f.createErr
	}
	_, err := f.store.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error {
		g.Host, g.Status = f.place, cinder.GroupAvailable
		return nil
	})
	return err
}

// ValidateHostCapacity answers that backend has room unless full is set.
func (f *fakeScheduler) ValidateHostCapacity(ctx context.Context, backend, groupID string, size int) (bool, error) {
	return !f.full, nil
}

func (f *fakeScheduler) GetPools(ctx context.Context) ([]cinder.Pool, error) {
	if f.panics {
		panic("fake scheduler: get_pools exploded")
	}
	if f.held != nil {
		close(f.held.started)
		<-f.held.release
		f.held.err <- ctx.Err()
	}
	return f.pools, f.poolsErr
}

// held is a call that waits, once started, until release closes, then
// sends on err its context's error.
type held struct {
	started, release chan struct{}
	err              chan error
}

// errUnexpected is what a fake answers an RPC its test does not expect.
var errUnexpected = errors.New("fake: RPC not expected by this test")

func (f *fakeScheduler) MigrateVolume(ctx context.Context, v *cinder.Volume, backend string, forceCopy bool, spec cinder.RequestSpec) error {
	return errUnexpected
}

func (f *fakeScheduler) Retype(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec) error {
	return errUnexpected
}

// migratingScheduler is a fakeScheduler that migrates.
type migratingScheduler struct {
	*fakeScheduler
	migrations []string // volume id -> backend, as "id>backend"
	err        error
}

func (m *migratingScheduler) MigrateVolume(ctx context.Context, v *cinder.Volume, backend string, forceCopy bool, spec cinder.RequestSpec) error {
	m.migrations = append(m.migrations, v.ID+">"+backend)
	return m.err
}

// fakeVolumes records the casts and calls to cinder-volume.
type fakeVolumes struct {
	caps    map[string]any
	capsErr error
	connErr error
	castErr error

	mu    sync.Mutex
	calls []string // "method id" or "method host"
}

func (f *fakeVolumes) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeVolumes) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeVolumes) DeleteVolume(ctx context.Context, v *cinder.Volume, cascade bool) error {
	f.record("delete " + v.ID)
	return f.castErr
}

func (f *fakeVolumes) ExtendVolume(ctx context.Context, v *cinder.Volume, newSize int) error {
	f.record("extend " + v.ID + " " + strconv.Itoa(newSize))
	return f.castErr
}

func (f *fakeVolumes) InitializeConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) (*cinder.ConnectionInfo, error) {
	f.record("initialize " + v.ID)
	if f.connErr != nil {
		return nil, f.connErr
	}
	return &cinder.ConnectionInfo{DriverVolumeType: "local", Data: map[string]any{"device_path": "/dev/fake/" + v.ID}}, nil
}

func (f *fakeVolumes) TerminateConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) error {
	f.record("terminate " + v.ID)
	return f.connErr
}

func (f *fakeVolumes) GetCapabilities(ctx context.Context, host string, discover bool) (map[string]any, error) {
	f.record("capabilities " + host)
	return f.caps, f.capsErr
}

func (f *fakeVolumes) CreateSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	f.record("create_snapshot " + s.ID)
	return f.castErr
}

func (f *fakeVolumes) DeleteSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	f.record("delete_snapshot " + s.ID)
	return f.castErr
}

func (f *fakeVolumes) DeleteGroup(ctx context.Context, g *cinder.Group) error {
	f.record("delete_group " + g.ID)
	return f.castErr
}

func (f *fakeVolumes) CreateGroupSnapshot(ctx context.Context, gs *cinder.GroupSnapshot) error {
	f.record("create_group_snapshot " + gs.ID)
	return f.castErr
}

func (f *fakeVolumes) DeleteGroupSnapshot(ctx context.Context, gs *cinder.GroupSnapshot) error {
	f.record("delete_group_snapshot " + gs.ID)
	return f.castErr
}

func (f *fakeVolumes) CreateGroupFromSrc(ctx context.Context, g *cinder.Group, gs *cinder.GroupSnapshot, source *cinder.Group) error {
	f.record("create_group_from_src " + g.ID)
	return f.castErr
}

func (f *fakeVolumes) RevertToSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	f.record("revert " + v.ID + " " + s.ID)
	return f.castErr
}

func (f *fakeVolumes) MigrateVolumeCompletion(ctx context.Context, v, newVolume *cinder.Volume, hasError bool) (string, error) {
	return "", errUnexpected
}

// completingVolumes is a fakeVolumes that completes migrations.
type completingVolumes struct{ *fakeVolumes }

func (c completingVolumes) MigrateVolumeCompletion(ctx context.Context, v, newVolume *cinder.Volume, hasError bool) (string, error) {
	c.record("complete " + v.ID + " " + newVolume.ID + " " + strconv.FormatBool(hasError))
	return v.ID, nil
}

// env is an API server over a real SQLite database and the fakes.
type env struct {
	t       *testing.T
	cfg     *conf.Config
	store   *db.DB
	sched   *fakeScheduler
	volumes *fakeVolumes
	backups *fakeBackups
	policy  *policy.Enforcer // Cinder's defaults unless an option sets it
	srv     *httptest.Server

	// schedOverride and volumesOverride, when set, serve instead of sched
	// and volumes (to serve more RPCs).
	schedOverride   volume.Scheduler
	volumesOverride volume.Backends
	// wrap, when set, wraps the API's handler in the server.
	wrap func(http.Handler) http.Handler
}

// testConfig is the cinder.conf of the API tests: noauth and Cinder's
// defaults for the volume type, zone, service_down_time and quotas, but no
// limit on the number of volumes and snapshots, which tests make many of.
func testConfig() *conf.Config {
	return &conf.Config{AuthStrategy: "noauth", DefaultVolumeType: cinder.DefaultVolumeType,
		StorageAvailabilityZone: "nova", ServiceDownTime: time.Minute, QuotaVolumes: -1, QuotaSnapshots: -1,
		QuotaGigabytes: 1000, QuotaBackups: 10, QuotaBackupGigabytes: 1000, QuotaGroups: 10, PerVolumeSizeLimit: -1,
		UseDefaultQuotaClass: true, ReservationExpire: 24 * time.Hour}
}

// newEnv starts the API; with opts the caller may adjust the pieces first.
func newEnv(t *testing.T, opts ...func(e *env)) *env {
	t.Helper()
	store := testdb.SQLite(t)
	e := &env{
		t:       t,
		cfg:     testConfig(),
		store:   store,
		sched:   &fakeScheduler{store: store, place: "hostA@fake1#fake"},
		volumes: &fakeVolumes{},
		backups: &fakeBackups{},
	}
	var sched volume.Scheduler = e.sched
	var volumes volume.Backends = e.volumes
	for _, o := range opts {
		o(e)
	}
	if e.schedOverride != nil {
		sched = e.schedOverride
	}
	if e.volumesOverride != nil {
		volumes = e.volumesOverride
	}
	if e.policy == nil {
		e.policy = defaultPolicy(t)
	}
	h := New(e.cfg, store, volume.New(e.cfg, store, sched, volumes, e.backups), e.policy, nil)
	if e.wrap != nil {
		h = e.wrap(h)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// defaultPolicy is Cinder's default policy.
func defaultPolicy(t testing.TB) *policy.Enforcer {
	t.Helper()
	rules, err := policy.New("")
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// response is an answer, its body decoded when JSON.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// req is a request to send; headers are name, value pairs.
type req struct {
	method, path, body string
	headers            []string
}

// do sends rq as admin:admin at microversion 3.64 unless its headers say otherwise.
func (e *env) do(rq req) *response {
	e.t.Helper()
	hr, err := http.NewRequest(rq.method, e.srv.URL+rq.path, strings.NewReader(rq.body))
	if err != nil {
		e.t.Fatal(err)
	}
	hr.Header.Set("X-Auth-Token", "admin:admin")
	hr.Header.Set("OpenStack-API-Version", "volume 3.64")
	if rq.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(rq.headers); i += 2 {
		if rq.headers[i+1] == "" {
			hr.Header.Del(rq.headers[i])
		} else {
			hr.Header.Set(rq.headers[i], rq.headers[i+1])
		}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	hresp, err := client.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = hresp.Body.Close() }() // read: nothing to lose
	raw, err := io.ReadAll(hresp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	resp := &response{status: hresp.StatusCode, header: hresp.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(hresp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &resp.body); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %v: %s", rq.method, rq.path, err, raw)
		}
	}
	return resp
}

// get, post, put and del are do for the usual cases.
func (e *env) get(path string, headers ...string) *response {
	e.t.Helper()
	return e.do(req{method: http.MethodGet, path: path, headers: headers})
}

func (e *env) post(path, body string, headers ...string) *response {
	e.t.Helper()
	return e.do(req{method: http.MethodPost, path: path, body: body, headers: headers})
}

func (e *env) put(path, body string, headers ...string) *response {
	e.t.Helper()
	return e.do(req{method: http.MethodPut, path: path, body: body, headers: headers})
}

func (e *env) del(path string, headers ...string) *response {
	e.t.Helper()
	return e.do(req{method: http.MethodDelete, path: path, headers: headers})
}

// expect fails the test unless r has status.
func (r *response) expect(t *testing.T, status int) *response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// fault checks r is the fault kind with code status and returns its message.
func (r *response) fault(t *testing.T, status int, kind string) string {
	t.Helper()
	r.expect(t, status)
	f, ok := r.body[kind].(map[string]any)
	if !ok || len(r.body) != 1 {
		t.Fatalf("want a %s fault, got %s", kind, r.raw)
	}
	if code, _ := f["code"].(float64); int(code) != status {
		t.Fatalf("fault code %v, want %d: %s", f["code"], status, r.raw)
	}
	msg, _ := f["message"].(string)
	return msg
}

// obj returns the JSON object at path (member names, or indexes into arrays).
func (r *response) obj(t *testing.T, path ...string) map[string]any {
	t.Helper()
	var cur any = r.body
	for _, p := range path {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			i, _ := strconv.Atoi(p)
			if i >= len(c) {
				t.Fatalf("no %v in %s", path, r.raw)
			}
			cur = c[i]
		}
	}
	o, ok := cur.(map[string]any)
	if !ok {
		t.Fatalf("no object at %v in %s", path, r.raw)
	}
	return o
}

// keys returns the keys of the object at path in r's raw body, in order.
func (r *response) keys(t *testing.T, path ...string) []string {
	t.Helper()
	raw := json.RawMessage(r.raw)
	for _, p := range path {
		if i, err := strconv.Atoi(p); err == nil {
			var arr []json.RawMessage
			if err := json.Unmarshal(raw, &arr); err != nil || i >= len(arr) {
				t.Fatalf("no %v in %s", path, r.raw)
			}
			raw = arr[i]
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("no %v in %s", path, r.raw)
		}
		raw = m[p]
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("no object at %v in %s", path, r.raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// sameKeys fails unless got and want are the same keys in the same order.
func sameKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s keys:\n got %q\nwant %q", what, got, want)
	}
}

// createVolume creates a volume through the API and returns its id.
func (e *env) createVolume(body string) string {
	e.t.Helper()
	r := e.post("/v3/admin/volumes", body).expect(e.t, http.StatusAccepted)
	return r.obj(e.t, "volume")["id"].(string)
}

// volume reads volume id from the database.
func (e *env) volume(id string) *cinder.Volume {
	e.t.Helper()
	v, err := e.store.GetVolume(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// setVolume changes volume id in the database.
func (e *env) setVolume(id string, fn func(v *cinder.Volume)) {
	e.t.Helper()
	if _, err := e.store.UpdateVolume(context.Background(), id, func(v *cinder.Volume) error {
		fn(v)
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

// snapshot reads snapshot id from the database.
func (e *env) snapshot(id string) *cinder.Snapshot {
	e.t.Helper()
	s, err := e.store.GetSnapshot(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// setSnapshot changes snapshot id's row with fn.
func (e *env) setSnapshot(id string, fn func(s *cinder.Snapshot)) {
	e.t.Helper()
	if _, err := e.store.UpdateSnapshot(context.Background(), id, func(s *cinder.Snapshot) error { fn(s); return nil }); err != nil {
		e.t.Fatal(err)
	}
}

// addService registers a service last seen age ago.
func (e *env) addService(host, binary string, age time.Duration, disabled bool) *cinder.Service {
	e.t.Helper()
	seen := time.Now().Add(-age).UTC()
	s := &cinder.Service{Host: host, Binary: binary, Topic: binary, AvailabilityZone: "nova", Disabled: disabled,
		CreatedAt: seen.Add(-time.Hour), UpdatedAt: &seen}
	if err := e.store.CreateService(context.Background(), s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// errBrokerDown is what an RPC client returns while RabbitMQ is down.
var errBrokerDown = fmt.Errorf("%w (dial tcp 127.0.0.1:5672: connection refused)", rpc.ErrUnreachable)

// TestMain keeps the access log quiet unless -v.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	m.Run()
}
