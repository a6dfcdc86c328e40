package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/cinder-go/cinder"
)

// acceptTransfer (call: volume_id, new_user, new_project, no_snapshots;
// version 3.16) is the backend's part of a volume transfer: a driver that
// ties a volume to its project would update it here. These drivers tie
// nothing to a project, so there is no model update (null), as the base
// driver's accept_transfer; the volume must still be this backend's.
func (m *Manager) acceptTransfer(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		volumeArgs
		NewProject string `json:"new_project"`
	}
	if err := decode("accept_transfer", raw, &a); err != nil {
		return nil, err
	}
	v, err := m.load(ctx, a.volumeArgs)
	if err != nil {
		return nil, fmt.Errorf("accept_transfer: %w", err)
	}
	slog.Info("transfer volume completed successfully", "volume_id", v.ID, "host", m.host, "new_project", a.NewProject)
	return nil, nil
}

// AcceptTransfer calls accept_transfer (version 3.16) on the backend of v,
// which is about to belong to project and user.
func (c *Client) AcceptTransfer(ctx context.Context, v *cinder.Volume, user, project string, noSnapshots bool) error {
	return c.callVersion(ctx, v.Host, "accept_transfer", "3.16", map[string]any{
		"volume_id":    v.ID,
		"new_user":     user,
		"new_project":  project,
		"no_snapshots": noSnapshots,
	}, nil)
}
