package volume

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// GetGroupType returns group type id as the caller may see it: an admin
// every type, others the public ones (no API grants access to a private
// group type), as Cinder's _group_type_get_query.
func (a *API) GetGroupType(ctx context.Context, id string) (*cinder.GroupType, error) {
	t, err := a.store.GetGroupType(ctx, id)
	if err == nil && !t.IsPublic && !cinder.FromContext(ctx).IsAdmin {
		return nil, cinder.GroupTypeNotFound(id)
	}
	return t, err
}

// ListGroupTypes returns the group types f selects; a caller who is no
// admin sees only the public ones, whatever f asks.
func (a *API) ListGroupTypes(ctx context.Context, f db.GroupTypeFilter) ([]*cinder.GroupType, error) {
	if !cinder.FromContext(ctx).IsAdmin {
		public := true
		f.IsPublic = &public
	}
	return a.store.ListGroupTypes(ctx, f)
}

// GroupTypeChanges are what a group type update sets; nil members are
// left as they are.
type GroupTypeChanges struct {
	Name, Description *string
	IsPublic          *bool
}

// UpdateGroupType applies c to group type id.
func (a *API) UpdateGroupType(ctx context.Context, id string, c GroupTypeChanges) (*cinder.GroupType, error) {
	return a.store.UpdateGroupType(ctx, id, func(t *cinder.GroupType) error {
		if c.Name != nil {
			t.Name = *c.Name
		}
		if c.Description != nil {
			t.Description = *c.Description
		}
		if c.IsPublic != nil {
			t.IsPublic = *c.IsPublic
		}
		return nil
	})
}

// SetGroupSpecs changes the group specs of group type id with change.
func (a *API) SetGroupSpecs(ctx context.Context, id string, change func(specs map[string]string) error) error {
	_, err := a.store.UpdateGroupType(ctx, id, func(t *cinder.GroupType) error {
		if t.GroupSpecs == nil {
			t.GroupSpecs = map[string]string{}
		}
		return change(t.GroupSpecs)
	})
	return err
}

// GetGroup returns group id if the caller may see it: an admin any, others
// their project's.
func (a *API) GetGroup(ctx context.Context, id string) (*cinder.Group, error) {
	g, err := a.store.GetGroup(ctx, id)
	if err != nil {
		return nil, err
	}
	if rc := cinder.FromContext(ctx); !rc.IsAdmin && g.ProjectID != rc.ProjectID {
		return nil, cinder.GroupNotFound(id)
	}
	return g, nil
}

// ListGroups returns the groups f selects.
func (a *API) ListGroups(ctx context.Context, f db.GroupFilter) ([]*cinder.Group, error) {
	return a.store.ListGroups(ctx, f)
}

// GroupVolumes returns the volumes of group g.
func (a *API) GroupVolumes(ctx context.Context, g *cinder.Group) ([]*cinder.Volume, error) {
	return a.store.GroupVolumes(ctx, g.ID)
}

// GroupRequest is a validated group create.
type GroupRequest struct {
	Name, Description string
	GroupType         string   // a group type's id or name
	VolumeTypes       []string // volume types' ids or names
	AvailabilityZone  string   // "" for storage_availability_zone
}

// CreateGroup writes the group req asks for, creating, once its room is
// reserved in the caller's groups quota (the row's insert ends the
// reservation), then asks cinder-scheduler to place it, as group/api.py
// create. When the cast cannot be sent the group is destroyed, giving its
// quota back; a crash in between leaves a creating group with no host.
func (a *API) CreateGroup(ctx context.Context, req GroupRequest) (*cinder.Group, error) {
	ctx = context.WithoutCancel(ctx)
	rc := cinder.FromContext(ctx)
	gt, err := a.resolveGroupType(ctx, req.GroupType)
	if err != nil {
		return nil, err
	}
	g := &cinder.Group{ID: uuid.NewString(), UserID: rc.UserID, ProjectID: rc.ProjectID, Name: req.Name,
		Description: req.Description, GroupTypeID: gt.ID, Status: cinder.GroupCreating, ReplicationStatus: "disabled"}
	for _, ref := range req.VolumeTypes {
		t, err := a.ResolveType(ctx, ref)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(g.VolumeTypeIDs, t.ID) {
			g.VolumeTypeIDs = append(g.VolumeTypeIDs, t.ID)
		}
	}
	if g.AvailabilityZone, _, err = a.resolveZone(ctx, req.AvailabilityZone, nil); err != nil {
		return nil, err
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
	if err := a.sched.CreateGroup(ctx, g); err != nil {
		a.destroyGroup(ctx, g.ID)
		return nil, unreachable(err, "Could not ask cinder-scheduler to create group %s", g.ID)
	}
	return g, nil
}

// resolveGroupType finds the group type ref names, by id or else by name,
// as group/api.py create.
func (a *API) resolveGroupType(ctx context.Context, ref string) (*cinder.GroupType, error) {
	if _, err := uuid.Parse(ref); err == nil {
		t, err := a.GetGroupType(ctx, ref)
		if !cinder.IsNotFound(err) {
			return t, err
		}
	}
	t, err := a.store.GetGroupTypeByName(ctx, ref)
	if err == nil && !t.IsPublic && !cinder.FromContext(ctx).IsAdmin {
		err = cinder.GroupTypeNotFound(ref)
	}
	return t, err
}

// destroyGroup deletes group id's row, which gives its quota back; a
// failure is logged.
func (a *API) destroyGroup(ctx context.Context, id string) {
	if _, err := a.store.UpdateGroup(ctx, id, func(g *cinder.Group) error {
		g.Deleted = true
		return nil
	}); err != nil {
		logFailure(ctx, "destroy group "+id, err)
	}
}

// GroupChanges are what a group update asks: a new name or description
// (nil: as it is), volumes to add and to remove (ids).
type GroupChanges struct {
	Name, Description *string
	Add, Remove       []string
}

// Volume statuses from which a volume may join or leave a group, as
// group/api.py's VALID_ADD_VOL_TO_GROUP_STATUS and
// VALID_REMOVE_VOL_FROM_GROUP_STATUS.
var (
	groupAddStatuses    = []string{cinder.StatusAvailable, cinder.StatusInUse}
	groupRemoveStatuses = []string{cinder.StatusAvailable, cinder.StatusInUse, cinder.StatusError, cinder.StatusErrorDelete}
)

// UpdateGroup applies c to group id as group/api.py update: volumes join
// only an available group, from its project, with one of its volume types,
// on its backend; a generic group needs nothing of the driver, so the
// volumes move at once and the group stays available.
func (a *API) UpdateGroup(ctx context.Context, id string, c GroupChanges) error {
	g, err := a.GetGroup(ctx, id)
	if err != nil {
		return err
	}
	if c.Name != nil && *c.Name == g.Name {
		c.Name = nil
	}
	if c.Description != nil && *c.Description == g.Description {
		c.Description = nil
	}
	for _, v := range c.Add {
		if slices.Contains(c.Remove, v) {
			return cinder.InvalidVolume("UUIDs %s are in both add and remove volume list.", pyList([]string{v}))
		}
	}
	members, err := a.store.GroupVolumes(ctx, g.ID)
	if err != nil {
		return err
	}
	add, err := a.groupAdditions(ctx, g, members, c.Add)
	if err != nil {
		return err
	}
	remove, err := groupRemovals(g, members, c.Remove)
	if err != nil {
		return err
	}
	if c.Name == nil && c.Description == nil && len(add) == 0 && len(remove) == 0 {
		return cinder.InvalidGroup("Cannot update group %s because no valid name, description, add_volumes, or remove_volumes were provided.", g.ID)
	}
	if _, err := a.store.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error {
		if (len(add) > 0 || len(remove) > 0) && g.Status != cinder.GroupAvailable {
			return cinder.InvalidGroup("Group status must be available.")
		}
		if c.Name != nil {
			g.Name = *c.Name
		}
		if c.Description != nil {
			g.Description = *c.Description
		}
		g.Status = cinder.GroupAvailable
		return nil
	}); err != nil {
		return err
	}
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	return a.store.SetGroupVolumes(ctx, g.ID, add, remove)
}

// groupAdditions checks the volumes ids may join group g, whose volumes are
// members, and returns those not in it yet.
func (a *API) groupAdditions(ctx context.Context, g *cinder.Group, members []*cinder.Volume, ids []string) ([]string, error) {
	var add []string
	for _, id := range ids {
		if slices.ContainsFunc(members, func(v *cinder.Volume) bool { return v.ID == id }) || slices.Contains(add, id) {
			continue
		}
		v, err := a.store.GetVolume(ctx, id)
		if cinder.IsNotFound(err) {
			return nil, cinder.InvalidVolume("Cannot add volume %s to group %s because volume cannot be found.", id, g.ID)
		}
		if err != nil {
			return nil, err
		}
		switch {
		case v.GroupID != "":
			return nil, cinder.InvalidVolume("Cannot add volume %s to group %s because it is already in group %s.", id, g.ID, v.GroupID)
		case v.ProjectID != g.ProjectID:
			return nil, cinder.InvalidVolume("Cannot add volume %s to group %s as they belong to different projects.", id, g.ID)
		case !slices.Contains(g.VolumeTypeIDs, v.VolumeTypeID):
			return nil, cinder.InvalidVolume("Cannot add volume %s to group %s because volume type %s is not supported by the group.", id, g.ID, v.VolumeTypeID)
		case !slices.Contains(groupAddStatuses, v.Status):
			return nil, cinder.InvalidVolume("Cannot add volume %s to group %s because volume is in an invalid state: %s. Valid states are: %s.",
				id, g.ID, v.Status, pyTuple(groupAddStatuses))
		case cinder.ExtractHost(v.Host, cinder.LevelHost) != cinder.ExtractHost(g.Host, cinder.LevelHost):
			return nil, cinder.InvalidVolume("Volume is not local to this node.")
		}
		add = append(add, id)
	}
	return add, nil
}

// groupRemovals checks the volumes ids may leave group g, whose volumes
// are members, and returns them.
func groupRemovals(g *cinder.Group, members []*cinder.Volume, ids []string) ([]string, error) {
	var remove []string
	for _, id := range ids {
		i := slices.IndexFunc(members, func(v *cinder.Volume) bool { return v.ID == id })
		if i < 0 {
			return nil, cinder.InvalidVolume("Cannot remove volume %s from group %s because it is not in the group.", id, g.ID)
		}
		if v := members[i]; !slices.Contains(groupRemoveStatuses, v.Status) {
			return nil, cinder.InvalidVolume("Cannot remove volume %s from group %s because volume is in an invalid state: %s. Valid states are: %s.",
				id, g.ID, v.Status, pyTuple(groupRemoveStatuses))
		}
		if !slices.Contains(remove, id) {
			remove = append(remove, id)
		}
	}
	return remove, nil
}

// DeleteGroup deletes group id as group/api.py delete: a group no
// scheduler placed is destroyed at once; otherwise it must be available or
// error (any status with deleteVolumes), have no group snapshot, be the
// source of no group being created, and hold no volume unless
// deleteVolumes, then none attached or with snapshots. Its volumes and the
// group go deleting and its backend deletes them. When the cast cannot be
// sent they stay deleting, for a second delete to finish.
func (a *API) DeleteGroup(ctx context.Context, id string, deleteVolumes bool) error {
	g, err := a.GetGroup(ctx, id)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if g.Host == "" {
		a.destroyGroup(ctx, g.ID)
		return nil
	}
	if !deleteVolumes && g.Status != cinder.GroupAvailable && g.Status != cinder.GroupError {
		return cinder.InvalidGroup("Group status must be available or error, but current status is: %s", g.Status)
	}
	if gss, err := a.store.ListGroupSnapshots(ctx, db.GroupSnapshotFilter{GroupID: g.ID, Limit: 1}); err != nil {
		return err
	} else if len(gss) > 0 {
		return cinder.InvalidGroup("Group has existing snapshots.")
	}
	vols, err := a.store.GroupVolumes(ctx, g.ID)
	if err != nil {
		return err
	}
	if len(vols) > 0 && !deleteVolumes {
		return cinder.InvalidGroup("Group %s still contains volumes. The delete-volumes flag is required to delete it.", g.ID)
	}
	for _, v := range vols {
		if v.AttachStatus == "attached" {
			return cinder.InvalidGroup("Volume in group %s is attached. Need to detach first.", g.ID)
		}
		if n, err := a.store.CountSnapshots(ctx, db.SnapshotFilter{VolumeID: v.ID}); err != nil {
			return err
		} else if n > 0 {
			return cinder.InvalidGroup("Volume in group still has dependent snapshots.")
		}
	}
	source, err := a.store.GroupCreatingFrom(ctx, g.ID)
	if err != nil {
		return err
	}
	g, err = a.store.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error {
		if source || !deleteVolumes && g.Status != cinder.GroupAvailable && g.Status != cinder.GroupError {
			reason := "Group must not have attached volumes, volumes with snapshots, or dependent group snapshots"
			if deleteVolumes {
				reason = "Group status must be available or error and must not have dependent group snapshots"
			}
			return cinder.InvalidGroup("Cannot delete group %s. %s, and it cannot be the source for an ongoing group or group snapshot creation.", g.ID, reason)
		}
		g.Status = cinder.GroupDeleting
		return nil
	})
	if err != nil {
		return err
	}
	for _, v := range vols {
		if _, err := a.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
			v.Status = cinder.StatusDeleting
			return nil
		}); err != nil {
			return err
		}
	}
	if err := a.backends.DeleteGroup(ctx, g); err != nil {
		return unreachable(err, "Could not ask cinder-volume to delete group %s", g.ID)
	}
	return nil
}

// GroupStatuses are the statuses an admin may reset a group to, as
// Cinder's group_status format.
var GroupStatuses = []string{cinder.GroupCreating, cinder.GroupAvailable, "deleted", cinder.GroupDeleting,
	cinder.GroupError, "error_deleting", cinder.GroupUpdating, "in-use"}

// ResetGroupStatus sets group id's status (3.20), as group/api.py
// reset_status: no check of where it was.
func (a *API) ResetGroupStatus(ctx context.Context, id, status string) error {
	if _, err := a.GetGroup(ctx, id); err != nil {
		return err
	}
	_, err := a.store.UpdateGroup(ctx, id, func(g *cinder.Group) error {
		g.Status = status
		return nil
	})
	return err
}

// pyTuple is strs as Python prints a tuple of strings, for Cinder's messages.
func pyTuple(strs []string) string {
	l := pyList(strs)
	return "(" + l[1:len(l)-1] + ")"
}
