package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// snapshotArgs are the arguments naming a snapshot: the snapshot, of
// which only the id is read, or its id alone (the *_snapshot connection
// calls).
type snapshotArgs struct {
	Snapshot   *idArg `json:"snapshot"`
	SnapshotID string `json:"snapshot_id"`
}

// loadSnapshot reads the snapshot a request names and its volume, which
// must be on this backend.
func (m *Manager) loadSnapshot(ctx context.Context, method string, raw json.RawMessage) (*cinder.Snapshot, *cinder.Volume, error) {
	var a snapshotArgs
	if err := decode(method, raw, &a); err != nil {
		return nil, nil, err
	}
	id := a.SnapshotID
	if a.Snapshot != nil {
		id = a.Snapshot.ID
	}
	if id == "" {
		return nil, nil, cinder.InvalidInput("%s: no snapshot named", method)
	}
	s, err := m.store.GetSnapshot(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	v, err := m.load(ctx, volumeArgs{VolumeID: s.VolumeID})
	return s, v, err
}

// createSnapshot (cast: snapshot) takes a snapshot still creating: it
// becomes available at 100%, or error when the driver fails. A crash
// midway leaves it creating; Init sets it to error and removes its storage.
func (m *Manager) createSnapshot(ctx context.Context, raw json.RawMessage) (any, error) {
	s, v, err := m.loadSnapshot(ctx, "create_snapshot", raw)
	if cinder.IsNotFound(err) {
		slog.Warn("snapshot to create no longer exists", "host", m.host, "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create_snapshot: %w", err)
	}
	if s.Status != cinder.SnapshotCreating {
		slog.Warn("snapshot to create is no longer creating; leaving it", "snapshot_id", s.ID, "host", m.host, "status", s.Status)
		return nil, nil
	}
	m.take(ctx, s, v)
	return nil, nil
}

// take has the driver take snapshot s, creating, of v: s becomes available
// at 100%, or error when the driver fails. It reports whether s became
// available; a snapshot that changed meanwhile is left as it is.
func (m *Manager) take(ctx context.Context, s *cinder.Snapshot, v *cinder.Volume) bool {
	log := slog.With("snapshot_id", s.ID, "volume_id", v.ID, "host", m.host)
	status, progress := cinder.SnapshotAvailable, "100%"
	if err := m.drv.CreateSnapshot(ctx, s, v); err != nil {
		log.Error("failed to create snapshot", "err", err)
		status, progress = cinder.SnapshotError, s.Progress
	}
	if _, err := m.store.UpdateSnapshot(ctx, s.ID, func(s *cinder.Snapshot) error {
		if s.Status != cinder.SnapshotCreating {
			return cinder.Invalid("snapshot %s is %s, no longer creating", s.ID, s.Status)
		}
		s.Status, s.Progress = status, progress
		return nil
	}); err != nil {
		log.Warn("snapshot changed while being created", "err", err)
		return false
	}
	log.Info("created snapshot", "status", status)
	return status == cinder.SnapshotAvailable
}

// deleteSnapshot (cast: snapshot, unmanage_only) deletes a snapshot's
// storage, then its row; a driver failure leaves it error_deleting. With
// unmanage_only the driver lets the storage go, kept as
// unmanaged-snapshot-<id>, and the row goes.
func (m *Manager) deleteSnapshot(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		UnmanageOnly bool `json:"unmanage_only"`
	}
	if err := decode("delete_snapshot", raw, &a); err != nil {
		return nil, err
	}
	s, _, err := m.loadSnapshot(ctx, "delete_snapshot", raw)
	if cinder.IsNotFound(err) {
		slog.Info("snapshot to delete is already gone", "host", m.host, "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("delete_snapshot: %w", err)
	}
	if a.UnmanageOnly {
		if err := m.drv.UnmanageSnapshot(ctx, s); err != nil {
			slog.Error("failed to unmanage snapshot", "snapshot_id", s.ID, "host", m.host, "err", err)
			m.setSnapshotStatus(ctx, s.ID, cinder.SnapshotErrorDeleting)
			return nil, nil
		}
		if err := m.store.DestroySnapshot(ctx, s.ID); err != nil && !cinder.IsNotFound(err) {
			return nil, fmt.Errorf("destroy snapshot %s: %w", s.ID, err)
		}
		slog.Info("unmanaged snapshot", "snapshot_id", s.ID, "volume_id", s.VolumeID, "host", m.host)
		return nil, nil
	}
	return nil, m.removeSnapshot(ctx, s)
}

// removeSnapshot deletes s's storage, then destroys its row. A driver
// failure is logged and leaves s error_deleting; a crash between the two
// leaves it deleting, which Init finishes.
func (m *Manager) removeSnapshot(ctx context.Context, s *cinder.Snapshot) error {
	if err := m.drv.DeleteSnapshot(ctx, s); err != nil {
		slog.Error("failed to delete snapshot", "snapshot_id", s.ID, "host", m.host, "err", err)
		m.setSnapshotStatus(ctx, s.ID, cinder.SnapshotErrorDeleting)
		return nil
	}
	if err := m.store.DestroySnapshot(ctx, s.ID); err != nil && !cinder.IsNotFound(err) {
		return fmt.Errorf("destroy snapshot %s: %w", s.ID, err)
	}
	slog.Info("deleted snapshot", "snapshot_id", s.ID, "volume_id", s.VolumeID, "host", m.host)
	return nil
}

// setSnapshotStatus sets snapshot id's status, logging a failure.
func (m *Manager) setSnapshotStatus(ctx context.Context, id, status string) {
	if _, err := m.store.UpdateSnapshot(ctx, id, func(s *cinder.Snapshot) error { s.Status = status; return nil }); err != nil {
		slog.Error("failed to set snapshot status", "snapshot_id", id, "host", m.host, "status", status, "err", err)
	}
}

// revertToSnapshot (cast: volume, snapshot) gives a reverting volume the
// bytes of its latest snapshot, restoring: both become available again;
// a driver failure leaves the volume error and the snapshot available, as
// Cinder. A crash midway leaves them reverting and restoring, which Init
// turns into error and available: the volume's bytes are then uncertain.
func (m *Manager) revertToSnapshot(ctx context.Context, raw json.RawMessage) (any, error) {
	s, v, err := m.loadSnapshot(ctx, "revert_to_snapshot", raw)
	if err != nil {
		return nil, fmt.Errorf("revert_to_snapshot: %w", err)
	}
	log := slog.With("snapshot_id", s.ID, "volume_id", v.ID, "host", m.host)
	volumeStatus := cinder.StatusAvailable
	if err := m.drv.RevertToSnapshot(ctx, v, s); err != nil {
		log.Error("failed to revert volume to snapshot", "err", err)
		volumeStatus = cinder.StatusError
	}
	if _, err := m.transition(ctx, v.ID, cinder.StatusReverting, volumeStatus, nil); err != nil {
		log.Warn("volume changed while being reverted", "err", err)
	}
	m.setSnapshotStatus(ctx, s.ID, cinder.SnapshotAvailable)
	log.Info("reverted volume to snapshot", "status", volumeStatus)
	return nil, nil
}

// snapshotConnection reads the snapshot and the connector of a snapshot
// connection call (snapshot_id, connector).
func (m *Manager) snapshotConnection(ctx context.Context, method string, raw json.RawMessage) (*cinder.Snapshot, map[string]any, error) {
	var a struct {
		Connector map[string]any `json:"connector"`
	}
	if err := decode(method, raw, &a); err != nil {
		return nil, nil, err
	}
	s, _, err := m.loadSnapshot(ctx, method, raw)
	return s, a.Connector, err
}

// initializeConnectionSnapshot (call 3.13: snapshot_id, connector) exposes
// a snapshot to a connector, as cinder-backup asks to read a backup's
// snapshot, and answers the connection info.
func (m *Manager) initializeConnectionSnapshot(ctx context.Context, raw json.RawMessage) (any, error) {
	s, connector, err := m.snapshotConnection(ctx, "initialize_connection_snapshot", raw)
	if err != nil {
		return nil, err
	}
	info, err := m.drv.InitializeConnectionSnapshot(ctx, s, connector)
	if err != nil {
		slog.Error("failed to initialize snapshot connection", "snapshot_id", s.ID, "host", m.host, "err", err)
		return nil, backendError(err, "initialize_connection_snapshot of snapshot %s", s.ID)
	}
	slog.Info("initialized snapshot connection", "snapshot_id", s.ID, "host", m.host, "driver_volume_type", info.DriverVolumeType)
	return info, nil
}

// terminateConnectionSnapshot (call 3.13: snapshot_id, connector, force)
// withdraws what initialize_connection_snapshot exposed.
func (m *Manager) terminateConnectionSnapshot(ctx context.Context, raw json.RawMessage) (any, error) {
	s, connector, err := m.snapshotConnection(ctx, "terminate_connection_snapshot", raw)
	if err != nil {
		return nil, err
	}
	if err := m.drv.TerminateConnectionSnapshot(ctx, s, connector); err != nil {
		slog.Error("failed to terminate snapshot connection", "snapshot_id", s.ID, "host", m.host, "err", err)
		return nil, backendError(err, "terminate_connection_snapshot of snapshot %s", s.ID)
	}
	slog.Info("terminated snapshot connection", "snapshot_id", s.ID, "host", m.host)
	return nil, nil
}

// removeExportSnapshot (call or cast 3.13: snapshot_id) removes the
// export initialize_connection_snapshot made.
func (m *Manager) removeExportSnapshot(ctx context.Context, raw json.RawMessage) (any, error) {
	s, _, err := m.loadSnapshot(ctx, "remove_export_snapshot", raw)
	if err != nil {
		return nil, err
	}
	if err := m.drv.RemoveExportSnapshot(ctx, s); err != nil {
		slog.Error("failed to remove snapshot export", "snapshot_id", s.ID, "host", m.host, "err", err)
		return nil, backendError(err, "remove_export_snapshot of snapshot %s", s.ID)
	}
	return nil, nil
}

// recoverSnapshots ends the snapshot work a previous run of the backend
// left on snaps: snapshots creating go to error without storage, deleting
// ones are deleted, and restoring ones go back to available (their volume,
// left reverting, goes to error in recover).
func (m *Manager) recoverSnapshots(ctx context.Context, snaps []*cinder.Snapshot) {
	for _, s := range snaps {
		switch s.Status {
		case cinder.SnapshotCreating:
			slog.Warn("snapshot was left creating; removing its storage and setting it to error", "snapshot_id", s.ID, "host", m.host)
			if err := m.drv.DeleteSnapshot(ctx, s); err != nil {
				slog.Error("failed to remove the storage of a snapshot left creating", "snapshot_id", s.ID, "err", err)
			}
			m.setSnapshotStatus(ctx, s.ID, cinder.SnapshotError)
		case cinder.SnapshotDeleting:
			if err := m.removeSnapshot(ctx, s); err != nil {
				slog.Error("failed to recover snapshot", "snapshot_id", s.ID, "err", err)
			}
		case cinder.SnapshotRestoring:
			m.setSnapshotStatus(ctx, s.ID, cinder.SnapshotAvailable)
		}
	}
}

// deleteSnapshots deletes every snapshot of v, as a cascade delete does
// before the volume; it fails on the first that cannot be deleted.
func (m *Manager) deleteSnapshots(ctx context.Context, v *cinder.Volume) error {
	snaps, err := m.store.ListSnapshots(ctx, db.SnapshotFilter{VolumeID: v.ID})
	if err != nil {
		return fmt.Errorf("list snapshots of volume %s: %w", v.ID, err)
	}
	for _, s := range snaps {
		if err := m.drv.DeleteSnapshot(ctx, s); err != nil {
			m.setSnapshotStatus(ctx, s.ID, cinder.SnapshotErrorDeleting)
			return fmt.Errorf("delete snapshot %s of volume %s: %w", s.ID, v.ID, err)
		}
		if err := m.store.DestroySnapshot(ctx, s.ID); err != nil && !cinder.IsNotFound(err) {
			return fmt.Errorf("destroy snapshot %s: %w", s.ID, err)
		}
	}
	return nil
}
