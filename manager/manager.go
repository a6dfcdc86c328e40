// Package manager is cinder-volume's volume manager, one per enabled
// backend: it serves the backend's RPC API, drives its driver, recovers
// interrupted work at start and reports the backend's stats to the
// schedulers, as cinder/volume/manager.py.
package manager

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/rpc"
	"github.com/cinder-go/cinder/volume"
)

// RPCAPIVersion is the version the volume endpoint serves, as
// cinder/volume/rpcapi.py's RPC_API_VERSION.
const RPCAPIVersion = "3.20"

// Reporter sends a backend's stats to the schedulers (*scheduler.Client does).
type Reporter interface {
	UpdateServiceCapabilities(ctx context.Context, host string, caps map[string]any) error
}

// Manager runs one backend: host@backend.
type Manager struct {
	host     string // host@backend, the service host
	server   string // host, backend_host or DEFAULT host
	backend  *conf.Backend
	interval time.Duration
	store    *db.DB
	drv      drivers.Driver
	reporter Reporter
	volumes  *Client     // reaches the other backends: migration destinations
	quotas   *volume.API // holds a managed volume's gigabytes in its project's quotas

	createTimeout    time.Duration // migration_create_volume_timeout_secs
	callTimeout      time.Duration // for calls a migration can do without: get_capabilities
	progressInterval time.Duration // of a migration's copy: logs and take-over checks

	mu           sync.Mutex
	capabilities map[string]any // the snapshot get_capabilities answers
}

// New returns the manager of backend, whose service host is cfg.ServiceHost. volumes reaches the other backends,
// as a migration needs; with nil, migrations fail.
func New(cfg *conf.Config, backend *conf.Backend, store *db.DB, drv drivers.Driver, reporter Reporter, volumes *Client) *Manager {
	return &Manager{
		host:             cfg.ServiceHost(backend),
		server:           cfg.Server(backend),
		backend:          backend,
		interval:         cfg.BackendStatsPollingInterval,
		store:            store,
		drv:              drv,
		reporter:         reporter,
		volumes:          volumes,
		quotas:           volume.New(cfg, store, nil, nil, nil),
		createTimeout:    cmp.Or(cfg.MigrationCreateVolumeTimeout, defaultCreateTimeout),
		callTimeout:      min(cmp.Or(cfg.RPCResponseTimeout, maxCallTimeout), maxCallTimeout),
		progressInterval: progressInterval,
	}
}

// Host is the manager's service host, host@backend.
func (m *Manager) Host() string { return m.host }

// Targets are what the backend's RPC server listens on, as cinder's
// service.py: cinder-volume with server host@backend, and
// cinder-volume.host@backend with server host (where clients send).
func (m *Manager) Targets() []rpc.Target {
	return []rpc.Target{
		{Topic: cinder.TopicVolume, Server: m.host},
		{Topic: cinder.TopicVolume + "." + m.host, Server: m.server},
	}
}

// Endpoint is the backend's RPC API.
func (m *Manager) Endpoint() rpc.Endpoint {
	return rpc.Endpoint{
		Version: RPCAPIVersion,
		Methods: map[string]rpc.Handler{
			"create_volume":                m.createVolume,
			"delete_volume":                m.deleteVolume,
			"extend_volume":                m.extendVolume,
			"initialize_connection":        m.initializeConnection,
			"terminate_connection":         m.terminateConnection,
			"get_capabilities":             m.getCapabilities,
			"migrate_volume":               m.migrateVolume,
			"retype":                       m.retype,
			"migrate_volume_completion":    m.migrateVolumeCompletion,
			"update_migrated_volume":       m.updateMigratedVolume,
			"publish_service_capabilities": m.publishServiceCapabilities,
			"accept_transfer":              m.acceptTransfer,
			"freeze_host":                  m.freezeHost,
			"thaw_host":                    m.thawHost,
			"extend_volume_completion":     m.extendVolumeCompletion,
			"do_cleanup":                   m.doCleanup,
			"create_snapshot":              m.createSnapshot,
			"delete_snapshot":              m.deleteSnapshot,
			"revert_to_snapshot":           m.revertToSnapshot,
			"create_group":                 m.createGroup,
			"delete_group":                 m.deleteGroup,
			"create_group_snapshot":        m.createGroupSnapshot,
			"delete_group_snapshot":        m.deleteGroupSnapshot,
			"create_group_from_src":        m.createGroupFromSrc,

			// 3.13: cinder-backup reading a snapshot.
			"initialize_connection_snapshot": m.initializeConnectionSnapshot,
			"terminate_connection_snapshot":  m.terminateConnectionSnapshot,
			"remove_export_snapshot":         m.removeExportSnapshot,
			"attachment_update":              m.attachmentUpdate,
			"attachment_delete":              m.attachmentDelete,
			"attach_volume":                  m.attachVolume,
			"detach_volume":                  m.detachVolume,

			"manage_existing":          m.manageExisting,
			"manage_existing_snapshot": m.manageExistingSnapshot,
			"get_manageable_volumes":   m.getManageableVolumes,
			"get_manageable_snapshots": m.getManageableSnapshots,
		},
	}
}

// recoverySendTimeout bounds how long a cast of Init's recovery waits for a
// queue to take it.
const recoverySendTimeout = 500 * time.Millisecond

// Init is init_host: it sets the driver up, recovers the backend's volumes
// left creating (to error, storage removed), deleting (deleted now) or
// mid-migration (see recover), takes the capabilities snapshot and reports
// stats once. Volumes left extending stay so, as in Cinder (an admin resets them).
func (m *Manager) Init(ctx context.Context) error {
	if err := m.drv.Setup(ctx); err != nil {
		return fmt.Errorf("set up driver of backend %s: %w", m.host, err)
	}
	// Recovery never waits on another backend: in cinder-all a sibling
	// starts after this one, and its own recovery finishes what a cast
	// refused now would have asked of it.
	if err := m.recover(rpc.WithSendTimeout(ctx, recoverySendTimeout)); err != nil {
		return err
	}
	if err := m.discover(ctx); err != nil {
		return err
	}
	m.publish(ctx)
	slog.Info("volume backend initialized", "host", m.host)
	return nil
}

// recover finishes or fails the work a previous run of the backend left:
// volumes left creating go to error without storage (whatever part of it the
// driver had made is removed, as the volume is unusable and holds no user
// data yet), those left deleting are deleted,
// migrations left starting, migrating or completing end (see
// recoverMigration) and the targets of interrupted migrations are deleted,
// after their sources ended, and groups and group snapshots left creating
// or deleting go to error (see recoverGroups). A volume it cannot recover
// is logged and left as it is.
func (m *Manager) recover(ctx context.Context) error {
	vols, snaps, err := m.unfinished(ctx)
	if err != nil {
		return err
	}
	m.recoverVolumes(ctx, vols, snaps)
	m.recoverGroups(ctx)
	return nil
}

// unfinished are the backend's volumes and snapshots that recoverVolumes
// acts on: volumes left creating, deleting or reverting, or mid-migration
// (as source or as target), and snapshots left creating, deleting or
// restoring. Only they are read, however many the backend holds, as
// Cinder's SnapshotList.get_by_host reads its snapshots in one query.
func (m *Manager) unfinished(ctx context.Context) ([]*cinder.Volume, []*cinder.Snapshot, error) {
	vols, err := m.store.ListVolumes(ctx, db.VolumeFilter{Host: m.host,
		Statuses: []string{cinder.StatusCreating, cinder.StatusDeleting, cinder.StatusReverting}})
	if err != nil {
		return nil, nil, fmt.Errorf("list volumes of backend %s left in progress: %w", m.host, err)
	}
	migrating, err := m.store.ListVolumes(ctx, db.VolumeFilter{Host: m.host, Migrations: []string{
		cinder.MigrationStarting, cinder.MigrationMigrating, cinder.MigrationCompleting, cinder.MigrationTarget("")}})
	if err != nil {
		return nil, nil, fmt.Errorf("list volumes of backend %s mid-migration: %w", m.host, err)
	}
	for _, v := range migrating { // a target is also creating while it is made
		if !slices.ContainsFunc(vols, func(u *cinder.Volume) bool { return u.ID == v.ID }) {
			vols = append(vols, v)
		}
	}
	snaps, err := m.store.ListSnapshots(ctx, db.SnapshotFilter{Host: m.host,
		Statuses: []string{cinder.SnapshotCreating, cinder.SnapshotDeleting, cinder.SnapshotRestoring}})
	if err != nil {
		return nil, nil, fmt.Errorf("list snapshots of backend %s left in progress: %w", m.host, err)
	}
	return vols, snaps, nil
}

// recoverVolumes is recover for vols and snaps, volumes and snapshots of
// the backend.
func (m *Manager) recoverVolumes(ctx context.Context, vols []*cinder.Volume, snaps []*cinder.Snapshot) {
	isTarget := func(v *cinder.Volume) bool { return strings.HasPrefix(v.MigrationStatus, cinder.MigrationTarget("")) }
	// Sources before targets: a target's fate depends on how its source's migration ended.
	slices.SortStableFunc(vols, func(a, b *cinder.Volume) int {
		switch {
		case isTarget(a) == isTarget(b):
			return 0
		case isTarget(a):
			return 1
		}
		return -1
	})
	m.recoverSnapshots(ctx, snaps)
	for _, v := range vols {
		var err error
		switch {
		case isTarget(v):
			err = m.recoverTarget(ctx, v)
		case v.MigrationStatus == cinder.MigrationStarting || v.MigrationStatus == cinder.MigrationMigrating ||
			v.MigrationStatus == cinder.MigrationCompleting:
			err = m.recoverMigration(ctx, v)
		case v.Status == cinder.StatusCreating:
			slog.Warn("volume was left creating; removing its storage and setting it to error", "volume_id", v.ID, "host", m.host)
			if err := m.drv.DeleteVolume(ctx, v); err != nil {
				slog.Error("failed to remove the storage of a volume left creating", "volume_id", v.ID, "host", m.host, "err", err)
			}
			_, err = m.transition(ctx, v.ID, cinder.StatusCreating, cinder.StatusError, nil)
		case v.Status == cinder.StatusDeleting:
			slog.Info("volume was left deleting; deleting it", "volume_id", v.ID, "host", m.host)
			if err = m.deleteSnapshots(ctx, v); err == nil {
				err = m.delete(ctx, v, false)
			}
		case v.Status == cinder.StatusReverting:
			slog.Warn("volume was left reverting to a snapshot; setting it to error", "volume_id", v.ID, "host", m.host)
			_, err = m.transition(ctx, v.ID, cinder.StatusReverting, cinder.StatusError, nil)
		}
		if err != nil {
			slog.Error("failed to recover volume", "volume_id", v.ID, "host", m.host, "err", err)
		}
	}
}

// Run reports the backend's stats at once and then every
// backend_stats_polling_interval (publish_service_capabilities) until ctx is
// done. The report at once is for a scheduler that started after Init's and
// asked for stats before this backend served RPC: without it, that
// scheduler would hold its first requests until the next interval.
func (m *Manager) Run(ctx context.Context) error {
	if m.interval <= 0 {
		return fmt.Errorf("backend %s: backend_stats_polling_interval must be positive, not %s", m.host, m.interval)
	}
	m.publish(ctx)
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			m.publish(ctx)
		}
	}
}

// publish sends the backend's stats to the schedulers, logging a failure:
// the next period tries again.
func (m *Manager) publish(ctx context.Context) {
	caps, err := m.stats(ctx)
	if err == nil {
		err = m.reporter.UpdateServiceCapabilities(ctx, m.host, caps)
	}
	if err != nil {
		slog.Error("failed to report backend stats", "host", m.host, "err", err)
		return
	}
	slog.Debug("reported backend stats", "host", m.host)
}

// stats is the driver's stats with each pool's allocated_capacity_gb: the
// sizes of the volumes placed on it (_report_driver_status).
func (m *Manager) stats(ctx context.Context) (map[string]any, error) {
	st, err := m.drv.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("stats of backend %s: %w", m.host, err)
	}
	list := poolList(st["pools"])
	hosts := make([]string, len(list))
	for i, pool := range list {
		name, _ := pool["pool_name"].(string)
		hosts[i] = cinder.AppendHost(m.host, name)
	}
	alloc, err := m.store.AllocatedCapacity(ctx, hosts...)
	if err != nil {
		return nil, fmt.Errorf("allocated capacity of backend %s: %w", m.host, err)
	}
	caps := maps.Clone(map[string]any(st))
	var pools []any
	for i, pool := range list {
		pool = maps.Clone(pool)
		pool["allocated_capacity_gb"] = alloc[hosts[i]]
		pools = append(pools, pool)
	}
	caps["pools"] = pools
	for _, k := range []string{"filter_function", "goodness_function"} {
		if _, ok := caps[k]; !ok {
			caps[k] = nil
		}
	}
	return caps, nil
}

// poolList reads a stats "pools" value, a list of pool dicts.
func poolList(v any) []map[string]any {
	switch list := v.(type) {
	case []map[string]any:
		return list
	case []any:
		var out []map[string]any
		for _, item := range list {
			if pool, ok := item.(map[string]any); ok {
				out = append(out, pool)
			}
		}
		return out
	}
	return nil
}

// discover takes the capabilities snapshot (driver.init_capabilities): the
// driver's stats plus Cinder's standard properties.
func (m *Manager) discover(ctx context.Context) error {
	st, err := m.drv.Stats(ctx)
	if err != nil {
		return fmt.Errorf("capabilities of backend %s: %w", m.host, err)
	}
	caps := maps.Clone(map[string]any(st))
	caps["properties"] = standardProperties()
	m.mu.Lock()
	m.capabilities = caps
	m.mu.Unlock()
	return nil
}

// standardProperties are Cinder's standard capabilities
// (_init_standard_capabilities), each {title, description, type}.
func standardProperties() map[string]any {
	prop := func(title, description string) map[string]any {
		return map[string]any{"title": title, "description": description, "type": "boolean"}
	}
	return map[string]any{
		"thin_provisioning":   prop("Thin Provisioning", "Sets thin provisioning."),
		"compression":         prop("Compression", "Enables compression."),
		"qos":                 prop("QoS", "Enables QoS."),
		"replication_enabled": prop("Replication", "Enables replication."),
	}
}

// volumeArgs are the arguments naming a volume: the volume as the caller
// saw it (only its id is read: the row is the truth), or its id alone
// (terminate_connection).
type volumeArgs struct {
	Volume   *idArg `json:"volume"`
	VolumeID string `json:"volume_id"`
}

// idArg is a volume argument of which only the id is read.
type idArg struct {
	ID string `json:"id"`
}

// id is the id of the volume named.
func (a volumeArgs) id() string {
	if a.Volume != nil && a.Volume.ID != "" {
		return a.Volume.ID
	}
	return a.VolumeID
}

// load re-reads the volume the arguments name (the caller's copy is only a
// hint) and checks it lives on this backend.
func (m *Manager) load(ctx context.Context, a volumeArgs) (*cinder.Volume, error) {
	id := a.id()
	if id == "" {
		return nil, cinder.InvalidInput("no volume named")
	}
	v, err := m.store.GetVolume(ctx, id)
	if err != nil {
		return nil, err
	}
	if !cinder.SameBackend(v.Host, m.host) {
		return nil, cinder.InvalidHost("volume %s is on %q, not on backend %s", v.ID, v.Host, m.host)
	}
	return v, nil
}

// decode reads a method's keyword arguments into dst.
func decode(method string, raw json.RawMessage, dst any) error {
	if err := json.Unmarshal(raw, dst); err != nil {
		return cinder.InvalidInput("%s arguments: %v", method, err)
	}
	return nil
}

// transition sets volume id from status from to status to, applying change
// (may be nil) as well; a volume no longer in from is cinder.InvalidVolume.
func (m *Manager) transition(ctx context.Context, id, from, to string, change func(v *cinder.Volume)) (*cinder.Volume, error) {
	return m.store.UpdateVolume(ctx, id, func(v *cinder.Volume) error {
		if v.Status != from {
			return cinder.InvalidVolume("volume %s is %s, not %s", v.ID, v.Status, from)
		}
		v.Status = to
		if change != nil {
			change(v)
		}
		return nil
	})
}

// setStatus sets volume id's status whatever it is, logging a failure.
func (m *Manager) setStatus(ctx context.Context, id, status string) {
	if _, err := m.store.UpdateVolume(ctx, id, func(v *cinder.Volume) error { v.Status = status; return nil }); err != nil {
		slog.Error("failed to set volume status", "volume_id", id, "host", m.host, "status", status, "err", err)
	}
}

// createVolume (cast: volume, request_spec, filter_properties,
// allow_reschedule) creates a volume still creating on the driver: it
// becomes available, or error when the driver fails.
func (m *Manager) createVolume(ctx context.Context, raw json.RawMessage) (any, error) {
	var a volumeArgs
	if err := decode("create_volume", raw, &a); err != nil {
		return nil, err
	}
	v, err := m.load(ctx, a)
	if cinder.IsNotFound(err) {
		slog.Warn("volume to create no longer exists", "volume_id", a.id(), "host", m.host)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create_volume: %w", err)
	}
	if v.Status != cinder.StatusCreating {
		slog.Warn("volume to create is no longer creating; leaving it", "volume_id", v.ID, "host", m.host, "status", v.Status)
		return nil, nil
	}
	if err := m.make(ctx, v); err != nil {
		slog.Error("failed to create volume", "volume_id", v.ID, "host", m.host, "size_gb", v.Size, "err", err)
		if _, err := m.transition(ctx, v.ID, cinder.StatusCreating, cinder.StatusError, nil); err != nil {
			slog.Warn("could not set volume to error", "volume_id", v.ID, "host", m.host, "err", err)
		}
		return nil, nil
	}
	if _, err := m.transition(ctx, v.ID, cinder.StatusCreating, cinder.StatusAvailable, nil); err != nil {
		if !cinder.IsNotFound(err) {
			slog.Warn("volume changed while being created", "volume_id", v.ID, "host", m.host, "err", err)
			return nil, nil
		}
		// Destroyed meanwhile, as an abandoned migration target is: nothing
		// names the storage any more.
		slog.Warn("volume was destroyed while being created; removing its storage", "volume_id", v.ID, "host", m.host)
		if err := m.drv.DeleteVolume(ctx, v); err != nil {
			slog.Error("failed to remove the storage of a destroyed volume", "volume_id", v.ID, "host", m.host, "err", err)
		}
		return nil, nil
	}
	slog.Info("created volume", "volume_id", v.ID, "host", m.host, "size_gb", v.Size)
	return nil, nil
}

// make gives v storage: empty, or a copy of the snapshot or volume it is
// made from.
func (m *Manager) make(ctx context.Context, v *cinder.Volume) error {
	switch {
	case v.SnapshotID != "":
		s, err := m.store.GetSnapshot(ctx, v.SnapshotID)
		if err != nil {
			return fmt.Errorf("snapshot %s of volume %s: %w", v.SnapshotID, v.ID, err)
		}
		return m.drv.CreateVolumeFromSnapshot(ctx, v, s)
	case v.SourceVolID != "":
		src, err := m.load(ctx, volumeArgs{VolumeID: v.SourceVolID})
		if err != nil {
			return fmt.Errorf("source volume %s of volume %s: %w", v.SourceVolID, v.ID, err)
		}
		return m.drv.CreateClonedVolume(ctx, v, src)
	}
	return m.drv.CreateVolume(ctx, v)
}

// deleteVolume (cast: volume, unmanage_only, cascade) deletes a volume's
// storage (kept when unmanage_only) and its row, with cascade its
// snapshots first; a driver failure leaves it error_deleting.
func (m *Manager) deleteVolume(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		volumeArgs
		UnmanageOnly bool `json:"unmanage_only"`
		Cascade      bool `json:"cascade"`
	}
	if err := decode("delete_volume", raw, &a); err != nil {
		return nil, err
	}
	v, err := m.load(ctx, a.volumeArgs)
	if cinder.IsNotFound(err) {
		slog.Info("volume to delete is already gone", "volume_id", a.id(), "host", m.host)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("delete_volume: %w", err)
	}
	if a.Cascade {
		if err := m.deleteSnapshots(ctx, v); err != nil {
			slog.Error("failed to delete the snapshots of a volume", "volume_id", v.ID, "host", m.host, "err", err)
			m.setStatus(ctx, v.ID, cinder.StatusErrorDelete)
			return nil, nil
		}
	}
	return nil, m.delete(ctx, v, a.UnmanageOnly)
}

// delete removes v's storage (with unmanageOnly lets it go, kept, as the
// driver's unmanage), then destroys its row. A driver failure is logged and
// leaves v error_deleting (error_unmanaging), as Cinder.
func (m *Manager) delete(ctx context.Context, v *cinder.Volume, unmanageOnly bool) error {
	release, failed := m.drv.DeleteVolume, cinder.StatusErrorDelete
	if unmanageOnly {
		release, failed = m.drv.Unmanage, "error_unmanaging"
	}
	if err := release(ctx, v); err != nil {
		slog.Error("failed to delete volume", "volume_id", v.ID, "host", m.host, "unmanage_only", unmanageOnly, "err", err)
		m.setStatus(ctx, v.ID, failed)
		return nil
	}
	if err := m.store.DestroyVolume(ctx, v.ID); err != nil {
		return fmt.Errorf("destroy volume %s: %w", v.ID, err)
	}
	slog.Info("deleted volume", "volume_id", v.ID, "host", m.host, "unmanage_only", unmanageOnly)
	return nil
}

// extendVolume (cast: volume, new_size, reservations) grows a volume on the
// driver: it gets the new size and is available again (in-use when
// attached), or error_extending when the driver fails.
func (m *Manager) extendVolume(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		volumeArgs
		NewSize int `json:"new_size"`
	}
	if err := decode("extend_volume", raw, &a); err != nil {
		return nil, err
	}
	v, err := m.load(ctx, a.volumeArgs)
	if err != nil {
		return nil, fmt.Errorf("extend_volume: %w", err)
	}
	if a.NewSize <= v.Size {
		err = cinder.InvalidInput("new size %d GiB must be greater than the current %d GiB", a.NewSize, v.Size)
	} else {
		err = m.drv.ExtendVolume(ctx, v, a.NewSize)
	}
	if err != nil {
		slog.Error("failed to extend volume", "volume_id", v.ID, "host", m.host, "new_size_gb", a.NewSize, "err", err)
	}
	return nil, m.finishExtend(ctx, v.ID, a.NewSize, err != nil)
}

// initializeConnection (call: volume, connector) exposes a volume to a
// connector and answers the connection info.
func (m *Manager) initializeConnection(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		volumeArgs
		Connector map[string]any `json:"connector"`
	}
	if err := decode("initialize_connection", raw, &a); err != nil {
		return nil, err
	}
	v, err := m.load(ctx, a.volumeArgs)
	if err != nil {
		return nil, err
	}
	info, err := m.drv.InitializeConnection(ctx, v, a.Connector)
	var qos map[string]any
	if err == nil {
		qos, err = m.qosSpecs(ctx, v)
	}
	if err != nil {
		slog.Error("failed to initialize connection", "volume_id", v.ID, "host", m.host, "err", err)
		return nil, backendError(err, "initialize_connection of volume %s", v.ID)
	}
	if info.Data == nil {
		info.Data = map[string]any{}
	}
	info.Data["qos_specs"] = qos
	info.Data["access_mode"] = v.AccessMode() // as Cinder's _parse_connection_options
	slog.Info("initialized connection", "volume_id", v.ID, "host", m.host, "driver_volume_type", info.DriverVolumeType)
	return info, nil
}

// qosSpecs are the qos_specs of v's connection info, as Cinder's manager:
// the specs of v's type's QoS specs for its connector (front-end or both
// consumers only, per-GiB limits for v's size), or nil for null.
func (m *Manager) qosSpecs(ctx context.Context, v *cinder.Volume) (map[string]any, error) {
	if v.VolumeTypeID == "" {
		return nil, nil
	}
	q, err := m.store.TypeQoSSpecs(ctx, v.VolumeTypeID)
	if err != nil {
		return nil, err
	}
	return q.ConnectionSpecs(v.Size)
}

// terminateConnection (call: volume_id, connector, force) withdraws what
// initialize_connection exposed.
func (m *Manager) terminateConnection(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		volumeArgs
		Connector map[string]any `json:"connector"`
	}
	if err := decode("terminate_connection", raw, &a); err != nil {
		return nil, err
	}
	v, err := m.load(ctx, a.volumeArgs)
	if err != nil {
		return nil, err
	}
	if err := m.drv.TerminateConnection(ctx, v, a.Connector); err != nil {
		slog.Error("failed to terminate connection", "volume_id", v.ID, "host", m.host, "err", err)
		return nil, backendError(err, "terminate_connection of volume %s", v.ID)
	}
	slog.Info("terminated connection", "volume_id", v.ID, "host", m.host)
	return nil, nil
}

// backendError passes a cinder exception on and makes any other driver
// failure a VolumeBackendAPIException, as the manager does.
func backendError(err error, format string, args ...any) error {
	var e *cinder.Error
	if errors.As(err, &e) {
		return e
	}
	return cinder.VolumeBackendAPIException("%s: %v", fmt.Sprintf(format, args...), err)
}

// getCapabilities (call: discover) answers the capabilities snapshot taken
// at Init, retaken first when discover is true.
func (m *Manager) getCapabilities(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		Discover bool `json:"discover"`
	}
	if err := decode("get_capabilities", raw, &a); err != nil {
		return nil, err
	}
	m.mu.Lock()
	taken := m.capabilities != nil
	m.mu.Unlock()
	if a.Discover || !taken {
		if err := m.discover(ctx); err != nil {
			return nil, backendError(err, "get_capabilities of backend %s", m.host)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.capabilities), nil
}

// publishServiceCapabilities (fanout, no arguments) reports the stats now,
// as a scheduler asks when it starts.
func (m *Manager) publishServiceCapabilities(ctx context.Context, _ json.RawMessage) (any, error) {
	m.publish(ctx)
	return nil, nil
}
