package scheduler_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/drivers/thick"
	"github.com/cinder-go/cinder/drivers/thin"
	"github.com/cinder-go/cinder/internal/testdb"
	"github.com/cinder-go/cinder/internal/testenv"
	"github.com/cinder-go/cinder/internal/testrpc"
	"github.com/cinder-go/cinder/manager"
	"github.com/cinder-go/cinder/rpc"
	"github.com/cinder-go/cinder/scheduler"
)

// cloud is a scheduler and cinder-volume backends on one host over one
// transport and one SQLite file.
type cloud struct {
	host     string
	cfg      *conf.Config
	store    *db.DB
	tr       *rpc.Transport
	client   *scheduler.Client
	sched    *scheduler.Scheduler
	volumes  *manager.Client
	dirs     map[string]string          // volumes_dir by backend name
	services map[string]*cinder.Service // by backend name
}

// newCloud starts a scheduler on node1 over a fake transport with Cinder's
// default filters and weigher, taking services silent for longer than
// downTime as down; tweaks may change its configuration first.
func newCloud(t *testing.T, downTime time.Duration, tweaks ...func(*conf.Config)) *cloud {
	t.Helper()
	return newCloudOn(t, "fake://"+uuid.NewString(), "node1", downTime, tweaks...)
}

// newCloudOn is newCloud over transport url on host.
func newCloudOn(t *testing.T, url, host string, downTime time.Duration, tweaks ...func(*conf.Config)) *cloud {
	t.Helper()
	store := testdb.SQLite(t)
	tr := testrpc.Dial(t, url, 10*time.Second)

	c := &cloud{
		host: host,
		cfg: &conf.Config{
			Host:                        host,
			ServiceDownTime:             downTime,
			BackendStatsPollingInterval: time.Hour,
			SchedulerDefaultFilters:     []string{"AvailabilityZoneFilter", "CapacityFilter", "CapabilitiesFilter"},
			SchedulerDefaultWeighers:    []string{"CapacityWeigher"},
		},
		store: store, tr: tr,
		client:   scheduler.NewClient(tr),
		volumes:  manager.NewClient(tr),
		dirs:     map[string]string{},
		services: map[string]*cinder.Service{},
	}
	for _, tweak := range tweaks {
		tweak(c.cfg)
	}
	s, err := scheduler.New(c.cfg, store, c.volumes)
	if err != nil {
		t.Fatal(err)
	}
	c.sched = s
	c.serve(t, s.Targets(), s.Endpoint())
	return c
}

func (c *cloud) serve(t *testing.T, targets []rpc.Target, ep rpc.Endpoint) {
	t.Helper()
	srv := rpc.NewServer(c.tr, targets, ep)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
}

// register records the service of backend <host>@<name>, up from now.
func (c *cloud) register(t *testing.T, name string) *cinder.Service {
	t.Helper()
	svc := &cinder.Service{Host: c.host + "@" + name, Binary: cinder.BinaryVolume, Topic: cinder.TopicVolume, AvailabilityZone: "nova"}
	if err := c.store.CreateService(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	return svc
}

// addBackend registers (unless registered already) and starts backend
// <host>@<name> of kind thin or thick with 10 GiB; its Init reports its
// stats to the scheduler.
func (c *cloud) addBackend(t *testing.T, name, kind string) {
	t.Helper()
	ctx := context.Background()
	b := &conf.Backend{
		Name: name, VolumeDriver: kind, VolumeBackendName: name,
		VolumesDir: filepath.Join(t.TempDir(), name), MaxOverSubscriptionRatio: 20,
		TotalCapacityGB: 10, VolumeClear: "none", AvailabilityZone: "nova",
	}
	svc, err := c.store.GetService(ctx, c.host+"@"+name, cinder.BinaryVolume)
	if cinder.IsNotFound(err) {
		svc, err = c.register(t, name), nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var drv drivers.Driver = thin.New(b, svc.Host)
	if kind == "thick" {
		drv = thick.New(b, svc.Host)
	}
	m := manager.New(c.cfg, b, c.store, drv, c.client, c.volumes)
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	c.serve(t, m.Targets(), m.Endpoint())
	c.dirs[name], c.services[name] = b.VolumesDir, svc
}

// pools polls get_pools until it names exactly want (sorted) and returns it.
func (c *cloud) pools(t *testing.T, want ...string) []cinder.Pool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pools, err := c.client.GetPools(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range pools {
			names = append(names, p.Name)
		}
		if slices.Equal(names, want) {
			return pools
		}
		if time.Now().After(deadline) {
			t.Fatalf("get_pools names %v, want %v", names, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// create inserts a creating volume as the API does and casts it to the scheduler.
func (c *cloud) create(t *testing.T, size int, vt *cinder.VolumeType) *cinder.Volume {
	t.Helper()
	v := c.insert(t, size, "", vt)
	if err := c.client.CreateVolume(context.Background(), v, cinder.RequestSpec{VolumeID: v.ID, Size: size}); err != nil {
		t.Fatal(err)
	}
	return v
}

// insert inserts a creating volume of type vt (may be nil) on host (""
// before scheduling) and sends nothing.
func (c *cloud) insert(t *testing.T, size int, host string, vt *cinder.VolumeType) *cinder.Volume {
	t.Helper()
	v := &cinder.Volume{ProjectID: "p", UserID: "u", Size: size, Status: cinder.StatusCreating,
		AttachStatus: "detached", AvailabilityZone: "nova", Host: host}
	if vt != nil {
		v.VolumeTypeID = vt.ID
	}
	if err := c.store.CreateVolume(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	return v
}

// wait polls until volume id leaves creating and returns it.
func (c *cloud) wait(t *testing.T, id string) *cinder.Volume {
	t.Helper()
	return testdb.WaitVolume(t, c.store, id, 10*time.Second, "it to leave creating", func(v *cinder.Volume) bool {
		return v.Status != cinder.StatusCreating
	})
}

func TestCreateVolumeIsPlacedAndCreated(t *testing.T) {
	c := newCloud(t, time.Minute)
	c.addBackend(t, "thin", "thin")
	c.addBackend(t, "thick", "thick")
	c.pools(t, "node1@thick#thick", "node1@thin#thin")

	// With no type, the most virtual free capacity wins: thin's 10 GiB × 20.
	v := c.wait(t, c.create(t, 1, nil).ID)
	if v.Status != cinder.StatusAvailable || v.Host != "node1@thin#thin" || v.AvailabilityZone != "nova" {
		t.Fatalf("volume = %s on %q in %q, want available on node1@thin#thin in nova", v.Status, v.Host, v.AvailabilityZone)
	}
	if _, err := os.Stat(filepath.Join(c.dirs["thin"], v.Name())); err != nil {
		t.Errorf("thin volume file: %v", err)
	}

	// volume_backend_name in the type's extra specs steers it to thick.
	vt := &cinder.VolumeType{Name: "thick", ExtraSpecs: map[string]string{"volume_backend_name": "thick"}}
	if err := c.store.CreateVolumeType(context.Background(), vt); err != nil {
		t.Fatal(err)
	}
	v = c.wait(t, c.create(t, 1, vt).ID)
	if v.Status != cinder.StatusAvailable || v.Host != "node1@thick#thick" {
		t.Fatalf("typed volume = %s on %q, want available on node1@thick#thick", v.Status, v.Host)
	}
	if _, err := os.Stat(filepath.Join(c.dirs["thick"], v.Name())); err != nil {
		t.Errorf("thick volume file: %v", err)
	}
}

func TestNoValidBackendSetsError(t *testing.T) {
	c := newCloud(t, time.Minute)
	c.addBackend(t, "thick", "thick")
	c.pools(t, "node1@thick#thick")

	v := c.wait(t, c.create(t, 11, nil).ID) // 10 GiB thick backend
	if v.Status != cinder.StatusError || v.Host != "" {
		t.Fatalf("volume = %s on %q, want error with no host", v.Status, v.Host)
	}
	// The owner learns why from a user message.
	msgs, err := c.store.ListMessages(context.Background(), v.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].ResourceUUID != v.ID || msgs[0].EventID != "VOLUME_VOLUME_001_003" ||
		!strings.Contains(msgs[0].UserMessage, "Could not find any available weighted backend") {
		t.Fatalf("user messages after no valid backend: %+v", msgs)
	}

	vt := &cinder.VolumeType{Name: "gold", ExtraSpecs: map[string]string{"volume_backend_name": "gold"}}
	if err := c.store.CreateVolumeType(context.Background(), vt); err != nil {
		t.Fatal(err)
	}
	if v := c.wait(t, c.create(t, 1, vt).ID); v.Status != cinder.StatusError {
		t.Fatalf("volume of a type no backend matches = %s, want error", v.Status)
	}
}

func TestBurstSpreadsBeforeTheNextReport(t *testing.T) {
	c := newCloud(t, time.Minute)
	c.addBackend(t, "a", "thin")
	c.addBackend(t, "b", "thin")
	c.pools(t, "node1@a#a", "node1@b#b")

	var ids []string
	for range 4 {
		ids = append(ids, c.create(t, 5, nil).ID)
	}
	count := map[string]int{}
	for _, id := range ids {
		count[c.wait(t, id).Host]++
	}
	if count["node1@a#a"] != 2 || count["node1@b#b"] != 2 {
		t.Fatalf("placements = %v, want 2 on each backend", count)
	}
}

func TestStatsReachGetPools(t *testing.T) {
	c := newCloud(t, time.Minute)
	c.addBackend(t, "thin", "thin")
	pools := c.pools(t, "node1@thin#thin")
	caps := pools[0].Capabilities
	if caps["total_capacity_gb"] != 10.0 || caps["volume_backend_name"] != "thin" || caps["allocated_capacity_gb"] != 0.0 {
		t.Fatalf("capabilities = %v", caps)
	}
	if caps["thin_provisioning_support"] != true || caps["timestamp"] == nil {
		t.Fatalf("capabilities = %v", caps)
	}

	c.wait(t, c.create(t, 2, nil).ID)
	// A fanout asks every backend to report now (as a starting scheduler does).
	if err := c.volumes.PublishServiceCapabilities(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.pools(t, "node1@thin#thin")[0].Capabilities["allocated_capacity_gb"] != 2.0 {
		if time.Now().After(deadline) {
			t.Fatalf("allocated_capacity_gb never became 2: %v", c.pools(t, "node1@thin#thin")[0].Capabilities)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDownServicesAreLeftOut(t *testing.T) {
	ctx := context.Background()
	c := newCloud(t, 500*time.Millisecond)
	c.addBackend(t, "thin", "thin")
	c.pools(t, "node1@thin#thin")

	// Without a heartbeat the service goes down and its pools go.
	c.pools(t)
	if v := c.wait(t, c.create(t, 1, nil).ID); v.Status != cinder.StatusError {
		t.Fatalf("volume with its only backend down = %s, want error", v.Status)
	}
	// A heartbeat brings the held stats back.
	if err := c.store.Heartbeat(ctx, c.services["thin"].ID); err != nil {
		t.Fatal(err)
	}
	c.pools(t, "node1@thin#thin")
}

func TestDisabledServicesAreLeftOut(t *testing.T) {
	ctx := context.Background()
	c := newCloud(t, time.Minute)
	c.addBackend(t, "thin", "thin")
	c.pools(t, "node1@thin#thin")
	if _, err := c.store.UpdateService(ctx, c.services["thin"].ID, func(s *cinder.Service) error {
		s.Disabled = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.pools(t)
}

func TestMalformedRequestSpecSetsError(t *testing.T) {
	c := newCloud(t, time.Minute)
	ctx := context.Background()
	v := &cinder.Volume{ProjectID: "p", Size: 1, Status: cinder.StatusCreating, AvailabilityZone: "nova"}
	if err := c.store.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	raw := rpc.NewClient(c.tr, rpc.Target{Topic: cinder.TopicScheduler, Version: "3.0"}, 0)
	err := raw.Cast(ctx, "create_volume", map[string]any{
		"volume": map[string]any{"id": v.ID}, "request_spec": map[string]any{"size": "big"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.wait(t, v.ID); got.Status != cinder.StatusError {
		t.Fatalf("volume with a malformed request_spec = %s, want error", got.Status)
	}
}

func TestOverRabbitMQ(t *testing.T) {
	// A host of its own keeps this run's queues apart from any other's.
	host := "node-" + uuid.NewString()[:8]
	c := newCloudOn(t, testenv.RabbitURL(t), host, time.Minute)
	c.addBackend(t, "thin", "thin")
	c.pools(t, host+"@thin#thin")
	v := c.wait(t, c.create(t, 1, nil).ID)
	if v.Status != cinder.StatusAvailable || v.Host != host+"@thin#thin" {
		t.Fatalf("volume = %s on %q, want available on %s@thin#thin", v.Status, v.Host, host)
	}
}

func TestGetPoolsFilters(t *testing.T) {
	c := newCloud(t, time.Minute)
	c.addBackend(t, "thin", "thin")
	c.addBackend(t, "thick", "thick")
	c.pools(t, "node1@thick#thick", "node1@thin#thin")
	vt := &cinder.VolumeType{Name: "fast", ExtraSpecs: map[string]string{"thin_provisioning_support": "<is> True"}}
	if err := c.store.CreateVolumeType(context.Background(), vt); err != nil {
		t.Fatal(err)
	}
	raw := rpc.NewClient(c.tr, rpc.Target{Topic: cinder.TopicScheduler, Version: "3.0"}, 0)
	for _, tc := range []struct {
		filters map[string]any
		want    []string
	}{
		{map[string]any{"name": "node1@thick#thick"}, []string{"node1@thick#thick"}},
		{map[string]any{"volume_type": "fast"}, []string{"node1@thin#thin"}},
		{map[string]any{"volume_type": vt.ID}, []string{"node1@thin#thin"}},
		{map[string]any{"thick_provisioning_support": "true"}, []string{"node1@thick#thick"}},
		{map[string]any{"volume_backend_name": "none"}, nil},
	} {
		var pools []cinder.Pool
		if err := raw.Call(context.Background(), "get_pools", map[string]any{"filters": tc.filters}, &pools); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range pools {
			names = append(names, p.Name)
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("get_pools %v = %v, want %v", tc.filters, names, tc.want)
		}
	}
}

// TestCloneStaysOnItsSourcesBackend: a volume made from another goes to
// the backend holding its source (Cinder's resource_backend), though the
// capacity weigher would pick another, and holds the source's bytes.
func TestCloneStaysOnItsSourcesBackend(t *testing.T) {
	c := newCloud(t, time.Minute)
	c.addBackend(t, "thin", "thin")
	c.addBackend(t, "thick", "thick")
	c.pools(t, "node1@thick#thick", "node1@thin#thin")
	vt := &cinder.VolumeType{Name: "thick", ExtraSpecs: map[string]string{"volume_backend_name": "thick"}}
	if err := c.store.CreateVolumeType(context.Background(), vt); err != nil {
		t.Fatal(err)
	}
	src := c.wait(t, c.create(t, 1, vt).ID)
	if src.Host != "node1@thick#thick" {
		t.Fatalf("source on %q", src.Host)
	}
	c.mark(t, "thick", src, 4096)
	clone := c.insert(t, 1, "", nil)
	if _, err := c.store.UpdateVolume(context.Background(), clone.ID, func(v *cinder.Volume) error {
		v.SourceVolID = src.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	spec := cinder.RequestSpec{VolumeID: clone.ID, Size: 1, SourceVolID: src.ID, ResourceBackend: "node1@thick"}
	if err := c.client.CreateVolume(context.Background(), clone, spec); err != nil {
		t.Fatal(err)
	}
	v := c.wait(t, clone.ID)
	if v.Status != cinder.StatusAvailable || v.Host != "node1@thick#thick" {
		t.Fatalf("clone = %s on %q, want available on node1@thick#thick", v.Status, v.Host)
	}
	if !c.marked(t, "thick", v, 4096) {
		t.Fatal("the clone lacks its source's bytes")
	}
}
