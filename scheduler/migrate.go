package scheduler

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"

	"github.com/cinder-go/cinder"
)

// migrateVolume (cast: volume, backend, force_copy, request_spec,
// filter_properties) checks that the requested destination, host@backend or
// host@backend#pool, passes the filters for the volume and casts
// migrate_volume to the volume's backend with the destination pool — the
// best weighed of the backend when none is named — and its capabilities,
// as cinder/scheduler/manager.py migrate_volume. When it cannot, the
// volume's migration_status becomes error (status maintenance back to
// previous_status), the reason is logged and the owner told.
func (s *Scheduler) migrateVolume(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Volume struct {
			ID string `json:"id"`
		} `json:"volume"` // only a hint: the row is read again
		Backend     string          `json:"backend"`
		ForceCopy   bool            `json:"force_copy"`
		RequestSpec json.RawMessage `json:"request_spec"`
	}
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, cinder.InvalidInput("migrate_volume arguments: %v", err)
	}
	var spec cinder.RequestSpec
	var specErr error
	if len(args.RequestSpec) > 0 {
		if err := json.Unmarshal(args.RequestSpec, &spec); err != nil {
			specErr = cinder.InvalidInput("migrate_volume request_spec: %v", err)
		}
	}
	v, err := s.loadVolume(ctx, "migrate_volume", cmp.Or(args.Volume.ID, spec.VolumeID))
	if v == nil || err != nil {
		return nil, err
	}
	err = specErr
	var host string
	var caps map[string]any
	if err == nil {
		host, caps, err = s.backendPassesFilters(ctx, v, spec, args.Backend)
	}
	if err == nil {
		slog.Info("destination of volume migration passes the filters", "volume_id", v.ID, "source", v.Host, "destination", host)
		if err = s.volumes.MigrateVolume(ctx, v, host, caps, args.ForceCopy); err != nil {
			err = fmt.Errorf("cast migrate_volume of volume %s to %s: %w", v.ID, v.Host, err)
		}
	}
	if err != nil {
		s.failMigration(ctx, v.ID, args.Backend, err)
	}
	return settled(err)
}

// backendPassesFilters returns the pool of backend (host@backend#pool, or
// host@backend for its best weighed pool) that passes the filters for v,
// with its capabilities; cinder.NoValidBackend when none does
// (FilterScheduler.backend_passes_filters). Nothing is consumed.
func (s *Scheduler) backendPassesFilters(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec, backend string) (string, map[string]any, error) {
	r, err := s.requestFor(ctx, v, spec)
	if err != nil {
		return "", nil, err
	}
	var host string
	var caps map[string]any
	err = s.bestOn(ctx, r, backend, fmt.Sprintf("Cannot place volume %s on %s.", v.ID, backend), func(p *poolState) {
		host, caps = p.host, maps.Clone(p.capabilities)
	})
	return host, caps, err
}

// bestOn calls use, under the scheduler's lock, with the best weighed pool
// of backend (host@backend#pool, or host@backend for any of its pools) that
// passes the filters for r; when none does it returns
// cinder.NoValidBackend(refusal), wrapped in the reason.
func (s *Scheduler) bestOn(ctx context.Context, r *request, backend, refusal string, use func(*poolState)) error {
	byBackend := cinder.ExtractHost(backend, cinder.LevelPool) == ""
	onBackend := func(p *poolState) bool {
		return p.host == backend || byBackend && cinder.ExtractHost(p.host, cinder.LevelBackend) == backend
	}
	return s.ranked(ctx, r, onBackend, func(ranked []*poolState, rejectedBy string) error {
		if len(ranked) == 0 {
			detail := "no such pool is up and reporting stats"
			if rejectedBy != "" {
				detail = rejectedBy + " rejected it"
			}
			return fmt.Errorf("%d GiB in zone %q: %s: %w", r.size, r.availabilityZone, detail, cinder.NoValidBackend(refusal))
		}
		use(ranked[0])
		return nil
	})
}

// failMigration records that volume id cannot migrate to backend because
// of cause: migration_status error, a status of maintenance back to
// previous_status, the reason logged and the owner told.
func (s *Scheduler) failMigration(ctx context.Context, id, backend string, cause error) {
	slog.Error("failed to schedule volume migration", "volume_id", id, "destination", backend, "reason", cause)
	// The message first: a user who sees the error finds why.
	if v, err := s.store.GetVolume(ctx, id); err == nil && v.MigrationStatus == cinder.MigrationStarting {
		s.tell(ctx, v, cause)
	}
	v, err := s.store.UpdateVolume(ctx, id, func(v *cinder.Volume) error {
		if v.MigrationStatus != cinder.MigrationStarting {
			return cinder.InvalidVolume("volume %s has migration_status %q, not %s", v.ID, v.MigrationStatus, cinder.MigrationStarting)
		}
		v.MigrationStatus = cinder.MigrationError
		if v.Status == cinder.StatusMaintenance {
			v.Status = cmp.Or(v.PreviousStatus, v.Status)
		}
		return nil
	})
	if err != nil {
		slog.Warn("could not set the migration of volume to error", "volume_id", id, "err", err)
		return
	}
	slog.Info("volume migration status changed", "volume_id", id, "migration_status", v.MigrationStatus,
		"source", v.Host, "destination", backend, "status", v.Status)
}
