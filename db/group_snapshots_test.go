package db

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
)

func TestGroupSnapshots(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		g := &cinder.Group{ProjectID: "p", GroupTypeID: "gt", Status: cinder.GroupAvailable, Host: "h@b#p"}
		if err := db.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		gs := &cinder.GroupSnapshot{GroupID: g.ID, ProjectID: "p", Name: "gs", GroupTypeID: "gt", Status: cinder.GroupSnapshotCreating}
		wantCode(t, db.CreateGroupSnapshot(ctx, gs, nil), 400, "InvalidGroup") // no volume
		v := &cinder.Volume{ProjectID: "p", Size: 3, Status: cinder.StatusAvailable, UseQuota: true}
		if err := db.CreateVolume(ctx, v); err != nil {
			t.Fatal(err)
		}
		if err := db.SetGroupVolumes(ctx, g.ID, []string{v.ID}, nil); err != nil {
			t.Fatal(err)
		}
		for _, status := range []string{cinder.GroupCreating, cinder.GroupUpdating} {
			if _, err := db.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error { g.Status = status; return nil }); err != nil {
				t.Fatal(err)
			}
			wantCode(t, db.CreateGroupSnapshot(ctx, &cinder.GroupSnapshot{GroupID: g.ID}, nil), 400, "InvalidGroup")
		}
		if _, err := db.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error { g.Status = cinder.GroupAvailable; return nil }); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CreateGroupSnapshot(ctx, &cinder.GroupSnapshot{GroupID: "nope"}, nil), 404, "GroupNotFound")

		// The group snapshot and its snapshots are written together, their
		// usage counted and the group snapshot's reservation ended.
		if err := db.Reserve(ctx, Reservation{Project: "p", Object: "gs-hold", Deltas: map[string]int{QuotaSnapshots: 1, QuotaGigabytes: 3},
			Expire: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		gs.ID = "gs-hold"
		snap := &cinder.Snapshot{VolumeID: v.ID, ProjectID: "p", Status: cinder.SnapshotCreating, VolumeSize: 3, UseQuota: true}
		if err := db.CreateGroupSnapshot(ctx, gs, []*cinder.Snapshot{snap}); err != nil {
			t.Fatal(err)
		}
		want := map[string]Usage{QuotaSnapshots: {InUse: 1}, QuotaGigabytes: {InUse: 6}}
		if u, err := db.QuotaUsages(ctx, "p", []string{QuotaSnapshots, QuotaGigabytes}); !reflect.DeepEqual(u, want) || err != nil {
			t.Errorf("QuotaUsages = %v, %v; want %v", u, err, want)
		}
		got, err := db.GetGroupSnapshot(ctx, gs.ID)
		if err != nil || got.Name != "gs" || got.GroupID != g.ID || got.Status != cinder.GroupSnapshotCreating || !got.CreatedAt.Equal(gs.CreatedAt) {
			t.Fatalf("GetGroupSnapshot = %+v, %v; want %+v", got, err, gs)
		}
		if snaps, err := db.ListSnapshots(ctx, SnapshotFilter{GroupSnapshot: gs.ID}); err != nil || len(snaps) != 1 || snaps[0].GroupSnapshotID != gs.ID {
			t.Fatalf("snapshots of the group snapshot: %v, %v", snaps, err)
		}

		other := &cinder.GroupSnapshot{GroupID: g.ID, ProjectID: "q", Name: "other", Status: cinder.GroupSnapshotAvailable}
		if err := db.CreateGroupSnapshot(ctx, other, nil); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			f    GroupSnapshotFilter
			want []string
		}{
			{GroupSnapshotFilter{ProjectID: "p"}, []string{gs.ID}},
			{GroupSnapshotFilter{Status: cinder.GroupSnapshotAvailable}, []string{other.ID}},
			{GroupSnapshotFilter{GroupID: g.ID, SortKey: "display_name"}, []string{gs.ID, other.ID}},
			{GroupSnapshotFilter{SortKey: "display_name", SortDescending: true, Limit: 1}, []string{other.ID}},
			{GroupSnapshotFilter{SortKey: "display_name", Marker: gs.ID}, []string{other.ID}},
			{GroupSnapshotFilter{Name: "nope"}, nil},
		} {
			list, err := db.ListGroupSnapshots(ctx, tc.f)
			var ids []string
			for _, x := range list {
				ids = append(ids, x.ID)
			}
			if err != nil || !reflect.DeepEqual(ids, tc.want) {
				t.Errorf("ListGroupSnapshots(%+v) = %v, %v; want %v", tc.f, ids, err, tc.want)
			}
		}
		_, err = db.ListGroupSnapshots(ctx, GroupSnapshotFilter{Marker: "nope"})
		wantCode(t, err, 404, "GroupSnapshotNotFound")

		// A group creating from the group snapshot, or from the group.
		for _, from := range []*cinder.Group{{GroupSnapshotID: gs.ID}, {SourceGroupID: g.ID}} {
			from.GroupTypeID, from.Status = "gt", cinder.GroupCreating
			if err := db.CreateGroup(ctx, from); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{gs.ID, g.ID} {
				want := id == from.GroupSnapshotID || id == from.SourceGroupID
				if got, err := db.GroupCreatingFrom(ctx, id); err != nil || got != want {
					t.Errorf("GroupCreatingFrom(%s) = %v, %v; want %v", id, got, err, want)
				}
			}
			if _, err := db.UpdateGroup(ctx, from.ID, func(g *cinder.Group) error { g.Status = cinder.GroupAvailable; return nil }); err != nil {
				t.Fatal(err)
			}
		}

		if err := db.DestroySnapshot(ctx, snap.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.DestroyGroupSnapshot(ctx, gs.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.GetGroupSnapshot(ctx, gs.ID)
		wantCode(t, err, 404, "GroupSnapshotNotFound")
		want = map[string]Usage{QuotaSnapshots: {InUse: 0}, QuotaGigabytes: {InUse: 3}}
		if u, err := db.QuotaUsages(ctx, "p", []string{QuotaSnapshots, QuotaGigabytes}); !reflect.DeepEqual(u, want) || err != nil {
			t.Errorf("QuotaUsages after the destroy = %v, %v; want %v", u, err, want)
		}
	})
}
