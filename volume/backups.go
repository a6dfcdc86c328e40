package volume

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
)

// Backups is what the rules need of cinder-backup (*backup.Client).
type Backups interface {
	CreateBackup(ctx context.Context, b *cinder.Backup) error
	DeleteBackup(ctx context.Context, b *cinder.Backup) error
	RestoreBackup(ctx context.Context, host string, b *cinder.Backup, volumeID string, volumeIsNew bool) error
	ExportRecord(ctx context.Context, b *cinder.Backup) (*cinder.BackupRecord, error)
	ImportRecord(ctx context.Context, host string, b *cinder.Backup, r cinder.BackupRecord) error
}

// BackupRequest is a validated backup create.
type BackupRequest struct {
	VolumeID                     string
	SnapshotID                   string // back up this snapshot of the volume instead
	Name, Description, Container string
	AvailabilityZone             string // of the cinder-backup to use (3.51); "" for the volume's
	Metadata                     map[string]string
	Incremental                  bool // only the blocks changed since the volume's latest available backup
	Force                        bool // an in-use volume too
}

// GetBackup returns backup id if the caller may see it: its own project's,
// or any for an admin; otherwise BackupNotFound, as Cinder.
func (a *API) GetBackup(ctx context.Context, id string) (*cinder.Backup, error) {
	b, err := a.store.GetBackup(ctx, id)
	if err != nil {
		return nil, err
	}
	if rc := cinder.FromContext(ctx); !rc.IsAdmin && b.ProjectID != rc.ProjectID {
		return nil, cinder.BackupNotFound(id)
	}
	return b, nil
}

// CreateBackup writes a backup of req.VolumeID, creating, and asks a
// cinder-backup to take it, as backup/api.py create: the volume must be
// available (in-use with Force) and not migrating, and goes backing-up;
// or, with req.SnapshotID, that snapshot of the volume must be available
// and goes backing-up, the volume left as it is. An incremental backup's
// parent is the volume's latest available backup, for a snapshot the
// latest whose data is older than it. The backup's room in the backups
// and backup_gigabytes quotas is reserved first; its row's insert ends the
// reservation. When the cast cannot be sent the row is destroyed and the
// volume or snapshot gets its status back; a crash
// after it leaves a creating backup that cinder-backup's restart sets to
// error.
func (a *API) CreateBackup(ctx context.Context, req BackupRequest) (*cinder.Backup, error) {
	v, err := a.Get(ctx, req.VolumeID)
	if err != nil {
		return nil, err
	}
	var snap *cinder.Snapshot
	if req.SnapshotID != "" {
		if snap, err = a.GetSnapshot(ctx, req.SnapshotID); err != nil {
			return nil, err
		}
	}
	ctx = context.WithoutCancel(ctx)
	size, stamp := v.Size, time.Time{}
	if snap != nil {
		err = snapshotBackupable(v, snap)
		size, stamp = snap.VolumeSize, snap.CreatedAt
	} else {
		err = backupable(v, req.Force)
	}
	if err != nil {
		return nil, err
	}
	var parent string
	if req.Incremental {
		p, err := a.store.LatestBackup(ctx, v.ID, stamp)
		if cinder.IsNotFound(err) {
			return nil, cinder.InvalidBackup("No backups available to do an incremental backup.")
		}
		if err != nil {
			return nil, err
		}
		parent = p.ID
	}
	az := cmp.Or(req.AvailabilityZone, v.AvailabilityZone)
	host, err := a.backupHost(ctx, cinder.ExtractHost(v.Host, cinder.LevelHost), az)
	if err != nil {
		return nil, err
	}
	rc := cinder.FromContext(ctx)
	b := &cinder.Backup{ID: uuid.NewString(), VolumeID: v.ID, SnapshotID: req.SnapshotID, UserID: rc.UserID, ProjectID: rc.ProjectID,
		Host: host, AvailabilityZone: az, DisplayName: req.Name, DisplayDescription: req.Description, Container: req.Container,
		Status: cinder.BackupCreating, Size: size, ParentID: parent, DataTimestamp: stamp, Metadata: req.Metadata}
	if err := a.reserveBackup(ctx, b.ProjectID, b.ID, b.Size); err != nil {
		return nil, err
	}
	var rollback func()
	if snap != nil {
		rollback, err = a.claimSnapshotForBackup(ctx, v, snap.ID)
	} else {
		rollback, err = a.claimVolumeForBackup(ctx, v.ID, req.Force)
	}
	if err != nil {
		a.rollbackQuota(ctx, b.ID)
		return nil, err
	}
	if err := a.store.CreateBackup(ctx, b); err != nil {
		a.rollbackQuota(ctx, b.ID)
		rollback()
		return nil, err
	}
	if err := a.backups.CreateBackup(ctx, b); err != nil {
		rollback()
		if derr := a.store.DestroyBackup(ctx, b.ID); derr != nil {
			logFailure(ctx, "destroy backup "+b.ID+" after its create cast failed", derr)
		}
		return nil, unreachable(err, "Could not ask cinder-backup to create backup %s", b.ID)
	}
	return b, nil
}

// claimVolumeForBackup moves volume id, if backupable, to backing-up and
// returns what gives it its status back.
func (a *API) claimVolumeForBackup(ctx context.Context, id string, force bool) (rollback func(), err error) {
	before, after, err := a.claim(ctx, id, func(v *cinder.Volume) error { return backupable(v, force) },
		func(v *cinder.Volume) { v.Status, v.PreviousStatus = cinder.StatusBackingUp, v.Status })
	return func() { a.rollback(ctx, before, after) }, err
}

// claimSnapshotForBackup moves snapshot id of v, if backupable, to
// backing-up and returns what makes it available again.
func (a *API) claimSnapshotForBackup(ctx context.Context, v *cinder.Volume, id string) (rollback func(), err error) {
	_, err = a.store.UpdateSnapshot(ctx, id, func(s *cinder.Snapshot) error {
		if err := snapshotBackupable(v, s); err != nil {
			return err
		}
		s.Status = cinder.SnapshotBackingUp
		return nil
	})
	return func() {
		if _, err := a.store.UpdateSnapshot(ctx, id, func(s *cinder.Snapshot) error {
			if s.Status != cinder.SnapshotBackingUp {
				return cinder.Invalid("snapshot %s changed meanwhile: status %s", s.ID, s.Status)
			}
			s.Status = cinder.SnapshotAvailable
			return nil
		}); err != nil {
			logFailure(ctx, "roll back status of snapshot "+id+" to available", err)
		}
	}, err
}

// snapshotBackupable fails unless s, a snapshot, may be backed up now as
// one of volume v.
func snapshotBackupable(v *cinder.Volume, s *cinder.Snapshot) error {
	switch {
	case s.VolumeID != v.ID:
		return cinder.InvalidVolume("Volume %s does not match with snapshot.volume_id %s.", v.ID, s.VolumeID)
	case s.Status != cinder.SnapshotAvailable:
		return cinder.Errorf("InvalidSnapshot", 400,
			"Invalid snapshot: Snapshot to be backed up must be available, but the current status is \"%s\".", s.Status)
	}
	return nil
}

// backupable fails unless v may be backed up now.
func backupable(v *cinder.Volume, force bool) error {
	switch {
	case v.Status != cinder.StatusAvailable && v.Status != cinder.StatusInUse:
		return cinder.InvalidVolume("Volume to be backed up must be available or in-use, but the current status is \"%s\".", v.Status)
	case v.Status == cinder.StatusInUse && !force:
		return cinder.InvalidVolume("Backing up an in-use volume must use the force flag.")
	case migrating(v):
		return cinder.InvalidVolume("Volume %s is migrating.", v.ID)
	}
	return nil
}

// backupHost returns the cinder-backup host to work on a backup whose
// volume or backup is on host, as _get_available_backup_service_host:
// with backup_use_same_host, host itself if an up, enabled cinder-backup
// runs there in zone az; otherwise one of the up, enabled ones in az at
// random ("" az and host are any). None is ServiceNotFound (503).
func (a *API) backupHost(ctx context.Context, host, az string) (string, error) {
	services, err := a.store.ListServices(ctx, "", cinder.BinaryBackup)
	if err != nil {
		return "", err
	}
	now := time.Now()
	var up []string
	for _, svc := range services {
		if !svc.Disabled && svc.Up(now, a.cfg.ServiceDownTime) && (az == "" || svc.AvailabilityZone == az) {
			up = append(up, svc.Host)
		}
	}
	if host != "" && a.cfg.BackupUseSameHost {
		up = slices.DeleteFunc(up, func(h string) bool { return h != host })
	}
	if len(up) == 0 {
		return "", cinder.Errorf("ServiceNotFound", 503, "Service %s could not be found.", cinder.BinaryBackup)
	}
	return up[rand.IntN(len(up))], nil
}

// claimBackup is a.claim for backup id.
func (a *API) claimBackup(ctx context.Context, id string, check func(b *cinder.Backup) error, change func(b *cinder.Backup)) (before, after *cinder.Backup, err error) {
	after, err = a.store.UpdateBackup(ctx, id, func(b *cinder.Backup) error {
		if err := check(b); err != nil {
			return err
		}
		c := *b
		before = &c
		change(b)
		return nil
	})
	return before, after, err
}

// rollbackBackup gives backup after the status of before, unless it
// changed since.
func (a *API) rollbackBackup(ctx context.Context, before, after *cinder.Backup) {
	if _, err := a.store.UpdateBackup(ctx, after.ID, func(b *cinder.Backup) error {
		if b.Status != after.Status {
			return cinder.InvalidBackup("Backup %s changed meanwhile: status %s.", b.ID, b.Status)
		}
		b.Status, b.Host, b.RestoreVolumeID = before.Status, before.Host, before.RestoreVolumeID
		return nil
	}); err != nil {
		logFailure(ctx, "roll back status of backup "+after.ID+" to "+before.Status, err)
	}
}

// DeleteBackup deletes backup id as backup/api.py delete: available or
// error unless force, and without incremental backups on it, it goes
// deleting and a cinder-backup is asked to remove it. When that cast
// cannot be sent it gets its status back.
func (a *API) DeleteBackup(ctx context.Context, id string, force bool) error {
	b, err := a.GetBackup(ctx, id)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	host, err := a.backupHost(ctx, b.Host, b.AvailabilityZone)
	if err != nil {
		return err
	}
	before, after, err := a.claimBackup(ctx, b.ID, func(b *cinder.Backup) error {
		switch {
		case !force && b.Status != cinder.BackupAvailable && b.Status != cinder.BackupError:
			return cinder.InvalidBackup("Backup status must be available or error")
		case b.NumDependentBackups > 0:
			return cinder.InvalidBackup("Incremental backups exist for this backup.")
		}
		return nil
	}, func(b *cinder.Backup) { b.Status, b.Host = cinder.BackupDeleting, host })
	if err != nil {
		return err
	}
	if err := a.backups.DeleteBackup(ctx, after); err != nil {
		a.rollbackBackup(ctx, before, after)
		return unreachable(err, "Could not ask cinder-backup to delete backup %s", b.ID)
	}
	return nil
}

// restoreDescription is the description of a volume created for a restore.
const restoreDescription = "auto-created_from_restore_from_backup"

// RestoreBackup writes backup id into volume volumeID, or, when volumeID is
// "", into a new volume of the backup's size named name (default
// restore_backup_<id>), which it waits for as backup/api.py restore. The
// volume must be available and no smaller than the backup; it goes
// restoring-backup and the backup restoring until cinder-backup is done.
// It returns the volume. When the cast cannot be sent both get their
// status back; a crash after it is ended by cinder-backup's restart.
func (a *API) RestoreBackup(ctx context.Context, id, volumeID, name string) (*cinder.Volume, error) {
	b, err := a.GetBackup(ctx, id)
	if err != nil {
		return nil, err
	}
	if b.Status != cinder.BackupAvailable {
		return nil, cinder.InvalidBackup("Backup status must be available")
	}
	isNew := volumeID == ""
	if isNew {
		if volumeID, err = a.restoreVolume(ctx, b, name); err != nil {
			return nil, err
		}
	}
	ctx = context.WithoutCancel(ctx)
	if _, err := a.Get(ctx, volumeID); err != nil {
		return nil, err
	}
	host, err := a.backupHost(ctx, b.Host, b.AvailabilityZone)
	if err != nil {
		return nil, err
	}
	vBefore, vAfter, err := a.claim(ctx, volumeID, func(v *cinder.Volume) error {
		switch {
		case v.Status != cinder.StatusAvailable:
			return cinder.InvalidVolume("Volume to be restored to must be available")
		case b.Size > v.Size:
			return cinder.InvalidVolume("volume size %d is too small to restore backup of size %d.", v.Size, b.Size)
		}
		return nil
	}, func(v *cinder.Volume) { v.Status = cinder.StatusRestoringBackup })
	if err != nil {
		return nil, err
	}
	bBefore, bAfter, err := a.claimBackup(ctx, b.ID, func(b *cinder.Backup) error {
		if b.Status != cinder.BackupAvailable {
			return cinder.InvalidBackup("Backup status must be available")
		}
		return nil
	}, func(b *cinder.Backup) { b.Status, b.Host, b.RestoreVolumeID = cinder.BackupRestoring, host, volumeID })
	if err != nil {
		a.rollback(ctx, vBefore, vAfter)
		return nil, err
	}
	if err := a.castOrRollback(ctx, vBefore, vAfter, func() error {
		return a.backups.RestoreBackup(ctx, host, bAfter, volumeID, isNew)
	}, "Could not ask cinder-backup to restore backup %s", b.ID); err != nil {
		a.rollbackBackup(ctx, bBefore, bAfter)
		return nil, err
	}
	return vAfter, nil
}

// restoreVolume creates the volume a restore of b writes into and waits
// until it is no longer creating, as backup/api.py restore, for at most
// scheduler_create_volume_timeout. It returns the volume's id.
func (a *API) restoreVolume(ctx context.Context, b *cinder.Backup, name string) (string, error) {
	v, _, err := a.Create(ctx, CreateRequest{Name: cmp.Or(name, "restore_backup_"+b.ID), Description: restoreDescription, Size: b.Size})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(a.cfg.SchedulerCreateVolumeTimeout, 5*time.Minute))
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for v.Status == cinder.StatusCreating {
		select {
		case <-ctx.Done():
			return "", cinder.InvalidVolume("Volume %s for restoring backup %s is still creating: %v", v.ID, b.ID, ctx.Err())
		case <-tick.C:
		}
		if v, err = a.store.GetVolume(ctx, v.ID); err != nil {
			return "", err
		}
	}
	if v.Status == cinder.StatusError {
		return "", cinder.InvalidVolume("Error while creating volume %s for restoring backup %s.", v.ID, b.ID)
	}
	return v.ID, nil
}

// ExportBackup returns the record that imports available backup id
// elsewhere, as its cinder-backup encodes it.
func (a *API) ExportBackup(ctx context.Context, id string) (*cinder.BackupRecord, error) {
	b, err := a.GetBackup(ctx, id)
	if err != nil {
		return nil, err
	}
	if b.Status != cinder.BackupAvailable {
		return nil, cinder.InvalidBackup("Backup status must be available and not %s.", b.Status)
	}
	if b.Host, err = a.backupHost(ctx, b.Host, b.AvailabilityZone); err != nil {
		return nil, err
	}
	r, err := a.backups.ExportRecord(ctx, b)
	if err != nil {
		return nil, unreachable(err, "Could not ask cinder-backup to export backup %s", b.ID)
	}
	return r, nil
}

// ImportBackup writes the backup r holds under its id, creating, and asks a
// cinder-backup to fill it from r and make it available once it finds its
// files. A backup of that id must not exist (a deleted one is replaced);
// it counts in the backup quotas as a new one. When the cast cannot be
// sent the row is destroyed.
func (a *API) ImportBackup(ctx context.Context, r cinder.BackupRecord) (*cinder.Backup, error) {
	rec, err := r.Backup()
	if err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	if _, err := a.store.GetBackup(ctx, rec.ID); err == nil {
		return nil, cinder.InvalidBackup("Backup already exists in database.")
	} else if !cinder.IsNotFound(err) {
		return nil, err
	}
	host, err := a.backupHost(ctx, "", "")
	if err != nil {
		return nil, err
	}
	rc := cinder.FromContext(ctx)
	b := &cinder.Backup{ID: rec.ID, VolumeID: rec.VolumeID, UserID: rc.UserID, ProjectID: rc.ProjectID, Host: host,
		DisplayName: rec.DisplayName, DisplayDescription: rec.DisplayDescription, Status: cinder.BackupCreating, Size: rec.Size}
	if err := a.reserveBackup(ctx, b.ProjectID, b.ID, b.Size); err != nil {
		return nil, err
	}
	if err := a.store.CreateBackup(ctx, b); err != nil {
		a.rollbackQuota(ctx, b.ID)
		return nil, err
	}
	if err := a.backups.ImportRecord(ctx, host, b, r); err != nil {
		if derr := a.store.DestroyBackup(ctx, b.ID); derr != nil {
			logFailure(ctx, "destroy backup "+b.ID+" after its import cast failed", derr)
		}
		return nil, unreachable(err, "Could not ask cinder-backup to import backup %s", b.ID)
	}
	return b, nil
}

// ResetBackupStatus sets backup id's status to available or error, as an
// admin's os-reset_status does.
func (a *API) ResetBackupStatus(ctx context.Context, id, status string) error {
	b, err := a.GetBackup(ctx, id)
	if err != nil {
		return err
	}
	if status != cinder.BackupAvailable && status != cinder.BackupError {
		return cinder.InvalidBackup("The status of a backup may be reset to available or error, not %s.", status)
	}
	_, err = a.store.UpdateBackup(context.WithoutCancel(ctx), b.ID, func(b *cinder.Backup) error {
		b.Status = status
		return nil
	})
	return err
}

// BackupChanges are what a backup update sets; nil members are left as
// they are.
type BackupChanges struct {
	Name, Description *string
	Metadata          map[string]string // replaces the metadata (3.43)
}

// UpdateBackup applies c to backup id.
func (a *API) UpdateBackup(ctx context.Context, id string, c BackupChanges) (*cinder.Backup, error) {
	b, err := a.GetBackup(ctx, id)
	if err != nil {
		return nil, err
	}
	return a.store.UpdateBackup(context.WithoutCancel(ctx), b.ID, func(b *cinder.Backup) error {
		b.DisplayName = derefOr(c.Name, b.DisplayName)
		b.DisplayDescription = derefOr(c.Description, b.DisplayDescription)
		if c.Metadata != nil {
			b.Metadata = c.Metadata
		}
		return nil
	})
}

// derefOr is *p, or def when p is nil.
func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}
