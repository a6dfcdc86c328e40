package volume

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// groupSnaps returns the snapshots of group snapshot id.
func (c *cloud) groupSnaps(id string) []*cinder.Snapshot {
	c.t.Helper()
	snaps, err := c.store.ListSnapshots(context.Background(), db.SnapshotFilter{GroupSnapshot: id})
	if err != nil {
		c.t.Fatal(err)
	}
	return snaps
}

// setGroupSnapshot sets group snapshot id's status and its snapshots'.
func (c *cloud) setGroupSnapshot(id, status, snapStatus string) {
	c.t.Helper()
	ctx := context.Background()
	if _, err := c.store.UpdateGroupSnapshot(ctx, id, func(gs *cinder.GroupSnapshot) error { gs.Status = status; return nil }); err != nil {
		c.t.Fatal(err)
	}
	for _, s := range c.groupSnaps(id) {
		c.setSnapshot(s.ID, snapStatus)
	}
}

// groupWithVolumes writes an available group with n available volumes of
// sizes 1, 2, … GiB, and returns it and the volumes' ids.
func (c *cloud) groupWithVolumes(n int) (*cinder.Group, []string) {
	c.t.Helper()
	g := c.group()
	var ids []string
	for i := range n {
		ids = append(ids, c.volume(func(v *cinder.Volume) {
			v.GroupID, v.Size, v.VolumeTypeID = g.ID, i+1, g.VolumeTypeIDs[0]
		}))
	}
	return g, ids
}

func TestCreateGroupSnapshot(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	empty := c.group()
	_, err := c.api.CreateGroupSnapshot(ctx, GroupSnapshotRequest{GroupID: empty.ID})
	wantFault(t, "snapshot of an empty group", err, "InvalidGroup",
		"Invalid Group: Source group cannot be empty or in 'creating' or 'updating' state. No group snapshot will be created.")
	_, err = c.api.CreateGroupSnapshot(ctx, GroupSnapshotRequest{GroupID: "00000000-0000-0000-0000-000000000000"})
	wantCode(t, "unknown group", err, 404)

	g, vols := c.groupWithVolumes(2)
	c.setVolume(vols[1], func(v *cinder.Volume) { v.Status = cinder.StatusInUse }) // no force needed, as Cinder
	_, err = c.api.CreateGroupSnapshot(member("other"), GroupSnapshotRequest{GroupID: g.ID})
	wantCode(t, "another project's group", err, 404)

	c.setVolume(vols[0], func(v *cinder.Volume) { v.Status = cinder.StatusError })
	_, err = c.api.CreateGroupSnapshot(ctx, GroupSnapshotRequest{GroupID: g.ID})
	wantFault(t, "a volume in error", err, "InvalidVolume", "Invalid volume: The snapshot cannot be created when the volume is in error status.")
	c.setVolume(vols[0], func(v *cinder.Volume) { v.Status = cinder.StatusAvailable })

	if _, err := c.store.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error { g.Status = cinder.GroupUpdating; return nil }); err != nil {
		t.Fatal(err)
	}
	_, err = c.api.CreateGroupSnapshot(ctx, GroupSnapshotRequest{GroupID: g.ID})
	wantCode(t, "a group updating", err, 400)
	if _, err := c.store.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error { g.Status = cinder.GroupAvailable; return nil }); err != nil {
		t.Fatal(err)
	}

	// Over the snapshots quota: all or nothing.
	c.limit("admin", map[string]int{db.QuotaSnapshots: 1})
	_, err = c.api.CreateGroupSnapshot(ctx, GroupSnapshotRequest{GroupID: g.ID})
	wantCode(t, "two snapshots over a quota of one", err, 413)
	c.limit("admin", map[string]int{db.QuotaSnapshots: -1})
	if list, _ := c.store.ListSnapshots(ctx, db.SnapshotFilter{}); len(list) != 0 {
		t.Fatalf("snapshots left by failed creates: %d", len(list))
	}
	c.wantUsage("admin", map[string]db.Usage{db.QuotaSnapshots: {}, db.QuotaGigabytes: {InUse: 3}})

	gs, err := c.api.CreateGroupSnapshot(ctx, GroupSnapshotRequest{GroupID: g.ID, Name: "gs", Description: "d"})
	if err != nil {
		t.Fatal(err)
	}
	if gs.Status != cinder.GroupSnapshotCreating || gs.GroupTypeID != g.GroupTypeID || gs.Name != "gs" {
		t.Fatalf("created %+v", gs)
	}
	if calls := c.rpc.called(); !slices.Contains(calls, "create_group_snapshot "+gs.ID+"@"+g.Host) {
		t.Fatalf("calls %v", calls)
	}
	snaps := c.groupSnaps(gs.ID)
	if len(snaps) != 2 {
		t.Fatalf("%d snapshots, want one per volume", len(snaps))
	}
	for _, s := range snaps {
		v := c.get(s.VolumeID)
		if v.GroupID != g.ID || s.Status != cinder.SnapshotCreating || s.VolumeSize != v.Size || s.DisplayName != "gs" {
			t.Fatalf("snapshot %+v of volume %+v", s, v)
		}
	}
	c.wantUsage("admin", map[string]db.Usage{db.QuotaSnapshots: {InUse: 2}, db.QuotaGigabytes: {InUse: 6}})

	// When the backend cannot be asked, nothing is left.
	c.rpc.err = errBusDown
	_, err = c.api.CreateGroupSnapshot(ctx, GroupSnapshotRequest{GroupID: g.ID})
	wantCode(t, "create with the bus down", err, 503)
	c.rpc.err = nil
	if list, _ := c.api.ListGroupSnapshots(ctx, db.GroupSnapshotFilter{}); len(list) != 1 {
		t.Fatalf("group snapshots %d, want 1", len(list))
	}
	c.wantUsage("admin", map[string]db.Usage{db.QuotaSnapshots: {InUse: 2}, db.QuotaGigabytes: {InUse: 6}})
}

func TestDeleteGroupSnapshot(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	g, _ := c.groupWithVolumes(2)
	gs, err := c.api.CreateGroupSnapshot(ctx, GroupSnapshotRequest{GroupID: g.ID})
	if err != nil {
		t.Fatal(err)
	}
	err = c.api.DeleteGroupSnapshot(ctx, gs.ID)
	wantFault(t, "delete while creating", err, "InvalidGroupSnapshot",
		"Invalid GroupSnapshot: GroupSnapshot status must be available or error, and no Group can be currently using it as source for its creation.")
	c.setGroupSnapshot(gs.ID, cinder.GroupSnapshotAvailable, cinder.SnapshotAvailable)

	// A snapshot of a group snapshot cannot be deleted alone, nor the group.
	err = c.api.DeleteSnapshot(ctx, c.groupSnaps(gs.ID)[0].ID, false)
	wantCode(t, "delete of one snapshot of a group snapshot", err, 400)
	err = c.api.DeleteGroup(ctx, g.ID, true)
	wantFault(t, "delete of a group with a group snapshot", err, "InvalidGroup", "Invalid Group: Group has existing snapshots.")

	// Nor can its volume, removed from the group, with a cascade.
	vol := c.groupSnaps(gs.ID)[0].VolumeID
	if err := c.store.SetGroupVolumes(ctx, g.ID, nil, []string{vol}); err != nil {
		t.Fatal(err)
	}
	err = c.api.Delete(ctx, vol, false, true)
	wantFault(t, "cascade delete of a volume with a snapshot of a group snapshot", err, "InvalidVolume", "Invalid volume: Failed to update snapshot.")
	if v := c.get(vol); v.Status != cinder.StatusAvailable {
		t.Fatalf("volume %s after a refused cascade delete", v.Status)
	}

	err = c.api.DeleteGroupSnapshot(member("other"), gs.ID)
	wantCode(t, "another project's group snapshot", err, 404)

	c.rpc.err = errBusDown
	err = c.api.DeleteGroupSnapshot(ctx, gs.ID)
	wantCode(t, "delete with the bus down", err, 503)
	c.rpc.err = nil
	if got, _ := c.api.GetGroupSnapshot(ctx, gs.ID); got.Status != cinder.GroupSnapshotAvailable {
		t.Fatalf("after a failed cast the group snapshot is %s", got.Status)
	}
	for _, s := range c.groupSnaps(gs.ID) {
		if s.Status != cinder.SnapshotAvailable {
			t.Fatalf("after a failed cast snapshot %s is %s", s.ID, s.Status)
		}
	}

	if err := c.api.DeleteGroupSnapshot(ctx, gs.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.api.GetGroupSnapshot(ctx, gs.ID); got.Status != cinder.GroupSnapshotDeleting {
		t.Fatalf("group snapshot %s, want deleting", got.Status)
	}
	for _, s := range c.groupSnaps(gs.ID) {
		if s.Status != cinder.SnapshotDeleting {
			t.Fatalf("snapshot %s is %s, want deleting", s.ID, s.Status)
		}
	}
	if calls := c.rpc.called(); calls[len(calls)-1] != "delete_group_snapshot "+gs.ID {
		t.Fatalf("calls %v", calls)
	}
}

func TestResetGroupSnapshotStatus(t *testing.T) {
	for in, want := range map[string]string{"ERROR": "error", "available": "available", "error_deleting": "error_deleting"} {
		if got, err := GroupSnapshotStatus(in); err != nil || got != want {
			t.Errorf("GroupSnapshotStatus(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := GroupSnapshotStatus("bogus")
	wantFault(t, "status bogus", err, "InvalidGroupSnapshotStatus",
		"Invalid GroupSnapshot Status: Group snapshot status: bogus is invalid, valid statuses are: ('error', 'available', 'creating', 'deleting', 'deleted', 'updating', 'error_deleting').")
	_, err = GroupSnapshotStatus(" ")
	wantCode(t, "empty status", err, 400)

	c := newCloud(t)
	g, _ := c.groupWithVolumes(1)
	gs, err := c.api.CreateGroupSnapshot(admin(), GroupSnapshotRequest{GroupID: g.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.api.ResetGroupSnapshotStatus(admin(), gs.ID, "error"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.api.GetGroupSnapshot(admin(), gs.ID); got.Status != "error" {
		t.Fatalf("status %s after reset to error", got.Status)
	}
	wantCode(t, "reset of an unknown group snapshot", c.api.ResetGroupSnapshotStatus(admin(), "nope", "error"), 404)
}

func TestCreateGroupFromSrc(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	src, vols := c.groupWithVolumes(2)
	gs, err := c.api.CreateGroupSnapshot(ctx, GroupSnapshotRequest{GroupID: src.ID})
	if err != nil {
		t.Fatal(err)
	}
	c.setGroupSnapshot(gs.ID, cinder.GroupSnapshotAvailable, cinder.SnapshotAvailable)

	for _, tc := range []struct {
		req  GroupFromSrcRequest
		from func(v *cinder.Volume) string // the source id a new volume names
		cast string
	}{
		{GroupFromSrcRequest{Name: "from-snap", GroupSnapshotID: gs.ID}, func(v *cinder.Volume) string { return v.SnapshotID }, "snapshot:" + gs.ID},
		{GroupFromSrcRequest{Name: "from-group", SourceGroupID: src.ID}, func(v *cinder.Volume) string { return v.SourceVolID }, "group:" + src.ID},
	} {
		g, err := c.api.CreateGroupFromSrc(ctx, tc.req)
		if err != nil {
			t.Fatal(err)
		}
		if g.Status != cinder.GroupCreating || g.Host != src.Host || g.GroupTypeID != src.GroupTypeID || g.AvailabilityZone != src.AvailabilityZone ||
			g.GroupSnapshotID != tc.req.GroupSnapshotID || g.SourceGroupID != tc.req.SourceGroupID || !slices.Equal(g.VolumeTypeIDs, src.VolumeTypeIDs) {
			t.Fatalf("%s: created %+v from %+v", tc.req.Name, g, src)
		}
		size := 0
		for _, id := range vols {
			v, err := c.store.GetVolume(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			size += v.Size
		}
		if calls := c.rpc.called(); calls[len(calls)-1] != "create_group_from_src "+g.ID+"<"+tc.cast ||
			calls[len(calls)-2] != fmt.Sprintf("validate_host_capacity %s %d GiB", src.Host, size) {
			t.Fatalf("%s: calls %v", tc.req.Name, calls)
		}
		made, err := c.store.GroupVolumes(ctx, g.ID)
		if err != nil || len(made) != 2 {
			t.Fatalf("%s: volumes %v, %v", tc.req.Name, made, err)
		}
		for _, v := range made {
			if v.Status != cinder.StatusCreating || tc.from(v) == "" || v.Host != "hostA@fake1#fake" || v.VolumeTypeID != src.VolumeTypeIDs[0] {
				t.Fatalf("%s: volume %+v", tc.req.Name, v)
			}
		}
		// Neither source may go while a group is being made from it.
		if tc.req.GroupSnapshotID != "" {
			err = c.api.DeleteGroupSnapshot(ctx, gs.ID)
			wantCode(t, "delete of the group snapshot of a group creating", err, 400)
		}
		if _, err := c.store.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error { g.Status = cinder.GroupAvailable; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	c.wantUsage("admin", map[string]db.Usage{db.QuotaVolumes: {InUse: 6}, db.QuotaGroups: {InUse: 3}})

	// A source group cannot go while a group is being made from it.
	other, _ := c.groupWithVolumes(1)
	if _, err := c.api.CreateGroupFromSrc(ctx, GroupFromSrcRequest{SourceGroupID: other.ID}); err != nil {
		t.Fatal(err)
	}
	err = c.api.DeleteGroup(ctx, other.ID, true)
	wantFault(t, "delete of the source of a group creating", err, "InvalidGroup", "Invalid Group: Cannot delete group "+other.ID+
		". Group status must be available or error and must not have dependent group snapshots, and it cannot be the source for an ongoing group or group snapshot creation.")

	empty := c.group()
	_, err = c.api.CreateGroupFromSrc(ctx, GroupFromSrcRequest{SourceGroupID: empty.ID})
	wantFault(t, "from an empty group", err, "InvalidGroup", "Invalid Group: Source Group is empty. No group will be created.")
	_, err = c.api.CreateGroupFromSrc(ctx, GroupFromSrcRequest{GroupSnapshotID: "00000000-0000-0000-0000-000000000000"})
	wantCode(t, "from an unknown group snapshot", err, 404)
	_, err = c.api.CreateGroupFromSrc(member("other"), GroupFromSrcRequest{SourceGroupID: src.ID})
	wantCode(t, "from another project's group", err, 404)

	// Room for one more volume only: the group and the volume made go.
	c.limit("admin", map[string]int{db.QuotaVolumes: 9})
	_, err = c.api.CreateGroupFromSrc(ctx, GroupFromSrcRequest{SourceGroupID: src.ID})
	wantCode(t, "over the volumes quota", err, 413)
	c.limit("admin", map[string]int{db.QuotaVolumes: -1})
	c.rpc.err = errBusDown
	_, err = c.api.CreateGroupFromSrc(ctx, GroupFromSrcRequest{SourceGroupID: src.ID})
	wantCode(t, "with the bus down", err, 503)
	c.rpc.err = nil
	c.wantUsage("admin", map[string]db.Usage{db.QuotaVolumes: {InUse: 8}, db.QuotaGroups: {InUse: 6}})
	if groups, _ := c.store.ListGroups(ctx, db.GroupFilter{}); len(groups) != 6 {
		t.Fatalf("%d groups left, want 6", len(groups))
	}
	if len(vols) != 2 {
		t.Fatal("source group changed")
	}
}
