package db

import (
	"context"
	"reflect"
	"testing"

	"github.com/cinder-go/cinder"
)

func TestSnapshots(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		v := &cinder.Volume{ProjectID: "p", Size: 3, Status: cinder.StatusAvailable, UseQuota: true}
		if err := db.CreateVolume(ctx, v); err != nil {
			t.Fatal(err)
		}
		var snaps []*cinder.Snapshot
		for i, name := range []string{"b", "a", "c"} {
			s := &cinder.Snapshot{VolumeID: v.ID, ProjectID: "p", Status: cinder.SnapshotCreating, VolumeSize: 3 + i,
				DisplayName: name, Metadata: map[string]string{"k": name}, UseQuota: i != 2}
			if err := db.CreateSnapshot(ctx, s); err != nil {
				t.Fatal(err)
			}
			snaps = append(snaps, s)
		}
		got, err := db.GetSnapshot(ctx, snaps[0].ID)
		if err != nil || !reflect.DeepEqual(got, snaps[0]) {
			t.Fatalf("GetSnapshot = %+v, %v; want %+v", got, err, snaps[0])
		}
		if err := db.CreateSnapshot(ctx, &cinder.Snapshot{ID: snaps[0].ID, VolumeID: v.ID}); cinder.Code(err) != 409 {
			t.Fatalf("duplicate id: %v", err)
		}

		for _, c := range []struct {
			f    SnapshotFilter
			want []int
		}{
			{SnapshotFilter{SortKey: "display_name"}, []int{1, 0, 2}},
			{SnapshotFilter{SortKey: "size", SortDescending: true}, []int{2, 1, 0}},
			{SnapshotFilter{Name: "c"}, []int{2}},
			{SnapshotFilter{ProjectID: "q"}, nil},
			{SnapshotFilter{VolumeID: v.ID, SortKey: "display_name", Marker: snaps[1].ID, Limit: 1}, []int{0}},
		} {
			list, err := db.ListSnapshots(ctx, c.f)
			var ids, want []string
			for _, s := range list {
				ids = append(ids, s.ID)
			}
			for _, i := range c.want {
				want = append(want, snaps[i].ID)
			}
			if err != nil || !reflect.DeepEqual(ids, want) {
				t.Errorf("ListSnapshots(%+v) = %v, %v; want %v", c.f, ids, err, want)
			}
		}
		if n, err := db.CountSnapshots(ctx, SnapshotFilter{VolumeID: v.ID}); n != 3 || err != nil {
			t.Errorf("CountSnapshots = %d, %v", n, err)
		}
		// Quota: volumes and snapshots that use it (3 + 3 + 4 GiB; the third does not count).
		want := map[string]Usage{QuotaGigabytes: {InUse: 10}, QuotaSnapshots: {InUse: 2}}
		if u, err := db.QuotaUsages(ctx, "p", []string{QuotaGigabytes, QuotaSnapshots}); !reflect.DeepEqual(u, want) || err != nil {
			t.Errorf("QuotaUsages = %v, %v; want %v", u, err, want)
		}

		s, err := db.UpdateSnapshot(ctx, snaps[0].ID, func(s *cinder.Snapshot) error {
			if s.Status != cinder.SnapshotCreating {
				return cinder.Invalid("not creating")
			}
			s.Status, s.Progress = cinder.SnapshotAvailable, "100%"
			return nil
		})
		if err != nil || s.Status != cinder.SnapshotAvailable || s.UpdatedAt == nil {
			t.Fatalf("UpdateSnapshot = %+v, %v", s, err)
		}
		if _, err := db.UpdateSnapshot(ctx, snaps[0].ID, func(s *cinder.Snapshot) error {
			return cinder.Invalid("refused")
		}); cinder.Code(err) != 400 {
			t.Fatalf("refused update: %v", err)
		}
		if err := db.DestroySnapshot(ctx, snaps[0].ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.GetSnapshot(ctx, snaps[0].ID)
		wantCode(t, err, 404, "SnapshotNotFound")
		wantCode(t, db.DestroySnapshot(ctx, snaps[0].ID), 404, "SnapshotNotFound")
	})
}
