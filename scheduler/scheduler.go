// Package scheduler is cinder-scheduler's filter scheduler: it keeps every
// backend's latest stats, filters and weighs their pools to place a new
// volume, records the choice and hands the volume to its backend, as
// cinder/scheduler/{manager,filter_scheduler,host_manager}.py.
package scheduler

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/rpc"
)

// RPCAPIVersion is the version the scheduler endpoint serves, as
// cinder/scheduler/rpcapi.py's RPC_API_VERSION.
const RPCAPIVersion = "3.12"

// Volumes hands a placed volume or group to its backend's cinder-volume, a
// volume to migrate or retype to its backend with the destination pool and
// that pool's capabilities, and a cleanup or a volume to manage to a
// backend (*manager.Client does).
type Volumes interface {
	CreateVolume(ctx context.Context, v *cinder.Volume, spec map[string]any) error
	MigrateVolume(ctx context.Context, v *cinder.Volume, host string, capabilities map[string]any, forceHostCopy bool) error
	Retype(ctx context.Context, v *cinder.Volume, newTypeID, host string, capabilities map[string]any, migrationPolicy string) error
	DoCleanup(ctx context.Context, host string, req cinder.CleanupRequest) error
	ManageExisting(ctx context.Context, v *cinder.Volume, ref map[string]any) error
	ManageExistingSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot, ref map[string]any) error
	CreateGroup(ctx context.Context, g *cinder.Group) error
}

// Scheduler places volumes on pools from the stats the backends report.
type Scheduler struct {
	host     string
	store    *db.DB
	volumes  Volumes
	downTime time.Duration
	filters  []filter
	weighers []weigher

	started       time.Time     // when the scheduler was made, at service start
	initWait      time.Duration // scheduler_driver_init_wait_time
	interval      time.Duration // periodic_interval
	cleanInterval time.Duration // reservation_clean_interval
	createTimeout time.Duration // scheduler_create_volume_timeout
	ready         atomic.Bool   // every backend reported, or initWait passed

	mu       sync.Mutex               // guards reports and backends; held through a placement
	reports  map[string]report        // the latest stats of each host@backend
	backends map[string]*backendState // pools of the backends that are up, from reports
}

// report is one update_service_capabilities of a backend.
type report struct {
	capabilities map[string]any
	timestamp    time.Time
}

// New returns a scheduler using cfg's filters and weighers
// (scheduler_default_filters, scheduler_default_weighers), service_down_time,
// scheduler_driver_init_wait_time, periodic_interval,
// reservation_clean_interval and scheduler_create_volume_timeout; a name
// it does not know is an error.
func New(cfg *conf.Config, store *db.DB, volumes Volumes) (*Scheduler, error) {
	filters, err := lookup("filter", cfg.SchedulerDefaultFilters, filterFuncs,
		func(name string, f func(*poolState, *request) bool) filter { return filter{name, f} })
	if err != nil {
		return nil, err
	}
	weighers, err := lookup("weigher", cfg.SchedulerDefaultWeighers, weigherFuncs,
		func(name string, w func(*poolState, *request) float64) weigher { return weigher{name, w} })
	if err != nil {
		return nil, err
	}
	return &Scheduler{
		host:          cfg.Host,
		store:         store,
		volumes:       volumes,
		downTime:      cfg.ServiceDownTime,
		filters:       filters,
		weighers:      weighers,
		started:       time.Now(),
		initWait:      cfg.SchedulerDriverInitWaitTime,
		interval:      cmp.Or(cfg.PeriodicInterval, defaultPeriodicInterval),
		cleanInterval: cmp.Or(cfg.ReservationCleanInterval, defaultReservationCleanInterval),
		createTimeout: cmp.Or(cfg.SchedulerCreateVolumeTimeout, defaultCreateTimeout),
		reports:       make(map[string]report),
		backends:      make(map[string]*backendState),
	}, nil
}

// Targets are what the scheduler's RPC server listens on.
func (s *Scheduler) Targets() []rpc.Target {
	return []rpc.Target{{Topic: cinder.TopicScheduler, Server: s.host}}
}

// Endpoint is the scheduler's RPC API.
func (s *Scheduler) Endpoint() rpc.Endpoint {
	return rpc.Endpoint{
		Version: RPCAPIVersion,
		Methods: map[string]rpc.Handler{
			"create_volume":               s.createVolume,
			"update_service_capabilities": s.updateServiceCapabilities,
			"get_pools":                   s.getPools,
			"migrate_volume":              s.migrateVolume,
			"retype":                      s.retype,
			"work_cleanup":                s.workCleanup,
			"manage_existing":             s.manageExisting,
			"manage_existing_snapshot":    s.manageExistingSnapshot,
			"create_group":                s.createGroup,
			"validate_host_capacity":      s.validateHostCapacity,
		},
	}
}

// loadVolume reads volume id, which a request of method names, once the
// backends have reported (waitReady); nil without error when the volume no
// longer exists, as the request then has nothing to do.
func (s *Scheduler) loadVolume(ctx context.Context, method, id string) (*cinder.Volume, error) {
	if id == "" {
		return nil, cinder.InvalidInput("%s names no volume", method)
	}
	s.waitReady(ctx)
	v, err := s.store.GetVolume(ctx, id)
	if cinder.IsNotFound(err) {
		slog.Warn("volume of a request no longer exists", "method", method, "volume_id", id)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s of volume %s: %w", method, id, err)
	}
	return v, nil
}

// createVolume places a volume still creating on the best pool, records the
// pool as its host and casts create_volume to that backend. With no valid
// backend the volume goes to error (the reason is logged with its id). A
// request for a volume no longer creating (failed by expireCreating while the
// request was held up) is ignored. Early after start it waits for the
// backends' stats (waitReady).
func (s *Scheduler) createVolume(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Volume struct {
			ID string `json:"id"`
		} `json:"volume"` // only a hint: the row is read again
		RequestSpec json.RawMessage `json:"request_spec"`
	}
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, cinder.InvalidInput("create_volume arguments: %v", err)
	}
	var spec cinder.RequestSpec
	var specMap map[string]any
	if len(args.RequestSpec) > 0 {
		if err := json.Unmarshal(args.RequestSpec, &spec); err != nil {
			err = cinder.InvalidInput("create_volume request_spec: %v", err)
			if args.Volume.ID != "" {
				s.fail(ctx, args.Volume.ID, err)
			}
			return nil, err
		}
		_ = json.Unmarshal(args.RequestSpec, &specMap) // valid JSON: decoded just above
	}
	v, err := s.loadVolume(ctx, "create_volume", cmp.Or(args.Volume.ID, spec.VolumeID))
	if v == nil || err != nil {
		return nil, err
	}
	if v.Status != cinder.StatusCreating {
		slog.Warn("volume to schedule is no longer creating; ignoring the request", "volume_id", v.ID, "status", v.Status)
		return nil, nil
	}
	err = s.place(ctx, v, spec, specMap)
	if err != nil {
		s.fail(ctx, v.ID, err)
	}
	return settled(err)
}

// requestFor is what placing v asks of a pool: its size, the spec's zone
// or v's, and the extra specs of the spec's volume type or v's.
func (s *Scheduler) requestFor(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec) (*request, error) {
	r := &request{
		volumeID:          v.ID,
		size:              v.Size,
		availabilityZone:  cmp.Or(spec.AvailabilityZone, v.AvailabilityZone),
		availabilityZones: spec.AvailabilityZones,
		resourceBackend:   spec.ResourceBackend,
	}
	vt := spec.VolumeType
	if vt == nil && v.VolumeTypeID != "" {
		var err error
		if vt, err = s.store.GetVolumeType(ctx, v.VolumeTypeID); err != nil {
			return nil, fmt.Errorf("volume type of volume %s: %w", v.ID, err)
		}
	}
	if vt != nil {
		r.extraSpecs = vt.ExtraSpecs
	}
	return r, nil
}

// place chooses v's pool, records it and hands v to the pool's backend.
func (s *Scheduler) place(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec, specMap map[string]any) error {
	r, err := s.requestFor(ctx, v, spec)
	if err != nil {
		return err
	}
	host, az, err := s.schedule(ctx, r)
	if err != nil {
		return err
	}
	stale := false
	placed, err := s.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		if v.Status != cinder.StatusCreating {
			stale = true
			return cinder.InvalidVolume("volume %s is %s, no longer creating", v.ID, v.Status)
		}
		v.Host = host
		if az != "" {
			v.AvailabilityZone = az
		}
		return nil
	})
	if stale || cinder.IsNotFound(err) {
		slog.Warn("volume changed while being scheduled; leaving it", "volume_id", v.ID, "host", host, "reason", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("record host %s of volume %s: %w", host, v.ID, err)
	}
	slog.Info("scheduled volume", "volume_id", v.ID, "host", host, "size_gb", v.Size)
	if err := s.volumes.CreateVolume(ctx, placed, specMap); err != nil {
		return fmt.Errorf("cast create_volume of volume %s to %s: %w", v.ID, host, err)
	}
	return nil
}

// fail sets a volume that could not be placed to error, if still creating,
// and logs why with its id, as the scheduler's create flow does on failure.
func (s *Scheduler) fail(ctx context.Context, id string, cause error) {
	slog.Error("failed to schedule volume", "volume_id", id, "reason", cause)
	// The message first: a user who sees the error finds why.
	if v, err := s.store.GetVolume(ctx, id); err == nil && v.Status == cinder.StatusCreating {
		s.tell(ctx, v, cause)
	}
	_, err := s.store.UpdateVolume(ctx, id, func(v *cinder.Volume) error {
		if v.Status != cinder.StatusCreating {
			return cinder.InvalidVolume("volume %s is %s", v.ID, v.Status)
		}
		v.Status = cinder.StatusError
		return nil
	})
	if err != nil {
		slog.Warn("could not set unscheduled volume to error", "volume_id", id, "err", err)
	}
}

// messageTTL is Cinder's message_ttl: how long a user message is kept.
const messageTTL = 30 * 24 * time.Hour

// tell leaves the volume's owner a user message saying why scheduling
// failed, as Cinder's message API: event VOLUME_VOLUME_001_<detail>.
func (s *Scheduler) tell(ctx context.Context, v *cinder.Volume, cause error) {
	detail, text := "001", "An unknown error occurred."
	if cinder.IsNoValidBackend(cause) {
		detail, text = "003", "Could not find any available weighted backend."
	}
	m := &cinder.Message{
		ProjectID:    v.ProjectID,
		RequestID:    cinder.FromContext(ctx).RequestID,
		ResourceType: "VOLUME",
		ResourceUUID: v.ID,
		EventID:      "VOLUME_VOLUME_001_" + detail,
		Level:        "ERROR",
		UserMessage:  "schedule allocate volume: " + text,
		ExpiresAt:    time.Now().Add(messageTTL),
	}
	if err := s.store.CreateMessage(ctx, m); err != nil {
		slog.Warn("could not record user message", "volume_id", v.ID, "err", err)
	}
}

// schedule filters and weighs the pools of the backends that are up and
// consumes r's size from the best, returning its host@backend#pool and
// availability zone; cinder.NoValidBackend when no pool passes.
func (s *Scheduler) schedule(ctx context.Context, r *request) (host, az string, err error) {
	var keep func(*poolState) bool
	if r.resourceBackend != "" {
		// A volume made from a snapshot or another volume goes where its
		// source is, as Cinder's resource_backend.
		keep = func(p *poolState) bool { return cinder.SameBackend(p.host, r.resourceBackend) }
	}
	err = s.ranked(ctx, r, keep, func(ranked []*poolState, rejectedBy string) error {
		if len(ranked) == 0 {
			detail := "no backend that is up has reported stats"
			if rejectedBy != "" {
				detail = rejectedBy + " rejected every remaining pool"
			}
			return fmt.Errorf("%d GiB in zone %q: %s: %w", r.size, r.availabilityZone, detail,
				cinder.NoValidBackend("No weighed backends available"))
		}
		best := ranked[0]
		best.consume(r.size, time.Now())
		host, az = best.host, best.availabilityZone
		return nil
	})
	return host, az, err
}

// ranked calls fn, under the scheduler's lock with the pools refreshed from
// the latest reports, with the pools that pass the filters for r, best
// weighed first, and the filter that rejected the last of the others; keep,
// when set, narrows the candidates first.
func (s *Scheduler) ranked(ctx context.Context, r *request, keep func(*poolState) bool, fn func(ranked []*poolState, rejectedBy string) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(ctx); err != nil {
		return err
	}
	pools := s.pools()
	if keep != nil {
		pools = slices.DeleteFunc(pools, func(p *poolState) bool { return !keep(p) })
	}
	return fn(rank(pools, s.filters, s.weighers, r))
}

// settled is what a cast handler returns once it recorded err on the
// volume: nothing for NoValidBackend, an expected outcome, err otherwise,
// for the RPC server to log.
func settled(err error) (any, error) {
	if err == nil || cinder.IsNoValidBackend(err) {
		return nil, nil
	}
	return nil, err
}

// refresh rebuilds the backend states from the latest reports of the
// cinder-volume services that are schedulable; the others' pools are
// dropped (_update_backend_state_map). Call with s.mu held.
func (s *Scheduler) refresh(ctx context.Context) error {
	services, err := s.store.ListServices(ctx, "", cinder.BinaryVolume)
	if err != nil {
		return fmt.Errorf("list volume services: %w", err)
	}
	now := time.Now()
	active := make(map[string]bool, len(services))
	for _, svc := range services {
		if !schedulable(svc, now, s.downTime) {
			continue
		}
		rep, ok := s.reports[svc.Host]
		if !ok {
			continue
		}
		b := s.backends[svc.Host]
		if b == nil {
			b = &backendState{pools: make(map[string]*poolState)}
			s.backends[svc.Host] = b
		}
		b.update(svc.Host, rep.capabilities, rep.timestamp, svc.AvailabilityZone)
		active[svc.Host] = true
	}
	for host := range s.backends {
		if !active[host] {
			slog.Info("removing backend that is down, disabled, frozen or silent from the scheduler", "host", host)
			delete(s.backends, host)
		}
	}
	return nil
}

// schedulable reports whether svc's backend may take volumes: up at now,
// neither disabled nor frozen, as the services Cinder's host manager reads
// (disabled=False, frozen=False).
func schedulable(svc *cinder.Service, now time.Time, downTime time.Duration) bool {
	return !svc.Disabled && !svc.Frozen && svc.Up(now, downTime)
}

// pools returns every known pool ordered by host@backend#pool. Call with
// s.mu held.
func (s *Scheduler) pools() []*poolState {
	var out []*poolState
	for _, b := range s.backends {
		for _, p := range b.pools {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *poolState) int { return strings.Compare(a.host, b.host) })
	return out
}

// updateServiceCapabilities records a backend's stats unless an equally
// recent or newer report is already held (fanout from every cinder-volume).
func (s *Scheduler) updateServiceCapabilities(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		ServiceName  string         `json:"service_name"`
		Host         string         `json:"host"`
		Capabilities map[string]any `json:"capabilities"`
		ClusterName  string         `json:"cluster_name"`
		Timestamp    string         `json:"timestamp"`
	}
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, cinder.InvalidInput("update_service_capabilities arguments: %v", err)
	}
	if args.ServiceName != "volume" {
		slog.Debug("ignoring capabilities of a service that is not volume", "service", args.ServiceName, "host", args.Host)
		return nil, nil
	}
	backend := cmp.Or(args.ClusterName, args.Host)
	if backend == "" {
		return nil, cinder.InvalidInput("update_service_capabilities names no host")
	}
	ts := time.Now().UTC()
	if args.Timestamp != "" {
		var err error
		if ts, err = parseTimestamp(args.Timestamp); err != nil {
			return nil, cinder.InvalidInput("update_service_capabilities timestamp %q: %v", args.Timestamp, err)
		}
	}
	if args.Capabilities == nil {
		args.Capabilities = map[string]any{}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.reports[backend]; ok && ts.Before(old.timestamp) {
		slog.Info("ignoring old capability report", "host", backend, "timestamp", ts, "held", old.timestamp)
		return nil, nil
	}
	s.reports[backend] = report{capabilities: args.Capabilities, timestamp: ts}
	slog.Debug("received volume service capabilities", "host", backend, "timestamp", ts)
	return nil, nil
}

// getPools answers the pools of the backends that are up with their
// capabilities. Cinder's filters are honoured: name (host@backend#pool),
// volume_type (name or id, its extra specs matched as CapabilitiesFilter),
// and any other key compared with the pool's capability of that name.
func (s *Scheduler) getPools(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Filters map[string]any `json:"filters"`
	}
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, cinder.InvalidInput("get_pools arguments: %v", err)
	}
	filters := maps.Clone(args.Filters)
	name, _ := filters["name"].(string)
	delete(filters, "name")
	var byType *request
	if typ, _ := filters["volume_type"].(string); typ != "" {
		vt, err := s.store.GetVolumeTypeByName(ctx, typ)
		if cinder.IsNotFound(err) {
			vt, err = s.store.GetVolumeType(ctx, typ)
		}
		if err != nil {
			return nil, fmt.Errorf("get_pools volume type %s: %w", typ, err)
		}
		byType = &request{extraSpecs: vt.ExtraSpecs}
	}
	delete(filters, "volume_type")

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	out := []cinder.Pool{}
	for _, p := range s.pools() {
		if (name != "" && p.host != name) || (byType != nil && !capabilitiesFilter(p, byType)) {
			continue
		}
		if !equalsAll(p.capabilities, filters) {
			continue
		}
		out = append(out, cinder.Pool{Name: p.host, Capabilities: maps.Clone(p.capabilities)})
	}
	return out, nil
}

// equalsAll reports whether every filter value equals the capability of its
// name, compared as HostManager._equal_after_convert: same-typed values
// directly, a bool capability with the value read as a bool, otherwise as text.
func equalsAll(caps, filters map[string]any) bool {
	for k, want := range filters {
		have := caps[k]
		switch h := have.(type) {
		case nil:
			if want != nil {
				return false
			}
		case bool:
			if h != boolFromString(want) {
				return false
			}
		default:
			if fmt.Sprint(h) != fmt.Sprint(want) {
				return false
			}
		}
	}
	return true
}
