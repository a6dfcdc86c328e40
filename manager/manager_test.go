package manager_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/drivers/thick"
	"github.com/cinder-go/cinder/drivers/thin"
	"github.com/cinder-go/cinder/internal/testdb"
	"github.com/cinder-go/cinder/internal/testrpc"
	"github.com/cinder-go/cinder/manager"
	"github.com/cinder-go/cinder/rpc"
)

// reports records what a manager sends the schedulers.
type reports struct {
	mu  sync.Mutex
	got []map[string]any
}

func (r *reports) UpdateServiceCapabilities(ctx context.Context, host string, caps map[string]any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, map[string]any{"host": host, "capabilities": caps})
	return nil
}

func (r *reports) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *reports) last() map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[len(r.got)-1]
}

// site is backends sharing one SQLite file and one fake transport.
type site struct {
	store  *db.DB
	tr     *rpc.Transport
	client *manager.Client
}

func newSite(t *testing.T) *site {
	t.Helper()
	store := testdb.SQLite(t)
	tr := testrpc.Dial(t, "", 10*time.Second)
	return &site{store: store, tr: tr, client: manager.NewClient(tr)}
}

// env is one backend <host>@<name> of a site.
type env struct {
	*site
	cfg     *conf.Config
	backend *conf.Backend
	drv     drivers.Driver
	mgr     *manager.Manager
	reports *reports
}

// newEnv builds backend node1@<kind> with a driver of that kind; call start.
func newEnv(t *testing.T, kind string) *env {
	t.Helper()
	return newSite(t).add(t, "node1", kind, kind)
}

// add builds backend host@name with a driver of kind (thin or thick) and 10
// GiB, and registers its service in zone nova; tweaks may change e.cfg,
// e.backend and e.drv before the manager is built. Call start.
func (s *site) add(t *testing.T, host, name, kind string, tweaks ...func(e *env)) *env {
	t.Helper()
	b := &conf.Backend{
		Name: name, VolumeDriver: kind, VolumeBackendName: name, BackendHost: host,
		VolumesDir: filepath.Join(t.TempDir(), "volumes"), MaxOverSubscriptionRatio: 20,
		TotalCapacityGB: 10, VolumeClear: "none", AvailabilityZone: "nova",
	}
	e := &env{site: s, cfg: &conf.Config{Host: "node1", BackendStatsPollingInterval: time.Hour},
		backend: b, drv: thin.New(b, host+"@"+name), reports: &reports{}}
	if kind == "thick" {
		e.drv = thick.New(b, host+"@"+name)
	}
	for _, tweak := range tweaks {
		tweak(e)
	}
	e.mgr = manager.New(e.cfg, b, s.store, e.drv, e.reports, s.client)
	svc := &cinder.Service{Host: e.mgr.Host(), Binary: cinder.BinaryVolume, Topic: cinder.TopicVolume, AvailabilityZone: "nova"}
	if err := s.store.CreateService(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	return e
}

// start runs Init and serves the manager's RPC API.
func (e *env) start(t *testing.T) { e.startWith(t, nil) }

// startWith runs Init and serves the manager's RPC API as change (may be
// nil) alters it, returning the server.
func (e *env) startWith(t *testing.T, change func(ep rpc.Endpoint)) *rpc.Server {
	t.Helper()
	if err := e.mgr.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e.serve(t, change)
}

// serve serves the manager's RPC API as change (may be nil) alters it.
func (e *env) serve(t *testing.T, change func(ep rpc.Endpoint)) *rpc.Server {
	t.Helper()
	ep := e.mgr.Endpoint()
	if change != nil {
		change(ep)
	}
	srv := rpc.NewServer(e.tr, e.mgr.Targets(), ep)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// pool is the backend's only pool, host@backend#pool.
func (e *env) pool() string { return e.mgr.Host() + "#" + e.backend.VolumeBackendName }

// volume inserts a volume row on host (host@backend#pool) with status.
func (e *env) volume(t *testing.T, host, status string, size int) *cinder.Volume {
	t.Helper()
	v := &cinder.Volume{ProjectID: "p", UserID: "u", Size: size, Status: status, AttachStatus: "detached",
		Host: host, AvailabilityZone: "nova"}
	if err := e.store.CreateVolume(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	return v
}

// setStatus sets a volume's status as the API would before a cast.
func (e *env) setStatus(t *testing.T, v *cinder.Volume, status string) {
	t.Helper()
	if _, err := e.store.UpdateVolume(context.Background(), v.ID, func(v *cinder.Volume) error {
		v.Status = status
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// file is where the drivers keep v's bytes.
func (e *env) file(v *cinder.Volume) string { return filepath.Join(e.backend.VolumesDir, v.Name()) }

// waitStatus polls until volume id has status ("gone" for destroyed) and returns it.
func (e *env) waitStatus(t *testing.T, id, status string) *cinder.Volume {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := e.store.GetVolume(context.Background(), id)
		switch {
		case status == "gone" && cinder.IsNotFound(err):
			return nil
		case err != nil && !cinder.IsNotFound(err):
			t.Fatal(err)
		case err == nil && v.Status == status:
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume %s: want %s, have %+v (err %v)", id, status, v, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTargetsAndHost(t *testing.T) {
	e := newEnv(t, "thin")
	if e.mgr.Host() != "node1@thin" {
		t.Errorf("Host = %q, want node1@thin", e.mgr.Host())
	}
	want := []rpc.Target{{Topic: "cinder-volume", Server: "node1@thin"}, {Topic: "cinder-volume.node1@thin", Server: "node1"}}
	got := e.mgr.Targets()
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Targets = %+v, want %+v", got, want)
	}
}

func TestBackendHostNamesTheService(t *testing.T) {
	b := &conf.Backend{Name: "thin", BackendHost: "shared"}
	m := manager.New(&conf.Config{Host: "node1"}, b, nil, nil, nil, nil)
	if m.Host() != "shared@thin" || m.Targets()[1] != (rpc.Target{Topic: "cinder-volume.shared@thin", Server: "shared"}) {
		t.Errorf("Host = %q, Targets = %+v; want shared@thin", m.Host(), m.Targets())
	}
}

func TestCreateAndDelete(t *testing.T) {
	for _, kind := range []string{"thin", "thick"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind)
			e.start(t)
			ctx := context.Background()
			v := e.volume(t, "node1@"+kind+"#"+kind, cinder.StatusCreating, 1)
			if err := e.client.CreateVolume(ctx, v, map[string]any{"volume_id": v.ID}); err != nil {
				t.Fatal(err)
			}
			e.waitStatus(t, v.ID, cinder.StatusAvailable)
			if st, err := os.Stat(e.file(v)); err != nil || st.Size() != 1<<30 {
				t.Fatalf("volume file: %v, %v; want 1 GiB", st, err)
			}

			e.setStatus(t, v, cinder.StatusDeleting)
			if err := e.client.DeleteVolume(ctx, v, false); err != nil {
				t.Fatal(err)
			}
			e.waitStatus(t, v.ID, "gone")
			if _, err := os.Stat(e.file(v)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("volume file after delete: %v, want gone", err)
			}
		})
	}
}

func TestCreateFailureSetsError(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	v := e.volume(t, "node1@thin#thin", cinder.StatusCreating, 0) // the driver refuses 0 GiB
	if err := e.client.CreateVolume(context.Background(), v, nil); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, v.ID, cinder.StatusError)
}

func TestCreateUsesTheRowNotTheMessage(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	v := e.volume(t, "node1@thin#thin", cinder.StatusCreating, 1)
	hint := *v
	hint.Size = 0 // a stale or forged copy: the driver would refuse it
	if err := e.client.CreateVolume(context.Background(), &hint, nil); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, v.ID, cinder.StatusAvailable)
}

func TestDeleteFailureSetsErrorDeleting(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	v := e.volume(t, "node1@thin#thin", cinder.StatusDeleting, 1)
	// A non-empty directory where the file should be cannot be removed.
	if err := os.MkdirAll(filepath.Join(e.file(v), "busy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := e.client.DeleteVolume(context.Background(), v, false); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, v.ID, cinder.StatusErrorDelete)
}

func TestExtend(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	ctx := context.Background()
	v := e.volume(t, "node1@thin#thin", cinder.StatusCreating, 1)
	if err := e.client.CreateVolume(ctx, v, nil); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, v.ID, cinder.StatusAvailable)

	e.setStatus(t, v, cinder.StatusExtending)
	if err := e.client.ExtendVolume(ctx, v, 3); err != nil {
		t.Fatal(err)
	}
	got := e.waitStatus(t, v.ID, cinder.StatusAvailable)
	if got.Size != 3 {
		t.Errorf("size after extend = %d, want 3", got.Size)
	}
	if st, err := os.Stat(e.file(v)); err != nil || st.Size() != 3<<30 {
		t.Errorf("volume file after extend: %v, %v; want 3 GiB", st, err)
	}

	e.setStatus(t, v, cinder.StatusExtending)
	if err := e.client.ExtendVolume(ctx, v, 2); err != nil {
		t.Fatal(err)
	}
	if got := e.waitStatus(t, v.ID, cinder.StatusErrorExtend); got.Size != 3 {
		t.Errorf("size after a failed extend = %d, want 3", got.Size)
	}
}

func TestConnection(t *testing.T) {
	e := newEnv(t, "thick")
	e.start(t)
	ctx := context.Background()
	v := e.volume(t, "node1@thick#thick", cinder.StatusCreating, 1)
	if err := e.client.CreateVolume(ctx, v, nil); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, v.ID, cinder.StatusAvailable)

	connector := map[string]any{"host": "node1", "initiator": "iqn.1993-08.org.debian:01:abc"}
	info, err := e.client.InitializeConnection(ctx, v, connector)
	if err != nil {
		t.Fatal(err)
	}
	if info.DriverVolumeType != "local" || info.Data["device_path"] != e.file(v) || info.Data["access_mode"] != "rw" {
		t.Errorf("connection info = %+v, want local at %s, rw", info, e.file(v))
	}
	// The readonly flag, admin metadata, reaches the connection as Cinder's access_mode.
	if _, err := e.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		v.AdminMetadata = map[string]string{"readonly": "True"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if info, err := e.client.InitializeConnection(ctx, v, connector); err != nil || info.Data["access_mode"] != "ro" {
		t.Errorf("connection info of a readonly volume = %+v, %v; want access_mode ro", info, err)
	}
	if err := e.client.TerminateConnection(ctx, v, connector); err != nil {
		t.Errorf("TerminateConnection: %v", err)
	}
}

func TestCallForAVolumeOfAnotherBackendFails(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	v := e.volume(t, "node1@other#other", cinder.StatusAvailable, 1)
	hint := *v
	hint.Host = "node1@thin#thin" // routed here, but the row says otherwise
	_, err := e.client.InitializeConnection(context.Background(), &hint, map[string]any{})
	var ce *cinder.Error
	if !errors.As(err, &ce) || ce.Class != "InvalidHost" {
		t.Fatalf("InitializeConnection = %v, want InvalidHost", err)
	}
}

func TestClientRefusesAHostWithoutBackend(t *testing.T) {
	e := newEnv(t, "thin")
	err := e.client.CreateVolume(context.Background(), &cinder.Volume{ID: "x", Host: "node1"}, nil)
	if cinder.Code(err) != 400 {
		t.Errorf("CreateVolume to host without backend = %v, want a 400 InvalidHost", err)
	}
}

func TestGetCapabilities(t *testing.T) {
	for _, tc := range []struct {
		kind   string
		sparse bool
	}{{"thin", true}, {"thick", false}} {
		t.Run(tc.kind, func(t *testing.T) {
			e := newEnv(t, tc.kind)
			e.start(t)
			ctx := context.Background()
			caps, err := e.client.GetCapabilities(ctx, "node1@"+tc.kind+"#"+tc.kind, false)
			if err != nil {
				t.Fatal(err)
			}
			if caps["sparse_copy_volume"] != tc.sparse {
				t.Errorf("sparse_copy_volume = %v, want %v", caps["sparse_copy_volume"], tc.sparse)
			}
			if caps["volume_backend_name"] != tc.kind || caps["vendor_name"] != "Open Source" {
				t.Errorf("capabilities = %v", caps)
			}
			props, _ := caps["properties"].(map[string]any)
			for _, k := range []string{"thin_provisioning", "compression", "qos", "replication_enabled"} {
				p, _ := props[k].(map[string]any)
				if p["type"] != "boolean" || p["title"] == nil || p["description"] == nil {
					t.Errorf("properties[%s] = %v, want {title, description, type boolean}", k, p)
				}
			}
			if props["thin_provisioning"].(map[string]any)["title"] != "Thin Provisioning" {
				t.Errorf("thin_provisioning title = %v", props["thin_provisioning"])
			}

			// discover=false answers the snapshot of Init; discover=true retakes it.
			e.backend.TotalCapacityGB = 20
			if got := poolTotal(t, ctx, e, false); got != 10 {
				t.Errorf("cached total_capacity_gb = %v, want 10", got)
			}
			if got := poolTotal(t, ctx, e, true); got != 20 {
				t.Errorf("discovered total_capacity_gb = %v, want 20", got)
			}
		})
	}
}

func poolTotal(t *testing.T, ctx context.Context, e *env, discover bool) float64 {
	t.Helper()
	caps, err := e.client.GetCapabilities(ctx, e.mgr.Host(), discover)
	if err != nil {
		t.Fatal(err)
	}
	pools, _ := caps["pools"].([]any)
	if len(pools) != 1 {
		t.Fatalf("pools = %v, want one", caps["pools"])
	}
	total, _ := pools[0].(map[string]any)["total_capacity_gb"].(float64)
	return total
}

func TestInitRecovers(t *testing.T) {
	e := newEnv(t, "thin")
	creating := e.volume(t, "node1@thin#thin", cinder.StatusCreating, 1)
	deleting := e.volume(t, "node1@thin#thin", cinder.StatusDeleting, 1)
	extending := e.volume(t, "node1@thin#thin", cinder.StatusExtending, 1)
	elsewhere := e.volume(t, "node1@other#other", cinder.StatusCreating, 1)
	if err := os.MkdirAll(e.backend.VolumesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A create killed midway leaves part of a file, a delete killed midway all of it.
	for _, v := range []*cinder.Volume{creating, deleting} {
		if err := os.WriteFile(e.file(v), []byte("data"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.start(t)

	ctx := context.Background()
	status := func(v *cinder.Volume) string {
		got, err := e.store.GetVolume(ctx, v.ID)
		if cinder.IsNotFound(err) {
			return "gone"
		}
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	for _, c := range []struct {
		v    *cinder.Volume
		want string
	}{
		{creating, cinder.StatusError},
		{deleting, "gone"},
		{extending, cinder.StatusExtending}, // as Cinder: left for an admin
		{elsewhere, cinder.StatusCreating},  // another backend's
	} {
		if got := status(c.v); got != c.want {
			t.Errorf("volume left %s: now %s, want %s", c.v.Status, got, c.want)
		}
	}
	for _, v := range []*cinder.Volume{creating, deleting} {
		if _, err := os.Stat(e.file(v)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("file of the volume left %s: %v, want gone", v.Status, err)
		}
	}
}

func TestStatsReports(t *testing.T) {
	e := newEnv(t, "thin")
	e.volume(t, "node1@thin#thin", cinder.StatusAvailable, 2)
	e.volume(t, "node1@thin#thin", cinder.StatusInUse, 3)
	e.volume(t, "node1@thick#thick", cinder.StatusAvailable, 4)
	e.start(t)

	if e.reports.count() != 1 {
		t.Fatalf("reports after Init = %d, want 1", e.reports.count())
	}
	r := e.reports.last()
	caps := r["capabilities"].(map[string]any)
	if r["host"] != "node1@thin" || caps["sparse_copy_volume"] != true {
		t.Errorf("report = %v", r)
	}
	pools := caps["pools"].([]any)
	if len(pools) != 1 || pools[0].(map[string]any)["allocated_capacity_gb"] != 5 {
		t.Errorf("pools = %v, want one with allocated_capacity_gb 5", pools)
	}
	if _, ok := caps["filter_function"]; !ok {
		t.Errorf("report lacks filter_function: %v", caps)
	}

	// A starting scheduler's fanout asks for a report now.
	if err := e.client.PublishServiceCapabilities(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitCount(t, e.reports, 2)
}

func TestRunReportsPeriodically(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	m := manager.New(&conf.Config{Host: "node1", BackendStatsPollingInterval: 20 * time.Millisecond},
		e.backend, e.store, thin.New(e.backend, "node1@thin"), e.reports, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitCount(t, e.reports, 5) // 1 from Init, 1 as Run starts, 3 periodic
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after cancel", err)
	}

	bad := manager.New(&conf.Config{Host: "node1"}, e.backend, e.store, nil, e.reports, nil)
	if err := bad.Run(context.Background()); err == nil {
		t.Error("Run with no polling interval: want an error")
	}
}

// TestRunReportsAtOnce: a backend that starts serving reports its stats
// then, not a polling interval later, for a scheduler that started after
// Init's report.
func TestRunReportsAtOnce(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	before := e.reports.count()
	m := manager.New(&conf.Config{Host: "node1", BackendStatsPollingInterval: time.Hour},
		e.backend, e.store, thin.New(e.backend, "node1@thin"), e.reports, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitCount(t, e.reports, before+1)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after cancel", err)
	}
}

func waitCount(t *testing.T, r *reports, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("reports = %d, want %d", r.count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
