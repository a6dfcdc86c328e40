package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// retype (cast: volume, new_type_id, host {host, cluster_name,
// capabilities}, migration_policy, reservations, old_reservations) gives a
// volume being retyped its new type, as cinder/volume/manager.py retype: in
// place when host is on this backend (the scheduler checked that the pool
// serves the type, and this project's drivers keep nothing per type), else,
// when migration_policy is on-demand, by migrating it there with a target
// of the new type. Otherwise, or when the migration fails, the volume gets
// its status back and keeps its type.
func (m *Manager) retype(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		volumeArgs
		NewTypeID string `json:"new_type_id"`
		Host      struct {
			Host string `json:"host"`
		} `json:"host"`
		MigrationPolicy string `json:"migration_policy"`
	}
	if err := decode("retype", raw, &a); err != nil {
		return nil, err
	}
	dest := a.Host.Host
	v, err := m.load(ctx, a.volumeArgs)
	if cinder.IsNotFound(err) {
		slog.Warn("volume to retype no longer exists", "volume_id", a.id(), "host", m.host)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("retype: %w", err)
	}
	if a.NewTypeID == "" || dest == "" {
		m.endRetype(ctx, v.ID, "retype names no new type or no destination")
		return nil, cinder.InvalidInput("retype of volume %s names no new_type_id or no host", v.ID)
	}
	switch {
	case cinder.SameBackend(dest, m.host):
		v, err = m.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
			v.VolumeTypeID, v.Host = a.NewTypeID, dest
			return cinder.EndRetype(v) // an error leaves nothing written
		})
		if err != nil {
			return nil, fmt.Errorf("retype volume %s: %w", a.id(), err)
		}
		slog.Info("retyped volume in place", "volume_id", v.ID, "volume_type_id", v.VolumeTypeID, "host", v.Host)
		m.retypeSnapshots(ctx, v)
	case a.MigrationPolicy != cinder.MigrationPolicyOnDemand:
		m.endRetype(ctx, v.ID, "Retype requires migration but is not allowed.")
	default:
		v, err = m.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
			if v.Status != cinder.StatusRetyping {
				return cinder.InvalidVolume("volume %s is %s, not %s", v.ID, v.Status, cinder.StatusRetyping)
			}
			v.MigrationStatus = cinder.MigrationStarting
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("retype volume %s: %w", a.id(), err)
		}
		logMigration(v.ID, cinder.MigrationStarting, v.Host, dest, "new_volume_type_id", a.NewTypeID)
		m.migrate(ctx, v, dest, a.NewTypeID, false)
	}
	return nil, nil
}

// endRetype gives volume id, whose retype failed for reason, its status back.
func (m *Manager) endRetype(ctx context.Context, id, reason string) {
	slog.Error("failed to retype volume", "volume_id", id, "host", m.host, "reason", reason)
	if _, err := m.store.UpdateVolume(ctx, id, cinder.EndRetype); err != nil {
		slog.Error("failed to give a volume whose retype failed its status back", "volume_id", id, "err", err)
	}
}

// retypeSnapshots gives v's snapshots v's new type, as Cinder's retype
// does, so that they count in the per-type quotas of that type; a failure
// is logged and leaves that snapshot of the old type.
func (m *Manager) retypeSnapshots(ctx context.Context, v *cinder.Volume) {
	snaps, err := m.store.ListSnapshots(ctx, db.SnapshotFilter{VolumeID: v.ID})
	if err != nil {
		slog.Error("failed to list the snapshots of a retyped volume", "volume_id", v.ID, "err", err)
		return
	}
	for _, s := range snaps {
		if _, err := m.store.UpdateSnapshot(ctx, s.ID, func(s *cinder.Snapshot) error {
			s.VolumeTypeID = v.VolumeTypeID
			return nil
		}); err != nil {
			slog.Error("failed to give a snapshot its volume's new type", "snapshot_id", s.ID, "volume_id", v.ID, "err", err)
		}
	}
}
