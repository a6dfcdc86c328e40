package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/rpc"
)

// Client calls cinder-scheduler over RPC, as cinder/scheduler/rpcapi.py.
type Client struct {
	rpc    *rpc.Client // topic cinder-scheduler, any scheduler
	fanout *rpc.Client // every scheduler
}

// NewClient returns a client sending on t.
func NewClient(t *rpc.Transport) *Client {
	return &Client{
		rpc:    rpc.NewClient(t, rpc.Target{Topic: cinder.TopicScheduler, Version: "3.0"}, 0),
		fanout: rpc.NewClient(t, rpc.Target{Topic: cinder.TopicScheduler, Fanout: true, Version: "3.3"}, 0),
	}
}

// CreateVolume casts create_volume: the scheduler picks a pool, records it
// as the volume's host and casts create_volume to that backend; with no valid
// backend it sets the volume to error.
func (c *Client) CreateVolume(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec) error {
	args := map[string]any{
		"volume":            v,
		"snapshot_id":       nil,
		"image_id":          nil,
		"request_spec":      spec,
		"filter_properties": map[string]any{},
		"backup_id":         nil,
	}
	if err := c.rpc.Cast(ctx, "create_volume", args); err != nil {
		return fmt.Errorf("cast create_volume of volume %s to the scheduler: %w", v.ID, err)
	}
	return nil
}

// MigrateVolume casts migrate_volume (version 3.3): the scheduler checks
// that backend (host@backend or host@backend#pool) passes the filters for v
// and asks v's backend to migrate it there, copying its bytes even when a
// driver could move them if forceCopy; otherwise v's migration_status
// becomes error.
func (c *Client) MigrateVolume(ctx context.Context, v *cinder.Volume, backend string, forceCopy bool, spec cinder.RequestSpec) error {
	args := map[string]any{
		"volume":            v,
		"backend":           backend,
		"force_copy":        forceCopy,
		"request_spec":      spec,
		"filter_properties": nil,
	}
	if err := c.rpc.Prepare("", "", "3.3", 0).Cast(ctx, "migrate_volume", args); err != nil {
		return fmt.Errorf("cast migrate_volume of volume %s to the scheduler: %w", v.ID, err)
	}
	return nil
}

// Retype casts retype: the scheduler finds where v, status retyping, can
// have spec.VolumeType (its own pool first; another only when
// spec.MigrationPolicy is on-demand) and asks v's backend to retype it;
// with none, v gets its status back.
func (c *Client) Retype(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec) error {
	args := map[string]any{
		"volume":            v,
		"request_spec":      spec,
		"filter_properties": map[string]any{},
	}
	if err := c.rpc.Cast(ctx, "retype", args); err != nil {
		return fmt.Errorf("cast retype of volume %s to the scheduler: %w", v.ID, err)
	}
	return nil
}

// CreateGroup casts create_group: the scheduler picks a backend for all
// of g's volume types, records it as g's host and casts create_group to
// it; with none g goes to error.
func (c *Client) CreateGroup(ctx context.Context, g *cinder.Group) error {
	args := map[string]any{
		"group":                   g,
		"group_spec":              map[string]any{"group_id": g.ID},
		"request_spec_list":       []any{},
		"group_filter_properties": map[string]any{},
		"filter_properties_list":  []any{},
	}
	if err := c.rpc.Cast(ctx, "create_group", args); err != nil {
		return fmt.Errorf("cast create_group of group %s to the scheduler: %w", g.ID, err)
	}
	return nil
}

// ValidateHostCapacity calls validate_host_capacity: whether backend, the
// host of group groupID being made from a source, has room for size GiB,
// which the scheduler then counts as taken there.
func (c *Client) ValidateHostCapacity(ctx context.Context, backend, groupID string, size int) (bool, error) {
	args := map[string]any{
		"backend":           backend,
		"request_spec":      map[string]any{"group_id": groupID, "volume_properties": map[string]any{"size": size}},
		"filter_properties": nil,
	}
	var ok bool
	if err := c.rpc.Call(ctx, "validate_host_capacity", args, &ok); err != nil {
		return false, fmt.Errorf("call validate_host_capacity of %s on the scheduler: %w", backend, err)
	}
	return ok, nil
}

// GetPools calls get_pools: the latest stats of every pool whose backend is up.
func (c *Client) GetPools(ctx context.Context) ([]cinder.Pool, error) {
	var pools []cinder.Pool
	if err := c.rpc.Call(ctx, "get_pools", map[string]any{"filters": nil}, &pools); err != nil {
		return nil, fmt.Errorf("call get_pools on the scheduler: %w", err)
	}
	return pools, nil
}

// UpdateServiceCapabilities fanout-casts update_service_capabilities: the
// stats of volume backend host (host@backend) to every scheduler, stamped now.
func (c *Client) UpdateServiceCapabilities(ctx context.Context, host string, caps map[string]any) error {
	args := map[string]any{
		"service_name": "volume",
		"host":         host,
		"capabilities": caps,
		"cluster_name": nil,
		"timestamp":    time.Now().UTC().Format(cinder.TimeLayout),
	}
	if err := c.fanout.Cast(ctx, "update_service_capabilities", args); err != nil {
		return fmt.Errorf("fanout update_service_capabilities of %s: %w", host, err)
	}
	return nil
}

// ManageExisting casts manage_existing: the scheduler checks v's host
// (host@backend, or with a pool) passes the filters, records the pool and
// asks that backend to adopt the storage ref names; otherwise v, managing,
// becomes error_managing. ref travels in request_spec, as Cinder's.
func (c *Client) ManageExisting(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec, ref map[string]any) error {
	specMap, err := specWith(spec, "ref", ref)
	if err != nil {
		return err
	}
	args := map[string]any{"volume": v, "request_spec": specMap, "filter_properties": nil}
	if err := c.rpc.Cast(ctx, "manage_existing", args); err != nil {
		return fmt.Errorf("cast manage_existing of volume %s to the scheduler: %w", v.ID, err)
	}
	return nil
}

// ManageExistingSnapshot casts manage_existing_snapshot (version 3.11): the
// scheduler checks v's backend and asks it to adopt the storage ref names
// as s; otherwise s becomes error.
func (c *Client) ManageExistingSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot, ref map[string]any) error {
	args := map[string]any{
		"volume":            v,
		"snapshot":          s,
		"ref":               ref,
		"request_spec":      cinder.RequestSpec{SnapshotID: s.ID, Size: v.Size},
		"filter_properties": nil,
	}
	if err := c.rpc.Prepare("", "", "3.11", 0).Cast(ctx, "manage_existing_snapshot", args); err != nil {
		return fmt.Errorf("cast manage_existing_snapshot of snapshot %s to the scheduler: %w", s.ID, err)
	}
	return nil
}

// specWith is spec as a JSON object with key set to value.
func specWith(spec cinder.RequestSpec, key string, value any) (map[string]any, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode request spec: %w", err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("encode request spec: %w", err)
	}
	m[key] = value
	return m, nil
}
