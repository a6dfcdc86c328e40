package volume

import (
	"context"
	"slices"
	"strings"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// Changes are what an update sets; nil members are left as they are.
type Changes struct {
	Name, Description *string
	Metadata          map[string]string // replaces the volume's metadata when not nil
	Bootable          *bool             // os-set_bootable
}

// Update applies c to volume id, refused while it is in maintenance.
func (a *API) Update(ctx context.Context, id string, c Changes) (*cinder.Volume, error) {
	v, err := a.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return a.store.UpdateVolume(context.WithoutCancel(ctx), v.ID, func(v *cinder.Volume) error {
		if v.Status == cinder.StatusMaintenance {
			return cinder.InvalidVolume("The volume cannot be updated during maintenance.")
		}
		if c.Name != nil {
			v.DisplayName = *c.Name
		}
		if c.Description != nil {
			v.DisplayDescription = *c.Description
		}
		if c.Metadata != nil {
			v.Metadata = c.Metadata
		}
		if c.Bootable != nil {
			v.Bootable = *c.Bootable
		}
		return nil
	})
}

// Delete deletes volume id as volume/api.py delete: one conditional update
// first (a deletable status unless force, and not migrating or attached)
// moves it to deleting; a volume no scheduler placed is then destroyed at
// once (no scheduler places a deleting volume, so none can give it storage
// meanwhile), any other is deleted by its backend. A volume with snapshots
// is refused unless cascade, which deletes them first (each available or
// error unless force). When the cast cannot be sent the volume gets its
// status back.
func (a *API) Delete(ctx context.Context, id string, force, cascade bool) error {
	return a.remove(ctx, id, force, cascade, false)
}

// remove is Delete, or with unmanage an unmanage: the volume becomes
// unmanaging and its backend keeps the storage.
func (a *API) remove(ctx context.Context, id string, force, cascade, unmanage bool) error {
	v, err := a.Get(ctx, id)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if err := a.notFrozen(ctx, v.Host); err != nil {
		return err
	}
	snaps, err := a.store.ListSnapshots(ctx, db.SnapshotFilter{VolumeID: v.ID})
	if err != nil {
		return err
	}
	if len(snaps) > 0 && !cascade {
		return notDeletable(force)
	}
	if err := deletableSnapshots(snaps, force); err != nil {
		return err
	}
	before, v, err := a.claim(ctx, v.ID, func(v *cinder.Volume) error {
		if v.AttachStatus == "attached" || v.GroupID != "" || !slices.Contains(deletableMigration, v.MigrationStatus) ||
			(!force && !slices.Contains(deletableStatuses, v.Status)) {
			return notDeletable(force)
		}
		return nil
	}, func(v *cinder.Volume) {
		switch {
		case v.Status == "error_managing":
			v.Status = "error_managing_deleting"
		case unmanage:
			v.Status = StatusUnmanaging
		default:
			v.Status = cinder.StatusDeleting
		}
	})
	if err != nil {
		return err
	}
	if v.Host == "" {
		return a.store.DestroyVolume(ctx, v.ID)
	}
	for _, s := range snaps {
		if _, err := a.store.UpdateSnapshot(ctx, s.ID, func(s *cinder.Snapshot) error {
			s.Status = cinder.SnapshotDeleting
			return nil
		}); err != nil {
			a.setStatus(ctx, v.ID, v.Status, cinder.StatusErrorDelete)
			return cinder.InvalidVolume("Failed to update snapshot.")
		}
	}
	cast := func() error { return a.backends.DeleteVolume(ctx, v, cascade) }
	if unmanage {
		cast = func() error { return a.backends.UnmanageVolume(ctx, v) }
	}
	return a.castOrRollback(ctx, before, v, cast, "Could not ask cinder-volume to delete volume %s", v.ID)
}

// notDeletable is Cinder's refusal of a volume delete.
func notDeletable(force bool) error {
	status := ""
	if !force {
		status = " status must be " + strings.Join(deletableStatuses, " or ") + " and"
	}
	return cinder.InvalidVolume("Volume%s must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.", status)
}

// deletableSnapshots fails unless a cascade delete may delete snaps: each
// available or error (any, with force), as Cinder's
// volume_has_undeletable_snapshots_filter, and none of a group snapshot,
// which Cinder's cascade fails to update.
func deletableSnapshots(snaps []*cinder.Snapshot, force bool) error {
	for _, s := range snaps {
		if s.GroupSnapshotID != "" {
			return cinder.InvalidVolume("Failed to update snapshot.")
		}
		if !force && s.Status != cinder.SnapshotAvailable && s.Status != cinder.SnapshotError {
			return cinder.InvalidVolume("Snapshot %s is %s: a cascade delete needs every snapshot available or error.", s.ID, s.Status)
		}
	}
	return nil
}

// setStatus moves volume id from status from to to, unless it changed
// meanwhile; a failure is logged.
func (a *API) setStatus(ctx context.Context, id, from, to string) {
	_, err := a.store.UpdateVolume(ctx, id, func(v *cinder.Volume) error {
		if v.Status != from {
			return cinder.InvalidVolume("volume %s is %s, no longer %s", id, v.Status, from)
		}
		v.Status = to
		return nil
	})
	if err != nil {
		logFailure(ctx, "set volume "+id+" to "+to, err)
	}
}

// Extend grows volume id to newSize GiB: it must be available (or in-use
// when inUse, from 3.42), grow and not be migrating; it goes to extending,
// the GiB it adds are reserved (its status back when over quota) and its
// backend is asked to extend it. The new size's write ends the
// reservation, as does any status it leaves extending for. When that cast
// cannot be sent the volume gets its status back.
func (a *API) Extend(ctx context.Context, id string, newSize int, inUse bool) error {
	v, err := a.Get(ctx, id)
	if err != nil {
		return err
	}
	if newSize <= v.Size {
		return cinder.InvalidInput("New size for extend must be greater than current size. (current: %d, extended: %d).", v.Size, newSize)
	}
	ctx = context.WithoutCancel(ctx)
	allowed := []string{cinder.StatusAvailable}
	if inUse {
		allowed = append(allowed, cinder.StatusInUse)
	}
	before, v, err := a.claim(ctx, v.ID, func(v *cinder.Volume) error {
		if !slices.Contains(allowed, v.Status) {
			return cinder.InvalidVolume("Volume %s status must be '%s' to extend, currently %s.", v.ID, strings.Join(allowed, "' or '"), v.Status)
		}
		// A migration copies the size it started with: extending either
		// end meanwhile would leave the row larger than its storage.
		if migrating(v) {
			return cinder.InvalidVolume("Volume %s is being migrated (migration status %s) and cannot be extended until the migration ends.", v.ID, v.MigrationStatus)
		}
		return nil
	}, func(v *cinder.Volume) {
		v.PreviousStatus, v.Status = v.Status, cinder.StatusExtending
	})
	if err != nil {
		return err
	}
	if err := a.reserveExtend(ctx, v, newSize); err != nil {
		a.rollback(ctx, before, v)
		return err
	}
	return a.castOrRollback(ctx, before, v, func() error { return a.backends.ExtendVolume(ctx, v, newSize) },
		"Could not ask cinder-volume to extend volume %s", v.ID)
}

// Reset is what os-reset_status sets; "" leaves a field as it is, and a
// MigrationStatus of "none" clears it.
type Reset struct {
	Status, AttachStatus, MigrationStatus string
}

// ResetStatus sets volume id's statuses as an admin's os-reset_status,
// with no checks beyond Cinder's: never to a status only a flow may set,
// in-use only with attachments. An attach_status reset to detached then
// ends every attachment, which leaves the volume available.
func (a *API) ResetStatus(ctx context.Context, id string, r Reset) error {
	switch r.Status {
	case cinder.StatusDeleting, cinder.StatusErrorDelete, cinder.StatusDetaching:
		return cinder.Invalid("Cannot reset-state to %s", r.Status)
	}
	v, err := a.Get(ctx, id)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	live, err := a.store.ListAttachments(ctx, db.AttachmentFilter{VolumeID: v.ID})
	if err != nil {
		return err
	}
	live = slices.DeleteFunc(live, func(l *cinder.Attachment) bool { return l.AttachStatus == cinder.AttachDetached })
	if r.Status == cinder.StatusInUse && len(live) == 0 {
		return cinder.Invalid("Cannot reset-state to in-use because volume does not have any attachments.")
	}
	_, err = a.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		if r.Status != "" {
			v.Status = r.Status
		}
		if r.AttachStatus != "" {
			v.AttachStatus = r.AttachStatus
		}
		switch r.MigrationStatus {
		case "":
		case "none":
			v.MigrationStatus = ""
		default:
			v.MigrationStatus = r.MigrationStatus
		}
		return nil
	})
	if err != nil || r.AttachStatus != cinder.AttachDetached {
		return err
	}
	for _, l := range live {
		if _, err := a.store.DetachAttachment(ctx, v.ID, l.ID); err != nil {
			return err
		}
	}
	return nil
}

// placed returns volume id for a connection action: it must be on a
// backend and not in maintenance; what is the action's past participle.
func (a *API) placed(ctx context.Context, id, what string) (*cinder.Volume, error) {
	v, err := a.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if v.Status == cinder.StatusMaintenance {
		return nil, cinder.InvalidVolume("The volume connection cannot be %s in maintenance status.", what)
	}
	return v, onBackend(v)
}

// InitializeConnection asks volume id's backend to expose it to connector
// and says where its bytes are.
func (a *API) InitializeConnection(ctx context.Context, id string, connector map[string]any) (*cinder.ConnectionInfo, error) {
	v, err := a.placed(ctx, id, "initialized")
	if err != nil {
		return nil, err
	}
	info, err := a.backends.InitializeConnection(ctx, v, connector)
	if err != nil {
		return nil, connectionFailure(ctx, v, err, "initialize", "Unable to fetch connection information from backend.")
	}
	return info, nil
}

// TerminateConnection asks volume id's backend to withdraw what
// InitializeConnection exposed to connector, as volume/api.py: refused
// for a volume whose attachment it cannot name (several), and an
// attaching volume then goes back as os-unreserve does.
func (a *API) TerminateConnection(ctx context.Context, id string, connector map[string]any) error {
	v, err := a.placed(ctx, id, "terminated")
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if err := a.deletionAllowed(ctx, v, ""); err != nil {
		return err
	}
	if err := a.backends.TerminateConnection(ctx, v, connector); err != nil {
		return connectionFailure(ctx, v, err, "terminate", "Unable to terminate volume connection from backend.")
	}
	return a.updateAttached(ctx, v.ID, unreserve)
}

// connectionFailure is the error of a connection call to v's backend that
// failed with err: the backend's own failure is logged and answered with
// message, as Cinder's VolumeBackendAPIException handlers do.
func connectionFailure(ctx context.Context, v *cinder.Volume, err error, verb, message string) error {
	if backendFailure(err) {
		logFailure(ctx, verb+" connection of volume "+v.ID, err)
		return cinder.Errorf("VolumeBackendAPIException", 500, "%s", message)
	}
	return unreachable(err, "Could not reach cinder-volume for volume %s", v.ID)
}
