package db

import (
	"context"
	"reflect"
	"testing"

	"github.com/cinder-go/cinder"
)

func TestGroupTypes(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		gold := &cinder.GroupType{Name: "gold", Description: "consistent", IsPublic: true,
			GroupSpecs: map[string]string{"consistent_group_snapshot_enabled": "<is> True"}}
		if err := db.CreateGroupType(ctx, gold); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetGroupType(ctx, gold.ID)
		if err != nil || !reflect.DeepEqual(got, gold) {
			t.Fatalf("GetGroupType = %+v, %v; want %+v", got, err, gold)
		}
		if got, err := db.GetGroupTypeByName(ctx, "gold"); err != nil || got.ID != gold.ID {
			t.Fatalf("GetGroupTypeByName = %+v, %v; want %s", got, err, gold.ID)
		}
		_, err = db.GetGroupTypeByName(ctx, "tin")
		wantCode(t, err, 404, "GroupTypeNotFoundByName")
		err = db.CreateGroupType(ctx, &cinder.GroupType{Name: "gold"})
		wantCode(t, err, 409, "Duplicate")
		if err.Error() != "Group Type gold already exists." {
			t.Fatalf("duplicate group type message %q", err)
		}

		secret := &cinder.GroupType{Name: "secret"}
		if err := db.CreateGroupType(ctx, secret); err != nil {
			t.Fatal(err)
		}
		names := func(f GroupTypeFilter) []string {
			t.Helper()
			list, err := db.ListGroupTypes(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, g := range list {
				out = append(out, g.Name)
			}
			return out
		}
		public, private := true, false
		for _, c := range []struct {
			f    GroupTypeFilter
			want []string
		}{
			{GroupTypeFilter{SortKey: "display_name"}, []string{"gold", "secret"}},
			{GroupTypeFilter{SortKey: "display_name", SortDescending: true}, []string{"secret", "gold"}},
			{GroupTypeFilter{IsPublic: &public}, []string{"gold"}},
			{GroupTypeFilter{IsPublic: &private}, []string{"secret"}},
			{GroupTypeFilter{SortKey: "display_name", Marker: gold.ID}, []string{"secret"}},
		} {
			if got := names(c.f); !reflect.DeepEqual(got, c.want) {
				t.Errorf("ListGroupTypes(%+v) = %v; want %v", c.f, got, c.want)
			}
		}

		_, err = db.UpdateGroupType(ctx, secret.ID, func(g *cinder.GroupType) error {
			g.Name = "gold"
			return nil
		})
		wantCode(t, err, 409, "Duplicate")
		written, err := db.UpdateGroupType(ctx, gold.ID, func(g *cinder.GroupType) error {
			g.GroupSpecs["k"] = "v"
			g.Description = ""
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err = db.GetGroupType(ctx, gold.ID)
		want := map[string]string{"consistent_group_snapshot_enabled": "<is> True", "k": "v"}
		if err != nil || !reflect.DeepEqual(got, written) || !reflect.DeepEqual(got.GroupSpecs, want) || got.UpdatedAt == nil {
			t.Fatalf("after UpdateGroupType: %+v, %v; want specs %v", got, err, want)
		}

		if err := db.DeleteGroupType(ctx, gold.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.GetGroupType(ctx, gold.ID)
		wantCode(t, err, 404, "GroupTypeNotFound")
		wantCode(t, db.DeleteGroupType(ctx, gold.ID), 404, "GroupTypeNotFound")
		// The name is free again once its type is deleted.
		if err := db.CreateGroupType(ctx, &cinder.GroupType{Name: "gold"}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestGroups(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		gt := &cinder.GroupType{Name: "generic"}
		if err := db.CreateGroupType(ctx, gt); err != nil {
			t.Fatal(err)
		}
		vt, err := db.GetVolumeTypeByName(ctx, cinder.DefaultVolumeType)
		if err != nil {
			t.Fatal(err)
		}
		g := &cinder.Group{ProjectID: "p", UserID: "u", Name: "g1", GroupTypeID: gt.ID, Status: cinder.GroupCreating,
			AvailabilityZone: "nova", VolumeTypeIDs: []string{vt.ID}}
		if err := db.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetGroup(ctx, g.ID)
		if err != nil || !reflect.DeepEqual(got, g) {
			t.Fatalf("GetGroup = %+v, %v; want %+v", got, err, g)
		}
		other := &cinder.Group{ProjectID: "q", Name: "g2", GroupTypeID: gt.ID, Status: cinder.GroupAvailable}
		if err := db.CreateGroup(ctx, other); err != nil {
			t.Fatal(err)
		}
		if list, err := db.ListGroups(ctx, GroupFilter{ProjectID: "p"}); err != nil || len(list) != 1 || list[0].ID != g.ID ||
			!reflect.DeepEqual(list[0].VolumeTypeIDs, []string{vt.ID}) {
			t.Fatalf("ListGroups(p) = %v, %v", list, err)
		}
		if list, err := db.ListGroups(ctx, GroupFilter{SortKey: "display_name", SortDescending: true}); err != nil || len(list) != 2 || list[0].Name != "g2" {
			t.Fatalf("ListGroups by name = %v, %v", list, err)
		}
		want := map[string]Usage{QuotaGroups: {InUse: 1}}
		if u, err := db.QuotaUsages(ctx, "p", []string{QuotaGroups}); !reflect.DeepEqual(u, want) || err != nil {
			t.Errorf("QuotaUsages = %v, %v; want %v", u, err, want)
		}
		wantCode(t, db.DeleteGroupType(ctx, gt.ID), 400, "GroupTypeInUse")

		v := &cinder.Volume{ProjectID: "p", Size: 1, Status: cinder.StatusAvailable, VolumeTypeID: vt.ID}
		if err := db.CreateVolume(ctx, v); err != nil {
			t.Fatal(err)
		}
		if err := db.SetGroupVolumes(ctx, g.ID, []string{v.ID}, nil); err != nil {
			t.Fatal(err)
		}
		vols, err := db.GroupVolumes(ctx, g.ID)
		if err != nil || len(vols) != 1 || vols[0].ID != v.ID || vols[0].GroupID != g.ID {
			t.Fatalf("GroupVolumes = %v, %v", vols, err)
		}
		if got, _ := db.GetGroup(ctx, g.ID); got.Status != cinder.GroupAvailable {
			t.Fatalf("group %s after SetGroupVolumes", got.Status)
		}
		if err := db.SetGroupVolumes(ctx, g.ID, nil, []string{v.ID}); err != nil {
			t.Fatal(err)
		}
		if vols, err := db.GroupVolumes(ctx, g.ID); err != nil || len(vols) != 0 {
			t.Fatalf("GroupVolumes after removing = %v, %v", vols, err)
		}

		if _, err := db.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error {
			g.Deleted = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		wantCode(t, func() error { _, err := db.GetGroup(ctx, g.ID); return err }(), 404, "GroupNotFound")
		want = map[string]Usage{QuotaGroups: {InUse: 0}}
		if u, err := db.QuotaUsages(ctx, "p", []string{QuotaGroups}); !reflect.DeepEqual(u, want) || err != nil {
			t.Errorf("QuotaUsages after delete = %v, %v; want %v", u, err, want)
		}
	})
}
