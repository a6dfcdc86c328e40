package volume

import (
	"context"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// GetGroupSnapshot returns group snapshot id if the caller may see it: an
// admin any, others their project's.
func (a *API) GetGroupSnapshot(ctx context.Context, id string) (*cinder.GroupSnapshot, error) {
	gs, err := a.store.GetGroupSnapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	if rc := cinder.FromContext(ctx); !rc.IsAdmin && gs.ProjectID != rc.ProjectID {
		return nil, cinder.GroupSnapshotNotFound(id)
	}
	return gs, nil
}

// ListGroupSnapshots returns the group snapshots f selects.
func (a *API) ListGroupSnapshots(ctx context.Context, f db.GroupSnapshotFilter) ([]*cinder.GroupSnapshot, error) {
	return a.store.ListGroupSnapshots(ctx, f)
}

// GroupSnapshotRequest is a validated group snapshot create.
type GroupSnapshotRequest struct {
	GroupID           string
	Name, Description string
}

// CreateGroupSnapshot writes a group snapshot of req.GroupID, creating,
// with a snapshot of each of the group's volumes, creating, as
// group/api.py create_group_snapshot: each volume must be placed and not
// in maintenance, error or a migration (any other status will do, as
// Cinder), and the snapshots' room in the snapshots and gigabytes quotas is
// reserved at once. The group's backend is then asked to take them. When
// that cast cannot be sent the rows are destroyed; a crash after it leaves
// the group snapshot creating, which the backend's restart sets to error.
func (a *API) CreateGroupSnapshot(ctx context.Context, req GroupSnapshotRequest) (*cinder.GroupSnapshot, error) {
	g, err := a.GetGroup(ctx, req.GroupID)
	if err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	if err := a.notFrozen(ctx, g.Host); err != nil {
		return nil, err
	}
	vols, err := a.store.GroupVolumes(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	rc := cinder.FromContext(ctx)
	gs := &cinder.GroupSnapshot{ID: uuid.NewString(), GroupID: g.ID, UserID: rc.UserID, ProjectID: rc.ProjectID,
		Name: req.Name, Description: req.Description, Status: cinder.GroupSnapshotCreating, GroupTypeID: g.GroupTypeID, Host: g.Host}
	snaps := make([]*cinder.Snapshot, len(vols))
	for i, v := range vols {
		if err := snapshotReady(v); err != nil {
			return nil, err
		}
		snaps[i] = &cinder.Snapshot{ID: uuid.NewString(), VolumeID: v.ID, UserID: rc.UserID, ProjectID: rc.ProjectID,
			Status: cinder.SnapshotCreating, Progress: "0%", VolumeSize: v.Size, DisplayName: req.Name,
			DisplayDescription: req.Description, VolumeTypeID: v.VolumeTypeID, UseQuota: true}
		if v.Bootable {
			snaps[i].GlanceMetadata = v.GlanceMetadata
		}
	}
	if err := a.reserveSnapshots(ctx, gs.ProjectID, gs.ID, vols); err != nil {
		return nil, err
	}
	if err := a.store.CreateGroupSnapshot(ctx, gs, snaps); err != nil {
		a.rollbackQuota(ctx, gs.ID)
		return nil, err
	}
	if err := a.backends.CreateGroupSnapshot(ctx, gs); err != nil {
		for _, s := range snaps {
			if derr := a.store.DestroySnapshot(ctx, s.ID); derr != nil {
				logFailure(ctx, "destroy snapshot "+s.ID+" after its group snapshot's cast failed", derr)
			}
		}
		if derr := a.store.DestroyGroupSnapshot(ctx, gs.ID); derr != nil {
			logFailure(ctx, "destroy group snapshot "+gs.ID+" after its cast failed", derr)
		}
		return nil, unreachable(err, "Could not ask cinder-volume to create group snapshot %s", gs.ID)
	}
	return gs, nil
}

// DeleteGroupSnapshot deletes group snapshot id as group/api.py
// delete_group_snapshot: one conditional update (available or error, no
// group being created from it) moves it to deleting, its snapshots go
// deleting too, and its group's backend is asked to delete them and it.
// When that cast cannot be sent they get their statuses back.
func (a *API) DeleteGroupSnapshot(ctx context.Context, id string) error {
	gs, err := a.GetGroupSnapshot(ctx, id)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	g, err := a.store.GetGroup(ctx, gs.GroupID)
	if err != nil {
		return err
	}
	if err := a.notFrozen(ctx, g.Host); err != nil {
		return err
	}
	inUse, err := a.store.GroupCreatingFrom(ctx, gs.ID)
	if err != nil {
		return err
	}
	before := ""
	gs, err = a.store.UpdateGroupSnapshot(ctx, gs.ID, func(gs *cinder.GroupSnapshot) error {
		if inUse || gs.Status != cinder.GroupSnapshotAvailable && gs.Status != cinder.GroupSnapshotError {
			return cinder.InvalidGroupSnapshot("GroupSnapshot status must be available or error, and no Group can be currently using it as source for its creation.")
		}
		before, gs.Status = gs.Status, cinder.GroupSnapshotDeleting
		return nil
	})
	if err != nil {
		return err
	}
	gs.Host = g.Host
	snaps, err := a.store.ListSnapshots(ctx, db.SnapshotFilter{GroupSnapshot: gs.ID})
	if err != nil {
		return err
	}
	statuses := make(map[string]string, len(snaps))
	for _, s := range snaps {
		if _, err := a.store.UpdateSnapshot(ctx, s.ID, func(s *cinder.Snapshot) error {
			statuses[s.ID], s.Status = s.Status, cinder.SnapshotDeleting
			return nil
		}); err != nil {
			return err
		}
	}
	if err := a.backends.DeleteGroupSnapshot(ctx, gs); err != nil {
		for sid, status := range statuses {
			a.setSnapshotStatus(ctx, sid, cinder.SnapshotDeleting, status)
		}
		if _, rerr := a.store.UpdateGroupSnapshot(ctx, gs.ID, func(gs *cinder.GroupSnapshot) error {
			gs.Status = before
			return nil
		}); rerr != nil {
			logFailure(ctx, "give group snapshot "+gs.ID+" its status back", rerr)
		}
		return unreachable(err, "Could not ask cinder-volume to delete group snapshot %s", gs.ID)
	}
	return nil
}

// GroupSnapshotStatus validates status, one a group snapshot may be reset
// to whatever its case, as Cinder's group_snapshot_status format, and
// returns it in lower case.
func GroupSnapshotStatus(status string) (string, error) {
	if strings.TrimSpace(status) == "" {
		return "", cinder.Errorf("InvalidGroupSnapshotStatus", 400, "Invalid GroupSnapshot Status: The 'status' can not be empty.")
	}
	if !slices.Contains(cinder.GroupSnapshotStatuses, strings.ToLower(status)) {
		return "", cinder.Errorf("InvalidGroupSnapshotStatus", 400, "Invalid GroupSnapshot Status: Group snapshot status: %s is invalid, valid statuses are: %s.",
			status, pyTuple(cinder.GroupSnapshotStatuses))
	}
	return strings.ToLower(status), nil
}

// ResetGroupSnapshotStatus sets group snapshot id's status (3.19), as
// group/api.py reset_group_snapshot_status: no check of where it was.
func (a *API) ResetGroupSnapshotStatus(ctx context.Context, id, status string) error {
	gs, err := a.GetGroupSnapshot(ctx, id)
	if err != nil {
		return err
	}
	_, err = a.store.UpdateGroupSnapshot(context.WithoutCancel(ctx), gs.ID, func(gs *cinder.GroupSnapshot) error {
		gs.Status = status
		return nil
	})
	return err
}

// GroupFromSrcRequest is a validated create-from-src: one of
// GroupSnapshotID and SourceGroupID.
type GroupFromSrcRequest struct {
	Name, Description string
	GroupSnapshotID   string
	SourceGroupID     string
}

// CreateGroupFromSrc writes a group, creating, made from a group snapshot
// or a source group, as group/api.py create_from_src: of the source's
// group type, volume types, zone and backend, with a volume, creating, per
// snapshot of the group snapshot or per volume of the source group, each
// made from it. The scheduler must find room for them all on the backend
// (validate_host_capacity); the group's room in the groups quota and each
// volume's in the volume quotas are reserved next. The backend is then asked to make
// the volumes. When anything fails before that cast is sent, the group and
// its volumes are destroyed, giving their quota back; a crash after it
// leaves them creating, which the backend's restart sets to error.
func (a *API) CreateGroupFromSrc(ctx context.Context, req GroupFromSrcRequest) (*cinder.Group, error) {
	var gs *cinder.GroupSnapshot
	var src *cinder.Group
	var err error
	if req.GroupSnapshotID != "" {
		if gs, err = a.GetGroupSnapshot(ctx, req.GroupSnapshotID); err != nil {
			return nil, err
		}
		src, err = a.GetGroup(ctx, gs.GroupID)
	} else {
		src, err = a.GetGroup(ctx, req.SourceGroupID)
	}
	if err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	vols, err := a.sourceVolumes(ctx, gs, src)
	if err != nil {
		return nil, err
	}
	rc := cinder.FromContext(ctx)
	g := &cinder.Group{ID: uuid.NewString(), UserID: rc.UserID, ProjectID: rc.ProjectID, Host: src.Host,
		AvailabilityZone: src.AvailabilityZone, Name: req.Name, Description: req.Description, GroupTypeID: src.GroupTypeID,
		Status: cinder.GroupCreating, GroupSnapshotID: req.GroupSnapshotID, SourceGroupID: req.SourceGroupID,
		ReplicationStatus: "disabled", VolumeTypeIDs: slices.Clone(src.VolumeTypeIDs)}
	if src.Host == "" {
		return nil, cinder.InvalidGroup("No valid host to create group %s.", g.ID)
	}
	if err := a.notFrozen(ctx, g.Host); err != nil {
		return nil, err
	}
	size := 0
	for _, v := range vols {
		size += v.Size
		if !slices.Contains(g.VolumeTypeIDs, v.VolumeTypeID) {
			g.VolumeTypeIDs = append(g.VolumeTypeIDs, v.VolumeTypeID)
		}
	}
	if ok, err := a.sched.ValidateHostCapacity(ctx, g.Host, g.ID, size); err != nil {
		return nil, unreachable(err, "Could not ask the scheduler about the room on %s", g.Host)
	} else if !ok {
		return nil, cinder.InvalidGroup("No valid host to create group %s.", g.ID)
	}
	limits, err := a.projectLimits(ctx, g.ProjectID)
	if err != nil {
		return nil, err
	}
	err = a.reserve(ctx, g.ProjectID, g.ID, "", limits, map[string]int{db.QuotaGroups: 1})
	if err = overQuota(err, db.QuotaGroups, 0); err != nil {
		return nil, err
	}
	if err := a.store.CreateGroup(ctx, g); err != nil {
		a.rollbackQuota(ctx, g.ID)
		return nil, err
	}
	var made []string
	undo := func() {
		for _, id := range made {
			if err := a.store.DestroyVolume(ctx, id); err != nil {
				logFailure(ctx, "destroy volume "+id+" of group "+g.ID+" after its create failed", err)
			}
		}
		a.destroyGroup(ctx, g.ID)
	}
	for _, v := range vols {
		v.UserID, v.ProjectID, v.GroupID, v.AvailabilityZone = rc.UserID, rc.ProjectID, g.ID, g.AvailabilityZone
		if err := a.reserveVolume(ctx, v.ProjectID, v.ID, v.VolumeTypeID, v.Size); err != nil {
			undo()
			return nil, err
		}
		if err := a.store.CreateVolume(ctx, v); err != nil {
			a.rollbackQuota(ctx, v.ID)
			undo()
			return nil, err
		}
		made = append(made, v.ID)
	}
	var source *cinder.Group
	if gs == nil {
		source = src
	}
	if err := a.backends.CreateGroupFromSrc(ctx, g, gs, source); err != nil {
		undo()
		return nil, unreachable(err, "Could not ask cinder-volume to create group %s", g.ID)
	}
	return g, nil
}

// sourceVolumes returns the volumes, creating, of a group made from group
// snapshot gs (when not nil) or else from group src: one per snapshot, or
// one per volume, on the backend of its source, each with an id, its type,
// size and image metadata, and the snapshot or volume it is made from.
func (a *API) sourceVolumes(ctx context.Context, gs *cinder.GroupSnapshot, src *cinder.Group) ([]*cinder.Volume, error) {
	var vols []*cinder.Volume
	if gs != nil {
		snaps, err := a.store.ListSnapshots(ctx, db.SnapshotFilter{GroupSnapshot: gs.ID})
		if err != nil {
			return nil, err
		}
		if len(snaps) == 0 {
			return nil, cinder.InvalidGroup("Group snapshot is empty. No group will be created.")
		}
		for _, s := range snaps {
			from, err := a.store.GetVolume(ctx, s.VolumeID)
			if err != nil {
				return nil, err
			}
			v := newCopy(from, s.VolumeSize, s.VolumeTypeID)
			v.SnapshotID = s.ID
			v.Bootable, v.GlanceMetadata = from.Bootable, s.GlanceMetadata
			vols = append(vols, v)
		}
		return vols, nil
	}
	members, err := a.store.GroupVolumes(ctx, src.ID)
	if err != nil {
		return nil, err
	}
	if len(members) == 0 {
		return nil, cinder.InvalidGroup("Source Group is empty. No group will be created.")
	}
	for _, from := range members {
		v := newCopy(from, from.Size, from.VolumeTypeID)
		v.SourceVolID = from.ID
		v.Bootable, v.GlanceMetadata, v.Multiattach = from.Bootable, from.GlanceMetadata, from.Multiattach
		vols = append(vols, v)
	}
	return vols, nil
}

// newCopy is a new volume, creating, of size GiB and type typeID, placed
// where from is, as the copy of from or of its snapshot.
func newCopy(from *cinder.Volume, size int, typeID string) *cinder.Volume {
	return &cinder.Volume{ID: uuid.NewString(), Size: size, Host: from.Host, Status: cinder.StatusCreating,
		AttachStatus: "detached", VolumeTypeID: typeID, UseQuota: true}
}

// reserveSnapshots holds the room of a snapshot of each of vols, for
// object id, in project's quotas at once, as Cinder's
// _create_snapshots_in_db_reserve: snapshots and gigabytes, and their
// twins per volume type.
func (a *API) reserveSnapshots(ctx context.Context, project, id string, vols []*cinder.Volume) error {
	limits, err := a.projectLimits(ctx, project)
	if err != nil {
		return err
	}
	deltas := map[string]int{db.QuotaSnapshots: 0, db.QuotaGigabytes: 0}
	for _, v := range vols {
		one := map[string]int{db.QuotaSnapshots: 1, db.QuotaGigabytes: v.Size}
		if err := a.typeDeltas(ctx, v.VolumeTypeID, one); err != nil {
			return err
		}
		for r, n := range one {
			deltas[r] += n
		}
	}
	err = a.store.Reserve(ctx, db.Reservation{Project: project, Object: id, Deltas: deltas, Limits: limits,
		Expire: a.reservationExpiry()})
	return overQuota(err, db.QuotaSnapshots, deltas[db.QuotaGigabytes])
}
