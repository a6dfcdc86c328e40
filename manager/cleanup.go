package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/cinder-go/cinder"
)

// doCleanup (cast: cleanup_request; version 3.7) re-runs the backend's
// recovery, as its start does, for the work cinder-scheduler's
// work_cleanup names: the volumes and snapshots of the backend left in
// progress and last changed before the request's until (all of them, or
// those of the one resource named: a volume, or a snapshot's volume, and
// its snapshots). As Cinder's do_cleanup
// asked of a service that is up, work still under way there is recovered
// too: volumes creating go to error, those deleting are deleted again.
func (m *Manager) doCleanup(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		Request cinder.CleanupRequest `json:"cleanup_request"`
	}
	if err := decode("do_cleanup", raw, &a); err != nil {
		return nil, err
	}
	req := a.Request
	slog.Info("initiating service cleanup", "host", m.host)
	vols, snaps, err := m.unfinished(ctx)
	if err != nil {
		return nil, fmt.Errorf("do_cleanup: %w", err)
	}
	only := ""
	switch {
	case req.ResourceID == "":
	case req.ResourceType == cinder.CleanableSnapshot:
		s, err := m.store.GetSnapshot(ctx, req.ResourceID)
		if cinder.IsNotFound(err) {
			slog.Info("skipping cleanup of a snapshot that no longer exists", "snapshot_id", req.ResourceID, "host", m.host)
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("do_cleanup: %w", err)
		}
		only = s.VolumeID
	default:
		only = req.ResourceID
	}
	vols = slices.DeleteFunc(vols, func(v *cinder.Volume) bool {
		return only != "" && v.ID != only || !changedBy(v.CreatedAt, v.UpdatedAt, req.Until)
	})
	snaps = slices.DeleteFunc(snaps, func(s *cinder.Snapshot) bool {
		return only != "" && s.VolumeID != only || !changedBy(s.CreatedAt, s.UpdatedAt, req.Until)
	})
	m.recoverVolumes(ctx, vols, snaps)
	slog.Info("service cleanup completed", "host", m.host, "volumes", len(vols), "snapshots", len(snaps))
	return nil, nil
}

// changedBy reports whether a row created at created and last updated at
// updated (nil if never) was last changed at or before until (any row
// when until is nil).
func changedBy(created time.Time, updated, until *time.Time) bool {
	last := created
	if updated != nil {
		last = *updated
	}
	return until == nil || !last.After(*until)
}

// DoCleanup casts do_cleanup (version 3.7) to backend host (host@backend):
// it recovers the work req names, as it would at its start.
func (c *Client) DoCleanup(ctx context.Context, host string, req cinder.CleanupRequest) error {
	cl, err := c.to(host)
	if err == nil {
		err = cl.Prepare("", "", "3.7", 0).Cast(ctx, "do_cleanup", map[string]any{"cleanup_request": req})
	}
	if err != nil {
		return fmt.Errorf("cast do_cleanup to %q: %w", host, err)
	}
	return nil
}
