package db

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
)

func TestBackups(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		var backups []*cinder.Backup
		for i, name := range []string{"b", "a", "c"} {
			b := &cinder.Backup{VolumeID: "v", ProjectID: "p", Status: cinder.BackupAvailable, Size: 1 + i,
				DisplayName: name, DataTimestamp: base.Add(time.Duration(i) * time.Hour), Metadata: map[string]string{"k": name}}
			if i == 2 {
				b.ParentID, b.Status = backups[0].ID, cinder.BackupCreating
			}
			if err := db.CreateBackup(ctx, b); err != nil {
				t.Fatal(err)
			}
			backups = append(backups, b)
		}
		got, err := db.GetBackup(ctx, backups[1].ID)
		if err != nil || !reflect.DeepEqual(got, backups[1]) {
			t.Fatalf("GetBackup = %+v, %v; want %+v", got, err, backups[1])
		}
		if got, err := db.GetBackup(ctx, backups[0].ID); err != nil || got.NumDependentBackups != 1 {
			t.Errorf("parent's num_dependent_backups = %+v, %v; want 1", got, err)
		}
		if err := db.CreateBackup(ctx, &cinder.Backup{ID: backups[0].ID}); cinder.Code(err) != 409 {
			t.Fatalf("duplicate id: %v", err)
		}
		for _, c := range []struct {
			f    BackupFilter
			want []int
		}{
			{BackupFilter{SortKey: "name"}, []int{1, 0, 2}},
			{BackupFilter{SortKey: "size", SortDescending: true}, []int{2, 1, 0}},
			{BackupFilter{Name: "c"}, []int{2}},
			{BackupFilter{Statuses: []string{cinder.BackupCreating}}, []int{2}},
			{BackupFilter{ProjectID: "q"}, nil},
			{BackupFilter{VolumeID: "v", SortKey: "display_name", Marker: backups[1].ID, Limit: 1}, []int{0}},
		} {
			list, err := db.ListBackups(ctx, c.f)
			var ids, want []string
			for _, b := range list {
				ids = append(ids, b.ID)
			}
			for _, i := range c.want {
				want = append(want, backups[i].ID)
			}
			if err != nil || !reflect.DeepEqual(ids, want) {
				t.Errorf("ListBackups(%+v) = %v, %v; want %v", c.f, ids, err, want)
			}
		}
		if n, err := db.CountBackups(ctx, BackupFilter{VolumeID: "v"}); n != 3 || err != nil {
			t.Errorf("CountBackups = %d, %v", n, err)
		}
		if b, err := db.LatestBackup(ctx, "v", time.Time{}); err != nil || b.ID != backups[1].ID {
			t.Errorf("LatestBackup = %+v, %v; want %s", b, err, backups[1].ID)
		}
		if b, err := db.LatestBackup(ctx, "v", base.Add(time.Hour)); err != nil || b.ID != backups[0].ID {
			t.Errorf("LatestBackup before %s = %+v, %v; want %s", base.Add(time.Hour), b, err, backups[0].ID)
		}
		if _, err := db.LatestBackup(ctx, "v", base); !cinder.IsNotFound(err) {
			t.Errorf("LatestBackup before the oldest: %v", err)
		}
		if _, err := db.LatestBackup(ctx, "w", time.Time{}); !cinder.IsNotFound(err) {
			t.Errorf("LatestBackup of a volume without backups: %v", err)
		}
		want := map[string]Usage{QuotaBackups: {InUse: 3}, QuotaBackupGigabytes: {InUse: 6}}
		if u, err := db.QuotaUsages(ctx, "p", []string{QuotaBackups, QuotaBackupGigabytes}); !reflect.DeepEqual(u, want) || err != nil {
			t.Errorf("QuotaUsages = %v, %v; want %v", u, err, want)
		}

		refused := cinder.Invalid("no")
		if _, err := db.UpdateBackup(ctx, backups[2].ID, func(*cinder.Backup) error { return refused }); err != refused {
			t.Errorf("refused update: %v", err)
		}
		b, err := db.UpdateBackup(ctx, backups[2].ID, func(b *cinder.Backup) error {
			b.Status, b.ObjectCount, b.ServiceMetadata = cinder.BackupAvailable, 4, "prefix"
			return nil
		})
		if err != nil || b.UpdatedAt == nil {
			t.Fatalf("UpdateBackup = %+v, %v", b, err)
		}
		if got, err := db.GetBackup(ctx, b.ID); err != nil || !reflect.DeepEqual(got, b) {
			t.Errorf("after update GetBackup = %+v, %v; want %+v", got, err, b)
		}
		if err := db.DestroyBackup(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetBackup(ctx, b.ID); cinder.Code(err) != 404 {
			t.Errorf("GetBackup after destroy: %v", err)
		}
		if err := db.DestroyBackup(ctx, b.ID); cinder.Code(err) != 404 {
			t.Errorf("DestroyBackup twice: %v", err)
		}
		if got, _ := db.GetBackup(ctx, backups[0].ID); got.NumDependentBackups != 0 {
			t.Errorf("num_dependent_backups after the child's destroy = %d", got.NumDependentBackups)
		}
		again := &cinder.Backup{ID: b.ID, Status: cinder.BackupCreating}
		if err := db.CreateBackup(ctx, again); err != nil {
			t.Fatalf("CreateBackup of a deleted backup's id: %v", err)
		}
		if got, err := db.GetBackup(ctx, b.ID); err != nil || got.Status != cinder.BackupCreating {
			t.Errorf("re-created backup = %+v, %v", got, err)
		}
	})
}
