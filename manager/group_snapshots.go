package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// loadGroupSnapshot reads the group snapshot a request names by key (only
// its id is read); a null or absent one is nil.
func (m *Manager) loadGroupSnapshot(ctx context.Context, method, key string, raw json.RawMessage) (*cinder.GroupSnapshot, error) {
	var a map[string]json.RawMessage
	if err := decode(method, raw, &a); err != nil {
		return nil, err
	}
	var gs *idArg
	if len(a[key]) == 0 {
		return nil, nil
	}
	if err := decode(method, a[key], &gs); err != nil || gs == nil || gs.ID == "" {
		return nil, err
	}
	return m.store.GetGroupSnapshot(ctx, gs.ID)
}

// createGroupSnapshot (cast: group_snapshot) takes the snapshots, all
// creating, of a group snapshot still creating, one volume after another
// as Cinder's generic group snapshot: each becomes available, or error
// when the driver fails, and the group snapshot available, or error when
// any failed. A crash midway leaves it and the snapshots not yet taken
// creating; Init sets them to error.
func (m *Manager) createGroupSnapshot(ctx context.Context, raw json.RawMessage) (any, error) {
	gs, err := m.loadGroupSnapshot(ctx, "create_group_snapshot", "group_snapshot", raw)
	if gs == nil && err == nil {
		err = cinder.InvalidInput("create_group_snapshot: no group snapshot named")
	}
	if cinder.IsNotFound(err) {
		slog.Warn("group snapshot to create no longer exists", "host", m.host, "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create_group_snapshot: %w", err)
	}
	log := slog.With("group_snapshot_id", gs.ID, "host", m.host)
	if gs.Status != cinder.GroupSnapshotCreating {
		log.Warn("group snapshot to create is no longer creating; leaving it", "status", gs.Status)
		return nil, nil
	}
	snaps, err := m.store.ListSnapshots(ctx, db.SnapshotFilter{GroupSnapshot: gs.ID})
	if err != nil {
		return nil, fmt.Errorf("create_group_snapshot %s: %w", gs.ID, err)
	}
	status := cinder.GroupSnapshotAvailable
	for _, s := range snaps {
		v, err := m.load(ctx, volumeArgs{VolumeID: s.VolumeID})
		if err != nil {
			log.Error("cannot snapshot a volume of the group", "snapshot_id", s.ID, "err", err)
			m.setSnapshotStatus(ctx, s.ID, cinder.SnapshotError)
			status = cinder.GroupSnapshotError
			continue
		}
		if s.Status != cinder.SnapshotCreating || !m.take(ctx, s, v) {
			status = cinder.GroupSnapshotError
		}
	}
	m.endGroupSnapshot(ctx, gs.ID, cinder.GroupSnapshotCreating, status)
	log.Info("created group snapshot", "status", status, "snapshots", len(snaps))
	return nil, nil
}

// endGroupSnapshot moves group snapshot id from status from to status to,
// unless it changed meanwhile; a failure is logged.
func (m *Manager) endGroupSnapshot(ctx context.Context, id, from, to string) {
	if _, err := m.store.UpdateGroupSnapshot(ctx, id, func(gs *cinder.GroupSnapshot) error {
		if gs.Status != from {
			return cinder.InvalidGroupSnapshot("group snapshot %s is %s, no longer %s", id, gs.Status, from)
		}
		gs.Status = to
		return nil
	}); err != nil {
		slog.Warn("could not set group snapshot status", "group_snapshot_id", id, "host", m.host, "status", to, "err", err)
	}
}

// deleteGroupSnapshot (cast: group_snapshot) deletes the snapshots, all
// deleting, of a group snapshot, then destroys it. A snapshot the driver
// fails to delete is left error_deleting and the group snapshot error. A
// crash midway leaves the snapshots not yet deleted deleting, which Init
// deletes, and the group snapshot deleting, which Init sets to error for a
// second delete to finish.
func (m *Manager) deleteGroupSnapshot(ctx context.Context, raw json.RawMessage) (any, error) {
	gs, err := m.loadGroupSnapshot(ctx, "delete_group_snapshot", "group_snapshot", raw)
	if gs == nil && err == nil {
		err = cinder.InvalidInput("delete_group_snapshot: no group snapshot named")
	}
	if cinder.IsNotFound(err) {
		slog.Info("group snapshot to delete is already gone", "host", m.host, "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("delete_group_snapshot: %w", err)
	}
	snaps, err := m.store.ListSnapshots(ctx, db.SnapshotFilter{GroupSnapshot: gs.ID})
	if err != nil {
		return nil, fmt.Errorf("delete_group_snapshot %s: %w", gs.ID, err)
	}
	failed := false
	for _, s := range snaps {
		if err := m.removeSnapshot(ctx, s); err != nil {
			return nil, fmt.Errorf("delete_group_snapshot %s: %w", gs.ID, err)
		}
		if _, err := m.store.GetSnapshot(ctx, s.ID); !cinder.IsNotFound(err) {
			failed = true
		}
	}
	if failed {
		m.endGroupSnapshot(ctx, gs.ID, cinder.GroupSnapshotDeleting, cinder.GroupSnapshotError)
		slog.Error("failed to delete group snapshot", "group_snapshot_id", gs.ID, "host", m.host)
		return nil, nil
	}
	if err := m.store.DestroyGroupSnapshot(ctx, gs.ID); err != nil && !cinder.IsNotFound(err) {
		return nil, fmt.Errorf("destroy group snapshot %s: %w", gs.ID, err)
	}
	slog.Info("deleted group snapshot", "group_snapshot_id", gs.ID, "host", m.host, "snapshots", len(snaps))
	return nil, nil
}

// createGroupFromSrc (cast: group, group_snapshot, source_group) makes the
// volumes, all creating, of a group still creating from the snapshots of
// group_snapshot or the volumes of source_group, as Cinder's generic
// create_group_from_src: each through the driver's create from snapshot
// or clone, becoming available, or error when the driver fails, and the
// group available, or error when any failed. A source not found, or a
// snapshot not available or a source volume not available, fails the
// group and all its volumes. A crash midway leaves the group and the
// volumes not yet made creating; Init sets them to error.
func (m *Manager) createGroupFromSrc(ctx context.Context, raw json.RawMessage) (any, error) {
	g, err := m.loadGroup(ctx, "create_group_from_src", raw)
	if cinder.IsNotFound(err) {
		slog.Warn("group to create no longer exists", "host", m.host, "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create_group_from_src: %w", err)
	}
	log := slog.With("group_id", g.ID, "host", m.host)
	if g.Status != cinder.GroupCreating {
		log.Warn("group to create is no longer creating; leaving it", "status", g.Status)
		return nil, nil
	}
	vols, err := m.store.GroupVolumes(ctx, g.ID)
	if err != nil {
		return nil, fmt.Errorf("create_group_from_src %s: %w", g.ID, err)
	}
	status := cinder.GroupAvailable
	if err := m.checkGroupSource(ctx, raw); err != nil {
		log.Error("cannot create group from its source", "err", err)
		status = cinder.GroupError
	}
	for _, v := range vols {
		if v.Status != cinder.StatusCreating {
			continue
		}
		to := cinder.StatusAvailable
		if status == cinder.GroupError {
			to = cinder.StatusError
		} else if err := m.make(ctx, v); err != nil {
			log.Error("failed to create volume of group from source", "volume_id", v.ID, "err", err)
			to = cinder.StatusError
		}
		if _, err := m.transition(ctx, v.ID, cinder.StatusCreating, to, nil); err != nil {
			log.Warn("volume changed while being created", "volume_id", v.ID, "err", err)
			to = cinder.StatusError
		}
		if to == cinder.StatusError {
			status = cinder.GroupError
		}
	}
	if _, err := m.store.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error {
		if g.Status != cinder.GroupCreating {
			return cinder.InvalidGroup("group %s is %s, no longer creating", g.ID, g.Status)
		}
		g.Status = status
		return nil
	}); err != nil {
		log.Warn("group changed while being created", "err", err)
		return nil, nil
	}
	log.Info("created group from source", "status", status, "volumes", len(vols))
	return nil, nil
}

// checkGroupSource fails unless the source a create_group_from_src names
// exists and can be copied: every snapshot of the group snapshot
// available, every volume of the source group available.
func (m *Manager) checkGroupSource(ctx context.Context, raw json.RawMessage) error {
	gs, err := m.loadGroupSnapshot(ctx, "create_group_from_src", "group_snapshot", raw)
	if err != nil {
		return err
	}
	if gs != nil {
		snaps, err := m.store.ListSnapshots(ctx, db.SnapshotFilter{GroupSnapshot: gs.ID})
		if err != nil {
			return err
		}
		for _, s := range snaps {
			if s.Status != cinder.SnapshotAvailable {
				return cinder.InvalidGroup("Cannot create group because snapshot %s is not in a valid state. Valid states are: ('available',).", s.ID)
			}
		}
	}
	var a struct {
		Source *idArg `json:"source_group"`
	}
	if err := decode("create_group_from_src", raw, &a); err != nil || a.Source == nil || a.Source.ID == "" {
		return err
	}
	src, err := m.store.GetGroup(ctx, a.Source.ID)
	if err != nil {
		return err
	}
	vols, err := m.store.GroupVolumes(ctx, src.ID)
	if err != nil {
		return err
	}
	for _, v := range vols {
		if v.Status != cinder.StatusAvailable {
			return cinder.InvalidGroup("Cannot create group because source volume %s is not in a valid state. Valid states are: ('available',).", v.ID)
		}
	}
	return nil
}

// recoverGroups ends the group work a previous run of the backend left,
// after its volumes and snapshots are recovered: groups left creating or
// deleting, and their group snapshots left creating or deleting, go to
// error, for an admin or a second delete to finish.
func (m *Manager) recoverGroups(ctx context.Context) {
	groups, err := m.store.ListGroups(ctx, db.GroupFilter{Host: m.host})
	if err != nil {
		slog.Error("failed to list groups of backend", "host", m.host, "err", err)
		return
	}
	for _, g := range groups {
		if g.Status == cinder.GroupCreating || g.Status == cinder.GroupDeleting {
			slog.Warn("group was left "+g.Status+"; setting it to error", "group_id", g.ID, "host", m.host)
			if _, err := m.store.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error {
				if g.Status != cinder.GroupCreating && g.Status != cinder.GroupDeleting {
					return cinder.InvalidGroup("group %s is %s", g.ID, g.Status)
				}
				g.Status = cinder.GroupError
				return nil
			}); err != nil {
				slog.Error("failed to recover group", "group_id", g.ID, "host", m.host, "err", err)
			}
		}
		gss, err := m.store.ListGroupSnapshots(ctx, db.GroupSnapshotFilter{GroupID: g.ID})
		if err != nil {
			slog.Error("failed to list group snapshots of group", "group_id", g.ID, "host", m.host, "err", err)
			continue
		}
		for _, gs := range gss {
			if gs.Status == cinder.GroupSnapshotCreating || gs.Status == cinder.GroupSnapshotDeleting {
				slog.Warn("group snapshot was left "+gs.Status+"; setting it to error", "group_snapshot_id", gs.ID, "host", m.host)
				m.endGroupSnapshot(ctx, gs.ID, gs.Status, cinder.GroupSnapshotError)
			}
		}
	}
}
