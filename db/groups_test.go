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
