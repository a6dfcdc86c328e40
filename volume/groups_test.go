package volume

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// group writes an available group of project admin on hostA@fake1 with the
// default volume type, and returns it.
func (c *cloud) group() *cinder.Group {
	c.t.Helper()
	ctx := context.Background()
	gt := &cinder.GroupType{Name: "gt-" + uuid.NewString(), IsPublic: true}
	if err := c.store.CreateGroupType(ctx, gt); err != nil {
		c.t.Fatal(err)
	}
	vt, err := c.store.GetVolumeTypeByName(ctx, cinder.DefaultVolumeType)
	if err != nil {
		c.t.Fatal(err)
	}
	g := &cinder.Group{ProjectID: "admin", GroupTypeID: gt.ID, Status: cinder.GroupAvailable, Host: "hostA@fake1#fake",
		AvailabilityZone: "nova", VolumeTypeIDs: []string{vt.ID}}
	if err := c.store.CreateGroup(ctx, g); err != nil {
		c.t.Fatal(err)
	}
	return g
}

func TestCreateGroup(t *testing.T) {
	c := newCloud(t)
	if err := c.store.CreateGroupType(admin(), &cinder.GroupType{Name: "generic", IsPublic: true}); err != nil {
		t.Fatal(err)
	}
	_, err := c.api.CreateGroup(admin(), GroupRequest{GroupType: "nope", VolumeTypes: []string{cinder.DefaultVolumeType}})
	wantCode(t, "unknown group type", err, 404)
	_, err = c.api.CreateGroup(admin(), GroupRequest{GroupType: "generic", VolumeTypes: []string{"nope"}})
	wantCode(t, "unknown volume type", err, 404)
	_, err = c.api.CreateGroup(admin(), GroupRequest{GroupType: "generic", VolumeTypes: []string{cinder.DefaultVolumeType}, AvailabilityZone: "mars"})
	wantCode(t, "unknown zone", err, 400)

	g, err := c.api.CreateGroup(admin(), GroupRequest{Name: "g", GroupType: "generic", VolumeTypes: []string{cinder.DefaultVolumeType}})
	if err != nil {
		t.Fatal(err)
	}
	if g.Status != cinder.GroupCreating || g.AvailabilityZone != "nova" || len(g.VolumeTypeIDs) != 1 {
		t.Fatalf("created %+v", g)
	}
	if calls := c.rpc.called(); !slices.Equal(calls, []string{"create_group " + g.ID}) {
		t.Fatalf("calls %v", calls)
	}
	_, err = c.api.GetGroup(member("other"), g.ID)
	wantCode(t, "another project's group", err, 404)

	// When the scheduler cannot be asked the group is gone, its quota back.
	c.rpc.err = errBusDown
	lost, err := c.api.CreateGroup(admin(), GroupRequest{GroupType: "generic", VolumeTypes: []string{cinder.DefaultVolumeType}})
	wantCode(t, "create with the bus down", err, 503)
	if lost != nil {
		t.Fatalf("created %+v with the bus down", lost)
	}
	if groups, err := c.store.ListGroups(admin(), db.GroupFilter{}); err != nil || len(groups) != 1 {
		t.Fatalf("groups %v, %v", groups, err)
	}
}

func TestGroupVolumes(t *testing.T) {
	c := newCloud(t)
	g := c.group()
	v, _, err := c.api.Create(admin(), CreateRequest{Size: 1, VolumeType: cinder.DefaultVolumeType, GroupID: g.ID})
	if err != nil {
		t.Fatal(err)
	}
	if v.GroupID != g.ID || c.rpc.lastSpec().ResourceBackend != "hostA@fake1" {
		t.Fatalf("volume in group %q placed on %q", v.GroupID, c.rpc.lastSpec().ResourceBackend)
	}
	_, _, err = c.api.Create(admin(), CreateRequest{Size: 1, GroupID: g.ID})
	wantCode(t, "a group's volume without a type", err, 400)
	c.setVolume(v.ID, func(v *cinder.Volume) { v.Host, v.Status = "hostA@fake1#fake", cinder.StatusAvailable })
	wantCode(t, "deleting a volume of a group", c.api.Delete(admin(), v.ID, false, false), 400)
	wantCode(t, "migrating a volume of a group", c.api.Migrate(admin(), v.ID, Migration{Host: "hostA@fake2"}), 400)
	if err := c.store.CreateVolumeType(admin(), &cinder.VolumeType{Name: "other", IsPublic: true}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "retyping a volume of a group", c.api.Retype(admin(), v.ID, "other", "never"), 400)

	loose := c.volume(nil)
	wantCode(t, "a volume of no type of the group", c.api.UpdateGroup(admin(), g.ID, GroupChanges{Add: []string{loose}}), 400)
	c.setVolume(loose, func(x *cinder.Volume) { x.VolumeTypeID = g.VolumeTypeIDs[0]; x.Host = "hostB@fake1#fake" })
	wantCode(t, "a volume of another host", c.api.UpdateGroup(admin(), g.ID, GroupChanges{Add: []string{loose}}), 400)
	c.setVolume(loose, func(x *cinder.Volume) { x.Host = "hostA@fake1#fake"; x.Status = cinder.StatusError })
	wantCode(t, "an error volume", c.api.UpdateGroup(admin(), g.ID, GroupChanges{Add: []string{loose}}), 400)
	c.setVolume(loose, func(x *cinder.Volume) { x.Status = cinder.StatusAvailable })
	if err := c.api.UpdateGroup(admin(), g.ID, GroupChanges{Add: []string{loose}, Remove: []string{v.ID}}); err != nil {
		t.Fatal(err)
	}
	if c.get(loose).GroupID != g.ID || c.get(v.ID).GroupID != "" {
		t.Fatalf("after the update: %q, %q", c.get(loose).GroupID, c.get(v.ID).GroupID)
	}
	wantCode(t, "an update changing nothing", c.api.UpdateGroup(admin(), g.ID, GroupChanges{}), 400)

	wantCode(t, "deleting a group with volumes", c.api.DeleteGroup(admin(), g.ID, false), 400)
	if err := c.api.DeleteGroup(admin(), g.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.store.GetGroup(admin(), g.ID); got.Status != cinder.GroupDeleting || c.get(loose).Status != cinder.StatusDeleting {
		t.Fatalf("after delete: group %s, volume %s", got.Status, c.get(loose).Status)
	}
	if calls := c.rpc.called(); calls[len(calls)-1] != "delete_group "+g.ID {
		t.Fatalf("calls %v", calls)
	}
	if err := c.api.ResetGroupStatus(admin(), g.ID, cinder.GroupAvailable); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.store.GetGroup(admin(), g.ID); got.Status != cinder.GroupAvailable {
		t.Fatalf("after reset: %s", got.Status)
	}
}
