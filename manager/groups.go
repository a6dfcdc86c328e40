package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/cinder-go/cinder"
)

// loadGroup reads the group a group request names (only its id is read).
func (m *Manager) loadGroup(ctx context.Context, method string, raw json.RawMessage) (*cinder.Group, error) {
	var a struct {
		Group *idArg `json:"group"`
	}
	if err := decode(method, raw, &a); err != nil {
		return nil, err
	}
	if a.Group == nil || a.Group.ID == "" {
		return nil, cinder.InvalidInput("%s: no group named", method)
	}
	return m.store.GetGroup(ctx, a.Group.ID)
}

// createGroup (cast: group) makes a group still creating available: a
// generic volume group needs nothing of the driver, as Cinder's manager
// when the driver does not implement create_group.
func (m *Manager) createGroup(ctx context.Context, raw json.RawMessage) (any, error) {
	g, err := m.loadGroup(ctx, "create_group", raw)
	if cinder.IsNotFound(err) {
		slog.Warn("group to create no longer exists", "host", m.host, "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create_group: %w", err)
	}
	_, err = m.store.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error {
		if g.Status != cinder.GroupCreating {
			return cinder.InvalidGroup("group %s is %s, no longer creating", g.ID, g.Status)
		}
		g.Status = cinder.GroupAvailable
		return nil
	})
	if err != nil {
		slog.Warn("group to create changed meanwhile; leaving it", "group_id", g.ID, "host", m.host, "err", err)
		return nil, nil
	}
	slog.Info("created group", "group_id", g.ID, "host", m.host)
	return nil, nil
}

// deleteGroup (cast: group) deletes a deleting group's volumes, all
// deleting, from the driver and destroys them, then the group. A volume
// the driver fails to delete is left error_deleting and the group error. A
// crash midway leaves the group deleting with the volumes not yet deleted;
// a second delete finishes it.
func (m *Manager) deleteGroup(ctx context.Context, raw json.RawMessage) (any, error) {
	g, err := m.loadGroup(ctx, "delete_group", raw)
	if cinder.IsNotFound(err) {
		slog.Info("group to delete is already gone", "host", m.host, "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("delete_group: %w", err)
	}
	vols, err := m.store.GroupVolumes(ctx, g.ID)
	if err != nil {
		return nil, fmt.Errorf("delete_group %s: %w", g.ID, err)
	}
	status := cinder.GroupDeleting
	for _, v := range vols {
		if err := m.delete(ctx, v, false); err != nil {
			return nil, fmt.Errorf("delete_group %s: %w", g.ID, err)
		}
		if left, err := m.store.GetVolume(ctx, v.ID); err == nil && left.Status == cinder.StatusErrorDelete {
			status = cinder.GroupError
		}
	}
	_, err = m.store.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error {
		g.Status = status
		g.Deleted = status == cinder.GroupDeleting
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete_group %s: %w", g.ID, err)
	}
	slog.Info("deleted group", "group_id", g.ID, "host", m.host, "volumes", len(vols), "status", status)
	return nil, nil
}
