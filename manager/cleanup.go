package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// doCleanup (cast: cleanup_request; version 3.7) re-runs the backend's
// recovery, as its start does, for the work cinder-scheduler's
// work_cleanup names: the volumes of the backend last changed before the
// request's until (all of them, or the one resource named, a snapshot's
// volume for a snapshot) and their snapshots. As Cinder's do_cleanup
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
	vols, err := m.store.ListVolumes(ctx, db.VolumeFilter{Host: m.host})
	if err != nil {
		return nil, fmt.Errorf("do_cleanup: list volumes of backend %s: %w", m.host, err)
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
	var clean []*cinder.Volume
	for _, v := range vols {
		if (only == "" || v.ID == only) && changedBy(v, req.Until) {
			clean = append(clean, v)
		}
	}
	m.recoverVolumes(ctx, clean)
	slog.Info("service cleanup completed", "host", m.host, "volumes", len(clean))
	return nil, nil
}

// changedBy reports whether v was last changed at or before until (any
// time when nil).
func changedBy(v *cinder.Volume, until *time.Time) bool {
	last := v.CreatedAt
	if v.UpdatedAt != nil {
		last = *v.UpdatedAt
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
