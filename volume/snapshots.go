package volume

import (
	"context"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// SnapshotRequest is a validated snapshot create.
type SnapshotRequest struct {
	VolumeID          string
	Name, Description string
	Metadata          map[string]string
	Force             bool // an in-use volume too (force, or 3.66 on)
}

// GetSnapshot returns snapshot id if the caller may see it: its own
// project's, or any for an admin; otherwise SnapshotNotFound, as Cinder.
func (a *API) GetSnapshot(ctx context.Context, id string) (*cinder.Snapshot, error) {
	s, err := a.store.GetSnapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	if rc := cinder.FromContext(ctx); !rc.IsAdmin && s.ProjectID != rc.ProjectID {
		return nil, cinder.SnapshotNotFound(id)
	}
	return s, nil
}

// CreateSnapshot writes a snapshot of req.VolumeID, creating, as
// volume/api.py create_snapshot_in_db, and asks the volume's backend to
// take it. The volume must be placed, available (in-use with Force), not
// in maintenance, error or a migration; the snapshot's room in the
// snapshots and gigabytes quotas is reserved first, and its row's insert
// ends the reservation. When the cast cannot be sent the row is
// destroyed; a crash after it leaves a creating snapshot that the
// backend's restart sets to error.
func (a *API) CreateSnapshot(ctx context.Context, req SnapshotRequest) (*cinder.Snapshot, error) {
	v, err := a.Get(ctx, req.VolumeID)
	if err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	if err := a.notFrozen(ctx, v.Host); err != nil {
		return nil, err
	}
	if err := snapshottable(v, req.Force); err != nil {
		return nil, err
	}
	rc := cinder.FromContext(ctx)
	s := &cinder.Snapshot{ID: uuid.NewString(), VolumeID: v.ID, UserID: rc.UserID, ProjectID: rc.ProjectID, Status: cinder.SnapshotCreating,
		Progress: "0%", VolumeSize: v.Size, DisplayName: req.Name, DisplayDescription: req.Description,
		Metadata: req.Metadata, VolumeTypeID: v.VolumeTypeID, UseQuota: true}
	if v.Bootable { // as Cinder's volume_glance_metadata_copy_to_snapshot
		s.GlanceMetadata = v.GlanceMetadata
	}
	if err := a.reserveSnapshot(ctx, s.ProjectID, s.ID, v); err != nil {
		return nil, err
	}
	if err := a.store.CreateSnapshot(ctx, s); err != nil {
		a.rollbackQuota(ctx, s.ID)
		return nil, err
	}
	// As Cinder, the volume is checked again once the row exists: a status
	// that changed meanwhile fails the snapshot.
	if v, err = a.store.GetVolume(ctx, v.ID); err == nil {
		err = snapshottable(v, req.Force)
	}
	if err == nil {
		err = a.backends.CreateSnapshot(ctx, v, s)
		if err != nil {
			err = unreachable(err, "Could not ask cinder-volume to create snapshot %s", s.ID)
		}
	}
	if err != nil {
		if derr := a.store.DestroySnapshot(ctx, s.ID); derr != nil {
			logFailure(ctx, "destroy snapshot "+s.ID+" after its create failed", derr)
		}
		return nil, err
	}
	return s, nil
}

// snapshottable fails unless a snapshot may be taken of v now.
func snapshottable(v *cinder.Volume, force bool) error {
	if err := snapshotReady(v); err != nil {
		return err
	}
	valid := []string{cinder.StatusAvailable}
	if force {
		valid = append(valid, cinder.StatusInUse)
	}
	if !slices.Contains(valid, v.Status) {
		return cinder.InvalidVolume("Volume %s status must be %s, but current status is: %s.", v.ID, strings.Join(valid, ", "), v.Status)
	}
	return nil
}

// snapshotReady fails unless v is placed and not in maintenance, a
// migration or error, as _create_snapshot_in_db_validate: what a snapshot
// of a group's volume needs.
func snapshotReady(v *cinder.Volume) error {
	switch {
	case v.Host == "":
		return cinder.InvalidVolume("The snapshot cannot be created because volume has not been scheduled to any host.")
	case v.Status == cinder.StatusMaintenance:
		return cinder.InvalidVolume("The snapshot cannot be created when the volume is in maintenance mode.")
	case migrating(v):
		return cinder.InvalidVolume("Snapshot cannot be created while volume is migrating.")
	case v.Status == cinder.StatusError:
		return cinder.InvalidVolume("The snapshot cannot be created when the volume is in error status.")
	}
	return nil
}

// SnapshotChanges are what a snapshot update sets; nil members are left
// as they are.
type SnapshotChanges struct {
	Name, Description *string
}

// UpdateSnapshot applies c to snapshot id.
func (a *API) UpdateSnapshot(ctx context.Context, id string, c SnapshotChanges) (*cinder.Snapshot, error) {
	s, err := a.GetSnapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	return a.store.UpdateSnapshot(context.WithoutCancel(ctx), s.ID, func(s *cinder.Snapshot) error {
		if c.Name != nil {
			s.DisplayName = *c.Name
		}
		if c.Description != nil {
			s.DisplayDescription = *c.Description
		}
		return nil
	})
}

// DeleteSnapshot deletes snapshot id as volume/api.py delete_snapshot: one
// conditional update (available or error unless force, not part of a
// group snapshot) moves it to deleting, and its volume's backend is asked
// to delete it. When that cast cannot be sent it gets its status back.
func (a *API) DeleteSnapshot(ctx context.Context, id string, force bool) error {
	return a.removeSnapshot(ctx, id, force, false)
}

// removeSnapshot is DeleteSnapshot, or with unmanage an unmanage: the
// snapshot becomes unmanaging and its backend keeps the storage.
func (a *API) removeSnapshot(ctx context.Context, id string, force, unmanage bool) error {
	s, err := a.GetSnapshot(ctx, id)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if err := a.snapshotNotFrozen(ctx, s); err != nil {
		return err
	}
	valid := []string{cinder.SnapshotAvailable, cinder.SnapshotError}
	var before cinder.Snapshot
	s, err = a.store.UpdateSnapshot(ctx, s.ID, func(s *cinder.Snapshot) error {
		if s.GroupSnapshotID != "" || !force && !slices.Contains(valid, s.Status) {
			status := ""
			if !force {
				status = " status must be " + strings.Join(valid, " or ") + " and"
			}
			return cinder.Errorf("InvalidSnapshot", 400, "Invalid snapshot: Snapshot%s must not be part of a group.", status)
		}
		before = *s
		s.Status = cinder.SnapshotDeleting
		if unmanage {
			s.Status = cinder.SnapshotUnmanaging
		}
		return nil
	})
	if err != nil {
		return err
	}
	v, err := a.store.GetVolume(ctx, s.VolumeID)
	if err == nil {
		if unmanage {
			err = a.backends.UnmanageSnapshot(ctx, v, s)
		} else {
			err = a.backends.DeleteSnapshot(ctx, v, s)
		}
	}
	if err != nil {
		a.setSnapshotStatus(ctx, s.ID, s.Status, before.Status)
		return unreachable(err, "Could not ask cinder-volume to delete snapshot %s", s.ID)
	}
	return nil
}

// setSnapshotStatus moves snapshot id from status from to to, unless it
// changed meanwhile; a failure is logged.
func (a *API) setSnapshotStatus(ctx context.Context, id, from, to string) {
	_, err := a.store.UpdateSnapshot(ctx, id, func(s *cinder.Snapshot) error {
		if s.Status != from {
			return cinder.Invalid("snapshot %s is %s, no longer %s", id, s.Status, from)
		}
		s.Status = to
		return nil
	})
	if err != nil {
		logFailure(ctx, "set snapshot "+id+" to "+to, err)
	}
}

// Snapshot statuses os-reset_status accepts, as Cinder's
// fields.SnapshotStatus.
var snapshotStatuses = []string{cinder.SnapshotCreating, cinder.SnapshotAvailable, cinder.SnapshotDeleting,
	cinder.SnapshotError, cinder.SnapshotErrorDeleting, cinder.SnapshotUpdating, cinder.SnapshotBackingUp,
	cinder.SnapshotUnmanaging, cinder.SnapshotRestoring}

// ResetSnapshotStatus sets snapshot id's status as an admin's
// os-reset_status.
func (a *API) ResetSnapshotStatus(ctx context.Context, id, status string) error {
	if !slices.Contains(snapshotStatuses, status) {
		return cinder.InvalidInput("Snapshot status %s is invalid, valid statuses are: %s.", status, strings.Join(snapshotStatuses, ", "))
	}
	s, err := a.GetSnapshot(ctx, id)
	if err != nil {
		return err
	}
	_, err = a.store.UpdateSnapshot(context.WithoutCancel(ctx), s.ID, func(s *cinder.Snapshot) error {
		s.Status = status
		return nil
	})
	return err
}

// UpdateSnapshotStatus is os-update_snapshot_status, how a driver outside
// Cinder reports progress: creating may become available or error,
// deleting may become error_deleting; progress is kept when given.
func (a *API) UpdateSnapshotStatus(ctx context.Context, id, status, progress string) error {
	s, err := a.GetSnapshot(ctx, id)
	if err != nil {
		return err
	}
	allowed := map[string][]string{
		cinder.SnapshotCreating: {cinder.SnapshotCreating, cinder.SnapshotAvailable, cinder.SnapshotError},
		cinder.SnapshotDeleting: {cinder.SnapshotDeleting, cinder.SnapshotErrorDeleting},
	}
	_, err = a.store.UpdateSnapshot(context.WithoutCancel(ctx), s.ID, func(s *cinder.Snapshot) error {
		if !slices.Contains(allowed[s.Status], status) {
			return cinder.InvalidInput("Provided snapshot status %s not allowed for snapshot with status %s.", status, s.Status)
		}
		s.Status = status
		if progress != "" {
			s.Progress = progress
		}
		return nil
	})
	return err
}

// SetSnapshotMetadata replaces snapshot id's metadata with md, or merges
// md into it when merge; it returns the metadata as stored.
func (a *API) SetSnapshotMetadata(ctx context.Context, id string, md map[string]string, merge bool) (map[string]string, error) {
	s, err := a.GetSnapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	s, err = a.store.UpdateSnapshot(context.WithoutCancel(ctx), s.ID, func(s *cinder.Snapshot) error {
		s.Metadata = mergeMetadata(s.Metadata, md, merge)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Metadata, nil
}

// DeleteSnapshotMetadata removes key from snapshot id's metadata.
func (a *API) DeleteSnapshotMetadata(ctx context.Context, id, key string) error {
	s, err := a.GetSnapshot(ctx, id)
	if err != nil {
		return err
	}
	_, err = a.store.UpdateSnapshot(context.WithoutCancel(ctx), s.ID, func(s *cinder.Snapshot) error {
		if _, ok := s.Metadata[key]; !ok {
			return SnapshotMetadataNotFound(s.ID, key)
		}
		delete(s.Metadata, key)
		return nil
	})
	return err
}

// Revert gives volume id back the bytes of its latest snapshot snapshotID,
// as volume/api.py revert_to_snapshot: the volume goes reverting and the
// snapshot restoring (409 when either is not available), and the volume's
// backend is asked to revert it. When that cast cannot be sent both get
// their status back.
func (a *API) Revert(ctx context.Context, id, snapshotID string) error {
	v, err := a.Get(ctx, id)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	latest, err := a.store.ListSnapshots(ctx, db.SnapshotFilter{VolumeID: v.ID, SortDescending: true, Limit: 1})
	if err != nil {
		return err
	}
	if len(latest) == 0 {
		return cinder.Invalid("Volume %s doesn't have any snapshots.", v.ID)
	}
	s := latest[0]
	if snapshotID != s.ID {
		return cinder.Invalid("Specified snapshot %s is None or not the latest one of volume %s.", snapshotID, v.ID)
	}
	if v.Size != s.VolumeSize {
		return cinder.Invalid("Can't revert volume %s to its latest snapshot %s. The volume size must be equal to the snapshot size.", v.ID, s.ID)
	}
	conflict := func(what string) error {
		return cinder.Errorf("Invalid"+what, 409, "Invalid %s: Can't revert volume %s to its latest snapshot %s. %s's status must be 'available'.",
			strings.ToLower(what), v.ID, s.ID, what)
	}
	before, v, err := a.claim(ctx, v.ID, func(v *cinder.Volume) error {
		if v.Status != cinder.StatusAvailable {
			return conflict("Volume")
		}
		return nil
	}, func(v *cinder.Volume) { v.Status = cinder.StatusReverting })
	if err != nil {
		return err
	}
	if s, err = a.store.UpdateSnapshot(ctx, s.ID, func(s *cinder.Snapshot) error {
		if s.Status != cinder.SnapshotAvailable {
			return conflict("Snapshot")
		}
		s.Status = cinder.SnapshotRestoring
		return nil
	}); err != nil {
		a.rollback(ctx, before, v)
		return err
	}
	if err := a.backends.RevertToSnapshot(ctx, v, s); err != nil {
		a.rollback(ctx, before, v)
		a.setSnapshotStatus(ctx, s.ID, cinder.SnapshotRestoring, cinder.SnapshotAvailable)
		return unreachable(err, "Could not ask cinder-volume to revert volume %s", v.ID)
	}
	return nil
}
