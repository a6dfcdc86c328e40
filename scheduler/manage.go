package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/cinder-go/cinder"
)

// Statuses the scheduler gives a volume or snapshot it cannot manage, as
// cinder/scheduler/manager.py.
const (
	statusManaging      = "managing"
	statusErrorManaging = "error_managing"
)

// manageExisting (cast: volume, request_spec, filter_properties) checks
// that the volume's host (host@backend, or host@backend#pool) passes the
// filters for it, records the pool chosen as its host and casts
// manage_existing with request_spec's ref to that backend, as
// cinder/scheduler/manager.py manage_existing. When no pool passes the
// volume becomes error_managing and its owner is told why.
func (s *Scheduler) manageExisting(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Volume struct {
			ID string `json:"id"`
		} `json:"volume"` // only a hint: the row is read again
		RequestSpec struct {
			cinder.RequestSpec
			Ref map[string]any `json:"ref"`
		} `json:"request_spec"`
	}
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, cinder.InvalidInput("manage_existing arguments: %v", err)
	}
	spec := args.RequestSpec
	id := args.Volume.ID
	if id == "" {
		id = spec.VolumeID
	}
	v, err := s.loadVolume(ctx, "manage_existing", id)
	if v == nil || err != nil {
		return nil, err
	}
	if v.Status != statusManaging {
		slog.Warn("not managing volume: it is no longer managing", "volume_id", v.ID, "status", v.Status)
		return nil, nil
	}
	host, _, err := s.backendPassesFilters(ctx, v, spec.RequestSpec, v.Host)
	if err == nil {
		v, err = s.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
			if v.Status != statusManaging {
				return cinder.InvalidVolume("volume %s is %s, not %s", v.ID, v.Status, statusManaging)
			}
			v.Host = host
			return nil
		})
	}
	if err == nil {
		slog.Info("host of volume to manage passes the filters", "volume_id", v.ID, "host", host)
		if err = s.volumes.ManageExisting(ctx, v, spec.Ref); err != nil {
			err = fmt.Errorf("cast manage_existing of volume %s to %s: %w", v.ID, host, err)
		}
	}
	if err != nil {
		s.failManage(ctx, v.ID, err)
	}
	return settled(err)
}

// failManage sets volume id, which cannot be managed because of cause, to
// error_managing if it is still managing, and tells its owner why.
func (s *Scheduler) failManage(ctx context.Context, id string, cause error) {
	slog.Error("failed to schedule volume manage", "volume_id", id, "reason", cause)
	if v, err := s.store.GetVolume(ctx, id); err == nil && v.Status == statusManaging {
		s.tell(ctx, v, cause)
	}
	_, err := s.store.UpdateVolume(ctx, id, func(v *cinder.Volume) error {
		if v.Status != statusManaging {
			return cinder.InvalidVolume("volume %s is %s", v.ID, v.Status)
		}
		v.Status = statusErrorManaging
		return nil
	})
	if err != nil {
		slog.Warn("could not set unmanageable volume to error_managing", "volume_id", id, "err", err)
	}
}

// manageExistingSnapshot (cast: volume, snapshot, ref, request_spec,
// filter_properties) checks that the backend of the snapshot's volume is up
// and passes the filters, and casts manage_existing_snapshot to it, as
// cinder/scheduler/manager.py; otherwise the snapshot becomes error.
func (s *Scheduler) manageExistingSnapshot(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Volume struct {
			ID string `json:"id"`
		} `json:"volume"`
		Snapshot struct {
			ID string `json:"id"`
		} `json:"snapshot"`
		Ref         map[string]any     `json:"ref"`
		RequestSpec cinder.RequestSpec `json:"request_spec"`
	}
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, cinder.InvalidInput("manage_existing_snapshot arguments: %v", err)
	}
	v, err := s.loadVolume(ctx, "manage_existing_snapshot", args.Volume.ID)
	if v == nil || err != nil {
		return nil, err
	}
	snap, err := s.store.GetSnapshot(ctx, args.Snapshot.ID)
	if err != nil {
		return nil, fmt.Errorf("manage_existing_snapshot of snapshot %s: %w", args.Snapshot.ID, err)
	}
	_, _, err = s.backendPassesFilters(ctx, v, args.RequestSpec, v.Host)
	if err == nil {
		if err = s.volumes.ManageExistingSnapshot(ctx, v, snap, args.Ref); err != nil {
			err = fmt.Errorf("cast manage_existing_snapshot of snapshot %s to %s: %w", snap.ID, v.Host, err)
		}
	}
	if err != nil {
		slog.Error("failed to schedule snapshot manage", "snapshot_id", snap.ID, "volume_id", v.ID, "reason", err)
		if _, uerr := s.store.UpdateSnapshot(ctx, snap.ID, func(sn *cinder.Snapshot) error {
			sn.Status = cinder.SnapshotError
			return nil
		}); uerr != nil {
			slog.Warn("could not set unmanageable snapshot to error", "snapshot_id", snap.ID, "err", uerr)
		}
	}
	return settled(err)
}
