package scheduler

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/cinder-go/cinder"
)

// retype (cast: volume, request_spec, filter_properties) finds where a
// volume being retyped can have the new type of request_spec, as
// FilterScheduler.find_retype_backend: its own pool when that passes the
// filters (the capacity it holds not counted twice), else, unless the
// migration policy is never, the best weighed pool; and casts retype to the
// volume's backend with that pool. With none, the volume gets its status
// back and its owner is told why, as cinder/scheduler/manager.py retype.
func (s *Scheduler) retype(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Volume struct {
			ID string `json:"id"`
		} `json:"volume"` // only a hint: the row is read again
		RequestSpec cinder.RequestSpec `json:"request_spec"`
	}
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, cinder.InvalidInput("retype arguments: %v", err)
	}
	spec := args.RequestSpec
	v, err := s.loadVolume(ctx, "retype", cmp.Or(args.Volume.ID, spec.VolumeID))
	if v == nil || err != nil {
		return nil, err
	}
	if v.Status != cinder.StatusRetyping {
		slog.Warn("not retyping volume: it is no longer retyping", "volume_id", v.ID, "status", v.Status)
		return nil, nil
	}
	host, caps, err := s.findRetypeBackend(ctx, v, spec)
	if err == nil {
		slog.Info("retyping volume", "volume_id", v.ID, "volume_type", spec.VolumeType.Name, "source", v.Host, "destination", host,
			"migration_policy", spec.MigrationPolicy)
		if err = s.volumes.Retype(ctx, v, spec.VolumeType.ID, host, caps, spec.MigrationPolicy); err != nil {
			err = fmt.Errorf("cast retype of volume %s to %s: %w", v.ID, v.Host, err)
		}
	}
	if err != nil {
		s.failRetype(ctx, v.ID, err)
	}
	return settled(err)
}

// findRetypeBackend returns the pool where v can have spec's new type, with
// its capabilities: v's own pool when it passes the filters, else the best
// weighed pool if spec's migration policy is on-demand; NoValidBackend
// otherwise. Nothing is consumed: a migration creates its target directly.
func (s *Scheduler) findRetypeBackend(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec) (string, map[string]any, error) {
	if spec.VolumeType == nil || spec.VolumeType.ID == "" {
		return "", nil, cinder.InvalidInput("retype of volume %s names no volume type", v.ID)
	}
	r, err := s.requestFor(ctx, v, spec)
	if err != nil {
		return "", nil, err
	}
	r.existsOn = v.Host
	var host string
	var caps map[string]any
	err = s.ranked(ctx, r, nil, func(ranked []*poolState, rejectedBy string) error {
		if len(ranked) == 0 {
			return fmt.Errorf("%s rejected every pool: %w", cmp.Or(rejectedBy, "no pool is up"),
				cinder.NoValidBackend(fmt.Sprintf("No valid backends for volume %s with type %s", v.ID, spec.VolumeType.ID)))
		}
		best := ranked[0]
		if i := slices.IndexFunc(ranked, func(p *poolState) bool { return p.host == v.Host }); i >= 0 {
			best = ranked[i]
		} else if spec.MigrationPolicy != cinder.MigrationPolicyOnDemand {
			return cinder.NoValidBackend(fmt.Sprintf("Current backend not valid for volume %s with type %s, migration not allowed", v.ID, spec.VolumeType.ID))
		}
		host, caps = best.host, maps.Clone(best.capabilities)
		return nil
	})
	return host, caps, err
}

// failRetype tells the owner of volume id, which cannot be retyped because
// of cause, why, then gives it its status back (previous_status): a client
// that sees the status back finds the message already there.
func (s *Scheduler) failRetype(ctx context.Context, id string, cause error) {
	slog.Error("failed to schedule volume retype", "volume_id", id, "reason", cause)
	v, err := s.store.GetVolume(ctx, id)
	if err == nil {
		s.tell(ctx, v, cause)
		_, err = s.store.UpdateVolume(ctx, id, cinder.EndRetype)
	}
	if err != nil {
		slog.Error("failed to give a volume whose retype failed its status back", "volume_id", id, "err", err)
	}
}
