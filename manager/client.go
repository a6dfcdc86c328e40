package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/rpc"
)

// Client calls cinder-volume managers over RPC, as cinder/volume/rpcapi.py:
// topic cinder-volume.<host@backend>, server <host>.
type Client struct {
	rpc    *rpc.Client // topic cinder-volume; prepared per backend
	fanout *rpc.Client // every backend
}

// NewClient returns a client sending on t.
func NewClient(t *rpc.Transport) *Client {
	return &Client{
		rpc:    rpc.NewClient(t, rpc.Target{Topic: cinder.TopicVolume, Version: "3.0"}, 0),
		fanout: rpc.NewClient(t, rpc.Target{Topic: cinder.TopicVolume, Fanout: true, Version: "3.0"}, 0),
	}
}

// to returns the client addressed to the backend of host (host@backend, a
// #pool ignored), as VolumeAPI._get_cctxt from version 3.6.
func (c *Client) to(host string) (*rpc.Client, error) {
	backend := cinder.ExtractHost(host, cinder.LevelBackend)
	if !strings.Contains(backend, "@") {
		return nil, cinder.InvalidHost("%q is not a host@backend", host)
	}
	return c.rpc.Prepare(cinder.TopicVolume+"."+backend, cinder.ExtractHost(host, cinder.LevelHost), "", 0), nil
}

// cast casts method with args to the backend of v.
func (c *Client) cast(ctx context.Context, v *cinder.Volume, method string, args map[string]any) error {
	return c.castVersion(ctx, v, method, "", args)
}

// castVersion is cast asking for version ("" keeps the client's 3.0).
func (c *Client) castVersion(ctx context.Context, v *cinder.Volume, method, version string, args map[string]any) error {
	cl, err := c.to(v.Host)
	if err == nil {
		err = cl.Prepare("", "", version, 0).Cast(ctx, method, args)
	}
	if err != nil {
		return fmt.Errorf("cast %s of volume %s to %q: %w", method, v.ID, v.Host, err)
	}
	return nil
}

// call calls method with args on the backend of host, decoding into reply.
func (c *Client) call(ctx context.Context, host, method string, args map[string]any, reply any) error {
	return c.callVersion(ctx, host, method, "", args, reply)
}

// callVersion is call asking for version ("" keeps the client's 3.0).
func (c *Client) callVersion(ctx context.Context, host, method, version string, args map[string]any, reply any) error {
	cl, err := c.to(host)
	if err == nil {
		err = cl.Prepare("", "", version, 0).Call(ctx, method, args, reply)
	}
	if err != nil {
		return fmt.Errorf("call %s on %q: %w", method, host, err)
	}
	return nil
}

// castTo casts method with args to the backend of host; what names the
// object acted on, for errors.
func (c *Client) castTo(ctx context.Context, host, what, method string, args map[string]any) error {
	cl, err := c.to(host)
	if err == nil {
		err = cl.Cast(ctx, method, args)
	}
	if err != nil {
		return fmt.Errorf("cast %s of %s to %q: %w", method, what, host, err)
	}
	return nil
}

// CreateGroup casts create_group to the backend of g.Host, which makes the
// group available.
func (c *Client) CreateGroup(ctx context.Context, g *cinder.Group) error {
	return c.castTo(ctx, g.Host, "group "+g.ID, "create_group", map[string]any{"group": g})
}

// DeleteGroup casts delete_group to the backend of g.Host, which deletes
// the group's volumes, all deleting, then the group.
func (c *Client) DeleteGroup(ctx context.Context, g *cinder.Group) error {
	return c.castTo(ctx, g.Host, "group "+g.ID, "delete_group", map[string]any{"group": g})
}

// CreateGroupSnapshot casts create_group_snapshot to the backend of
// gs.Host, its group's, which takes its snapshots, all creating.
func (c *Client) CreateGroupSnapshot(ctx context.Context, gs *cinder.GroupSnapshot) error {
	return c.castTo(ctx, gs.Host, "group snapshot "+gs.ID, "create_group_snapshot", map[string]any{"group_snapshot": gs})
}

// DeleteGroupSnapshot casts delete_group_snapshot to the backend of
// gs.Host, which deletes its snapshots, all deleting, then it.
func (c *Client) DeleteGroupSnapshot(ctx context.Context, gs *cinder.GroupSnapshot) error {
	return c.castTo(ctx, gs.Host, "group snapshot "+gs.ID, "delete_group_snapshot", map[string]any{"group_snapshot": gs})
}

// CreateGroupFromSrc casts create_group_from_src to the backend of g.Host:
// it makes g's volumes, all creating, from the snapshots of gs or the
// volumes of source (one of them nil, None to a Python peer).
func (c *Client) CreateGroupFromSrc(ctx context.Context, g *cinder.Group, gs *cinder.GroupSnapshot, source *cinder.Group) error {
	args := map[string]any{"group": g, "group_snapshot": nil, "source_group": nil}
	if gs != nil {
		args["group_snapshot"] = gs
	}
	if source != nil {
		args["source_group"] = source
	}
	return c.castTo(ctx, g.Host, "group "+g.ID, "create_group_from_src", args)
}

// CreateVolume casts create_volume to the backend of v.Host.
func (c *Client) CreateVolume(ctx context.Context, v *cinder.Volume, spec map[string]any) error {
	return c.cast(ctx, v, "create_volume", map[string]any{
		"volume":            v,
		"request_spec":      spec,
		"filter_properties": map[string]any{},
		"allow_reschedule":  true,
	})
}

// DeleteVolume casts delete_volume to the backend of v.Host; with cascade
// the backend deletes v's snapshots, all deleting, first.
func (c *Client) DeleteVolume(ctx context.Context, v *cinder.Volume, cascade bool) error {
	return c.cast(ctx, v, "delete_volume", map[string]any{
		"volume":        v,
		"unmanage_only": false,
		"cascade":       cascade,
	})
}

// ExtendVolume casts extend_volume to the backend of v.Host.
func (c *Client) ExtendVolume(ctx context.Context, v *cinder.Volume, newSize int) error {
	return c.cast(ctx, v, "extend_volume", map[string]any{
		"volume":       v,
		"new_size":     newSize,
		"reservations": nil,
	})
}

// CreateSnapshot casts create_snapshot to the backend of v, s's volume: it
// takes s and sets it available, or error.
func (c *Client) CreateSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	return c.cast(ctx, v, "create_snapshot", map[string]any{"snapshot": s})
}

// DeleteSnapshot casts delete_snapshot to the backend of v, s's volume.
func (c *Client) DeleteSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	return c.cast(ctx, v, "delete_snapshot", map[string]any{"snapshot": s, "unmanage_only": false})
}

// RevertToSnapshot casts revert_to_snapshot (version 3.15) to the backend
// of v: v, reverting, gets the bytes of s, restoring, its latest snapshot.
func (c *Client) RevertToSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	return c.castVersion(ctx, v, "revert_to_snapshot", "3.15", map[string]any{"volume": v, "snapshot": s})
}

// InitializeConnection calls initialize_connection on the backend of v.Host.
func (c *Client) InitializeConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) (*cinder.ConnectionInfo, error) {
	var info cinder.ConnectionInfo
	err := c.call(ctx, v.Host, "initialize_connection", map[string]any{"volume": v, "connector": connector}, &info)
	if err != nil {
		return nil, err
	}
	return &info, nil
}

// TerminateConnection calls terminate_connection on the backend of v.Host.
// As Cinder's rpcapi it names the volume by volume_id.
func (c *Client) TerminateConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) error {
	return c.call(ctx, v.Host, "terminate_connection", map[string]any{
		"volume_id": v.ID,
		"connector": connector,
		"force":     false,
	}, nil)
}

// InitializeConnectionSnapshot calls initialize_connection_snapshot
// (version 3.13) on the backend of v, s's volume: where s's bytes are.
func (c *Client) InitializeConnectionSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot, connector map[string]any) (*cinder.ConnectionInfo, error) {
	var info cinder.ConnectionInfo
	err := c.callVersion(ctx, v.Host, "initialize_connection_snapshot", "3.13", map[string]any{
		"snapshot_id": s.ID,
		"connector":   connector,
	}, &info)
	if err != nil {
		return nil, err
	}
	return &info, nil
}

// TerminateConnectionSnapshot calls terminate_connection_snapshot (version
// 3.13) on the backend of v, s's volume.
func (c *Client) TerminateConnectionSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot, connector map[string]any) error {
	return c.callVersion(ctx, v.Host, "terminate_connection_snapshot", "3.13", map[string]any{
		"snapshot_id": s.ID,
		"connector":   connector,
		"force":       false,
	}, nil)
}

// RemoveExportSnapshot calls remove_export_snapshot (version 3.13) on the
// backend of v, s's volume, as cinder-backup's sync=True does.
func (c *Client) RemoveExportSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	return c.callVersion(ctx, v.Host, "remove_export_snapshot", "3.13", map[string]any{"snapshot_id": s.ID}, nil)
}

// GetCapabilities calls get_capabilities on backend host (host@backend,
// a #pool is ignored).
func (c *Client) GetCapabilities(ctx context.Context, host string, discover bool) (map[string]any, error) {
	var caps map[string]any
	if err := c.call(ctx, host, "get_capabilities", map[string]any{"discover": discover}, &caps); err != nil {
		return nil, err
	}
	return caps, nil
}

// MigrateVolume casts migrate_volume (version 3.5) to the backend of v.Host:
// move v to host (host@backend#pool), whose pool reports capabilities,
// copying its bytes even when the driver could move them when forceHostCopy.
func (c *Client) MigrateVolume(ctx context.Context, v *cinder.Volume, host string, capabilities map[string]any, forceHostCopy bool) error {
	return c.castVersion(ctx, v, "migrate_volume", "3.5", map[string]any{
		"volume":          v,
		"host":            map[string]any{"host": host, "cluster_name": nil, "capabilities": capabilities},
		"force_host_copy": forceHostCopy,
	})
}

// Retype casts retype (version 3.5) to the backend of v.Host: give v, status
// retyping, the type newTypeID, in place when host (host@backend#pool, whose
// pool reports capabilities) is on v's backend, else by migrating it there
// when migrationPolicy is on-demand.
func (c *Client) Retype(ctx context.Context, v *cinder.Volume, newTypeID, host string, capabilities map[string]any, migrationPolicy string) error {
	return c.castVersion(ctx, v, "retype", "3.5", map[string]any{
		"volume":           v,
		"new_type_id":      newTypeID,
		"host":             map[string]any{"host": host, "cluster_name": nil, "capabilities": capabilities},
		"migration_policy": migrationPolicy,
		"reservations":     nil,
		"old_reservations": nil,
	})
}

// MigrateVolumeCompletion calls migrate_volume_completion on the backend of
// v.Host, the migration's source: newVolume, the migration target, replaces
// v's storage, or is deleted when hasError. It returns the id to keep.
func (c *Client) MigrateVolumeCompletion(ctx context.Context, v, newVolume *cinder.Volume, hasError bool) (string, error) {
	var id string
	err := c.call(ctx, v.Host, "migrate_volume_completion", map[string]any{
		"volume":     v,
		"new_volume": newVolume,
		"error":      hasError,
	}, &id)
	return id, err
}

// UpdateMigratedVolume calls update_migrated_volume on the backend of
// newVolume.Host, the migration's destination, and returns the model update
// v must take: its _name_id ("" for none) and provider_location.
// volumeStatus is v's status before the migration.
func (c *Client) UpdateMigratedVolume(ctx context.Context, v, newVolume *cinder.Volume, volumeStatus string) (*MigratedVolume, error) {
	var m MigratedVolume
	err := c.call(ctx, newVolume.Host, "update_migrated_volume", map[string]any{
		"volume":        v,
		"new_volume":    newVolume,
		"volume_status": volumeStatus,
	}, &m)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// MigratedVolume is update_migrated_volume's model update: where a migrated
// volume's data now lives on the destination.
// A null _name_id ("") means the data carries the volume's own id.
type MigratedVolume struct {
	NameID           string `json:"_name_id"`
	ProviderLocation string `json:"provider_location"`
}

// PublishServiceCapabilities fanout-casts publish_service_capabilities:
// every backend reports its stats now, as a starting scheduler asks.
func (c *Client) PublishServiceCapabilities(ctx context.Context) error {
	if err := c.fanout.Cast(ctx, "publish_service_capabilities", map[string]any{}); err != nil {
		return fmt.Errorf("fanout publish_service_capabilities: %w", err)
	}
	return nil
}

// AttachmentUpdate calls attachment_update (version 3.9) on the backend of
// v: it connects v to connector for attachment id, which it makes
// attaching, and answers the connection info.
func (c *Client) AttachmentUpdate(ctx context.Context, v *cinder.Volume, connector map[string]any, id string) (json.RawMessage, error) {
	var info json.RawMessage
	err := c.callVersion(ctx, v.Host, "attachment_update", "3.9", map[string]any{
		"vref":          v,
		"connector":     connector,
		"attachment_id": id,
	}, &info)
	return info, err
}

// AttachmentDelete calls attachment_delete (version 3.9) on the backend of
// v: it withdraws the connection of attachment id.
func (c *Client) AttachmentDelete(ctx context.Context, v *cinder.Volume, id string) error {
	return c.callVersion(ctx, v.Host, "attachment_delete", "3.9", map[string]any{"attachment_id": id, "vref": v}, nil)
}

// AttachVolume calls attach_volume (version 3.3) on the backend of v: it
// records v attached as req says and answers the attachment.
func (c *Client) AttachVolume(ctx context.Context, v *cinder.Volume, req cinder.Attach) (*cinder.Attachment, error) {
	var a cinder.Attachment
	err := c.callVersion(ctx, v.Host, "attach_volume", "3.3", map[string]any{
		"volume_id":     v.ID,
		"instance_uuid": orNone(req.InstanceUUID),
		"host_name":     orNone(req.HostName),
		"mountpoint":    req.Mountpoint,
		"mode":          req.Mode,
		"volume":        v,
	}, &a)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// DetachVolume calls detach_volume (version 3.4) on the backend of v: it
// ends v's attachment id, or its only one when id is "".
func (c *Client) DetachVolume(ctx context.Context, v *cinder.Volume, id string) error {
	return c.callVersion(ctx, v.Host, "detach_volume", "3.4", map[string]any{
		"volume_id":     v.ID,
		"attachment_id": orNone(id),
		"volume":        v,
	}, nil)
}

// orNone is s, or None (JSON null) when empty.
func orNone(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ManageExisting casts manage_existing to the backend of v.Host: it adopts
// the storage ref names as v, managing, which becomes available or
// error_managing.
func (c *Client) ManageExisting(ctx context.Context, v *cinder.Volume, ref map[string]any) error {
	return c.cast(ctx, v, "manage_existing", map[string]any{"volume": v, "ref": ref})
}

// ManageExistingSnapshot casts manage_existing_snapshot to the backend of
// v, s's volume: it adopts the storage ref names as s, creating, which
// becomes available or error.
func (c *Client) ManageExistingSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot, ref map[string]any) error {
	return c.cast(ctx, v, "manage_existing_snapshot", map[string]any{"snapshot": s, "ref": ref})
}

// UnmanageVolume casts delete_volume with unmanage_only to the backend of
// v: the row goes, the storage stays.
func (c *Client) UnmanageVolume(ctx context.Context, v *cinder.Volume) error {
	return c.cast(ctx, v, "delete_volume", map[string]any{"volume": v, "unmanage_only": true, "cascade": false})
}

// UnmanageSnapshot casts delete_snapshot with unmanage_only to the backend
// of v, s's volume.
func (c *Client) UnmanageSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	return c.cast(ctx, v, "delete_snapshot", map[string]any{"snapshot": s, "unmanage_only": true})
}

// GetManageable calls get_manageable_volumes, or with snapshots
// get_manageable_snapshots, on backend host: one page of the storage that
// volumes or snapshots could take, as dicts (version 3.0: without
// want_objects, which asks a Python peer for versioned objects).
func (c *Client) GetManageable(ctx context.Context, host string, snapshots bool, marker string, limit, offset int, sortKeys, sortDirs []string) ([]map[string]any, error) {
	method := "get_manageable_volumes"
	if snapshots {
		method = "get_manageable_snapshots"
	}
	args := map[string]any{"marker": nil, "limit": limit, "offset": offset, "sort_keys": sortKeys, "sort_dirs": sortDirs}
	if marker != "" {
		args["marker"] = marker
	}
	var list []map[string]any
	if err := c.call(ctx, host, method, args, &list); err != nil {
		return nil, err
	}
	return list, nil
}
