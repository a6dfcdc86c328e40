package db

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
)

// wantUsage fails unless project's usage of the resources of want is want.
func wantUsage(t *testing.T, db *DB, project string, want map[string]Usage) {
	t.Helper()
	got, err := db.QuotaUsages(context.Background(), project, slices.Sorted(maps.Keys(want)))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("usage of %s = %v, %v; want %v", project, got, err, want)
	}
}

// TestConcurrentReserves races 50 creates of a volume, each a Reserve then
// the insert, through two connections to the database as two processes
// would, against a limit of 20 volumes in a project that already had 3
// before its usage was first counted: exactly 17 win, the others fail with
// OverQuota, and the usage ends at the 20 rows with nothing reserved.
func TestConcurrentReserves(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		dbs := []*DB{synced(t, url), open(t, url)}
		for range 3 {
			if err := dbs[0].CreateVolume(ctx, &cinder.Volume{ProjectID: "p", Size: 1, UseQuota: true}); err != nil {
				t.Fatal(err)
			}
		}
		limits := map[string]int{QuotaVolumes: 20, QuotaGigabytes: -1}
		var mu sync.Mutex
		won, over := 0, 0
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				db, id := dbs[i%2], uuid.NewString()
				err := db.Reserve(ctx, Reservation{Project: "p", Object: id, Deltas: map[string]int{QuotaVolumes: 1, QuotaGigabytes: 1},
					Limits: limits, Expire: time.Now().Add(time.Hour)})
				var oq *OverQuota
				if err == nil {
					err = db.CreateVolume(ctx, &cinder.Volume{ID: id, ProjectID: "p", Size: 1, UseQuota: true})
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.As(err, &oq) && slices.Equal(oq.Overs, []string{QuotaVolumes}) && oq.Quotas[QuotaVolumes] == 20:
					over++
				default:
					t.Errorf("create %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if won != 17 || over != 33 {
			t.Fatalf("%d creates won and %d were over quota; want 17 and 33", won, over)
		}
		if n, err := dbs[0].CountVolumes(ctx, VolumeFilter{ProjectID: "p"}); n != 20 || err != nil {
			t.Fatalf("%d volumes, %v; want 20", n, err)
		}
		wantUsage(t, dbs[0], "p", map[string]Usage{QuotaVolumes: {InUse: 20}, QuotaGigabytes: {InUse: 20}})
	})
}

// TestReservationsEnd: a reservation holds until its object is written or
// it is given up; one past its expiry stops counting at the next Reserve
// of its resource; over a limit nothing is held and OverQuota says why.
func TestReservationsEnd(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		reserve := func(object string, n int, expire time.Time) error {
			return db.Reserve(ctx, Reservation{Project: "p", Object: object, Deltas: map[string]int{QuotaBackups: 1, QuotaBackupGigabytes: n},
				Limits: map[string]int{QuotaBackups: 10, QuotaBackupGigabytes: 10}, Expire: expire})
		}
		later := time.Now().Add(time.Hour)
		if err := reserve("b1", 4, later); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, db, "p", map[string]Usage{QuotaBackups: {Reserved: 1}, QuotaBackupGigabytes: {Reserved: 4}})
		if err := db.EndReservations(ctx, "b1"); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, db, "p", map[string]Usage{QuotaBackups: {}, QuotaBackupGigabytes: {}})

		if err := reserve("b2", 6, time.Now().Add(-time.Second)); err != nil { // left by a crash, expired
			t.Fatal(err)
		}
		if err := reserve("b3", 5, later); err != nil {
			t.Fatalf("reserve past an expired hold: %v", err)
		}
		wantUsage(t, db, "p", map[string]Usage{QuotaBackups: {Reserved: 1}, QuotaBackupGigabytes: {Reserved: 5}})
		err := reserve("b4", 6, later)
		var oq *OverQuota
		if !errors.As(err, &oq) || !slices.Equal(oq.Overs, []string{QuotaBackupGigabytes}) ||
			oq.Usages[QuotaBackupGigabytes] != (Usage{Reserved: 5}) || oq.Quotas[QuotaBackupGigabytes] != 10 {
			t.Fatalf("reserve over backup_gigabytes: %v (%+v)", err, oq)
		}
		if err.Error() != "Quota exceeded for resources: ['backup_gigabytes']" {
			t.Errorf("message %q", err)
		}
		if err := db.CreateBackup(ctx, &cinder.Backup{ID: "b3", VolumeID: "v", ProjectID: "p", Size: 5}); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, db, "p", map[string]Usage{QuotaBackups: {InUse: 1}, QuotaBackupGigabytes: {InUse: 5}})
	})
}

// TestExpireReservations: the periodic expiry drops the holds past their
// expiry in every project, which stop counting at once, and keeps the
// others.
func TestExpireReservations(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		reserve := func(project, object string, n int, expire time.Time) {
			t.Helper()
			if err := db.Reserve(ctx, Reservation{Project: project, Object: object, Deltas: map[string]int{QuotaVolumes: 1, QuotaGigabytes: n},
				Limits: map[string]int{QuotaVolumes: 10, QuotaGigabytes: 100}, Expire: expire}); err != nil {
				t.Fatal(err)
			}
		}
		past, later := time.Now().Add(-time.Second), time.Now().Add(time.Hour)
		reserve("p", "v1", 6, past) // left by a crash
		reserve("p", "v2", 3, later)
		reserve("q", "v3", 2, past)
		if err := db.ExpireReservations(ctx); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, db, "p", map[string]Usage{QuotaVolumes: {Reserved: 1}, QuotaGigabytes: {Reserved: 3}})
		wantUsage(t, db, "q", map[string]Usage{QuotaVolumes: {}, QuotaGigabytes: {}})
		var n int
		if err := db.sql.QueryRowContext(ctx, "SELECT count(*) FROM reservations").Scan(&n); err != nil || n != 2 {
			t.Fatalf("%d reservations left, %v; want v2's two", n, err)
		}
		// The hold kept still ends with its object's row.
		if err := db.CreateVolume(ctx, &cinder.Volume{ID: "v2", ProjectID: "p", Size: 3, UseQuota: true}); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, db, "p", map[string]Usage{QuotaVolumes: {InUse: 1}, QuotaGigabytes: {InUse: 3}})
		if err := db.ExpireReservations(ctx); err != nil {
			t.Fatalf("expire with nothing to expire: %v", err)
		}
	})
}

// TestUsageFollowsRows changes counted rows every way the services do and
// checks the usage after each, in the transaction of the change.
func TestUsageFollowsRows(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		gold := &cinder.VolumeType{Name: "gold"}
		if err := db.CreateVolumeType(ctx, gold); err != nil {
			t.Fatal(err)
		}
		all := func(m map[string]Usage) map[string]Usage { // every resource, zero unless m says
			out := map[string]Usage{}
			for _, r := range []string{QuotaVolumes, QuotaGigabytes, QuotaSnapshots, QuotaBackups, QuotaBackupGigabytes,
				"volumes_gold", "gigabytes_gold", "snapshots_gold"} {
				out[r] = m[r]
			}
			return out
		}
		wantUsage(t, db, "p", all(nil)) // makes the usage rows: what follows moves them
		wantUsage(t, db, "q", all(nil))

		v := &cinder.Volume{ProjectID: "p", Size: 2, VolumeTypeID: gold.ID, UseQuota: true, Status: cinder.StatusCreating}
		if err := db.CreateVolume(ctx, v); err != nil {
			t.Fatal(err)
		}
		target := &cinder.Volume{ProjectID: "p", Size: 2, VolumeTypeID: gold.ID, MigrationStatus: cinder.MigrationTarget(v.ID)}
		if err := db.CreateVolume(ctx, target); err != nil { // use_quota false: not counted
			t.Fatal(err)
		}
		wantUsage(t, db, "p", all(map[string]Usage{QuotaVolumes: {InUse: 1}, QuotaGigabytes: {InUse: 2},
			"volumes_gold": {InUse: 1}, "gigabytes_gold": {InUse: 2}}))

		update := func(id string, fn func(v *cinder.Volume)) {
			t.Helper()
			if _, err := db.UpdateVolume(ctx, id, func(v *cinder.Volume) error { fn(v); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		update(v.ID, func(v *cinder.Volume) { v.Size, v.VolumeTypeID = 5, "" }) // extended, and retyped to no type
		wantUsage(t, db, "p", all(map[string]Usage{QuotaVolumes: {InUse: 1}, QuotaGigabytes: {InUse: 5}}))
		// A transfer reserves in the new project, and its write ends that.
		if err := db.Reserve(ctx, Reservation{Project: "q", Object: v.ID, Deltas: map[string]int{QuotaVolumes: 1, QuotaGigabytes: 5},
			Expire: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, db, "q", all(map[string]Usage{QuotaVolumes: {Reserved: 1}, QuotaGigabytes: {Reserved: 5}}))
		update(v.ID, func(v *cinder.Volume) { v.ProjectID = "q" })
		wantUsage(t, db, "p", all(nil))
		wantUsage(t, db, "q", all(map[string]Usage{QuotaVolumes: {InUse: 1}, QuotaGigabytes: {InUse: 5}}))

		s := &cinder.Snapshot{VolumeID: v.ID, ProjectID: "q", VolumeSize: 5, VolumeTypeID: gold.ID, UseQuota: true}
		b := &cinder.Backup{VolumeID: v.ID, ProjectID: "q", Size: 5}
		if err := db.CreateSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateBackup(ctx, b); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, db, "q", all(map[string]Usage{QuotaVolumes: {InUse: 1}, QuotaGigabytes: {InUse: 10}, QuotaSnapshots: {InUse: 1},
			"snapshots_gold": {InUse: 1}, "gigabytes_gold": {InUse: 5}, QuotaBackups: {InUse: 1}, QuotaBackupGigabytes: {InUse: 5}}))

		// A migration's completion swaps the rows: the volume keeps its quota.
		if _, _, err := db.UpdateVolumes(ctx, v.ID, target.ID, func(a, b *cinder.Volume) error {
			a.Host, b.Host = "new", "old"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, destroy := range []func() error{
			func() error { return db.DestroySnapshot(ctx, s.ID) },
			func() error { return db.DestroyBackup(ctx, b.ID) },
			func() error { return db.DestroyVolume(ctx, target.ID) },
			func() error { return db.DestroyVolume(ctx, v.ID) },
		} {
			if err := destroy(); err != nil {
				t.Fatal(err)
			}
		}
		wantUsage(t, db, "q", all(nil))
		if err := db.DestroyVolume(ctx, v.ID); !cinder.IsNotFound(err) {
			t.Fatalf("destroy twice: %v", err)
		}
	})
}

// TestReservationEndsWithItsChange: an extend's reservation on a volume
// holds while the volume is extending and ends in the transaction that
// writes its new size, or any status it leaves extending for.
func TestReservationEndsWithItsChange(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		v := &cinder.Volume{ProjectID: "p", Size: 1, UseQuota: true, Status: cinder.StatusAvailable}
		if err := db.CreateVolume(ctx, v); err != nil {
			t.Fatal(err)
		}
		extend := func(status string) {
			t.Helper()
			if _, err := db.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error { v.Status = cinder.StatusExtending; return nil }); err != nil {
				t.Fatal(err)
			}
			if err := db.Reserve(ctx, Reservation{Project: "p", Object: v.ID, Deltas: map[string]int{QuotaGigabytes: 2},
				Limits: map[string]int{QuotaGigabytes: 100}, Expire: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if _, err := db.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error { v.PreviousStatus = "x"; return nil }); err != nil {
				t.Fatal(err)
			}
			wantUsage(t, db, "p", map[string]Usage{QuotaGigabytes: {InUse: v.Size, Reserved: 2}})
			if _, err := db.UpdateVolume(ctx, v.ID, func(row *cinder.Volume) error {
				row.Status = status
				if status == cinder.StatusAvailable {
					row.Size += 2
				}
				v = row
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		extend(cinder.StatusAvailable)
		wantUsage(t, db, "p", map[string]Usage{QuotaGigabytes: {InUse: 3}})
		extend(cinder.StatusErrorExtend)
		wantUsage(t, db, "p", map[string]Usage{QuotaGigabytes: {InUse: 3}})
	})
}

// TestTransferEndsItsReservation: the accepting project's hold for a
// transferred volume (its snapshots' too) ends in the write that moves it,
// counted in quotas or not, and its usage moves from the donor.
func TestTransferEndsItsReservation(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		for _, counted := range []bool{true, false} {
			v := &cinder.Volume{ProjectID: "donor", Size: 2, UseQuota: counted, Status: cinder.StatusAvailable}
			if err := db.CreateVolume(ctx, v); err != nil {
				t.Fatal(err)
			}
			s := &cinder.Snapshot{VolumeID: v.ID, ProjectID: "donor", Status: cinder.SnapshotAvailable, VolumeSize: 2, UseQuota: counted}
			if err := db.CreateSnapshot(ctx, s); err != nil {
				t.Fatal(err)
			}
			tr := &cinder.Transfer{VolumeID: v.ID, Salt: "s", CryptHash: "h"}
			if err := db.CreateTransfer(ctx, tr); err != nil {
				t.Fatal(err)
			}
			if err := db.Reserve(ctx, Reservation{Project: "taker", Object: v.ID,
				Deltas: map[string]int{QuotaVolumes: 1, QuotaSnapshots: 1, QuotaGigabytes: 4},
				Limits: map[string]int{QuotaVolumes: 10, QuotaSnapshots: 10, QuotaGigabytes: 100}, Expire: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := db.AcceptTransfer(ctx, tr.ID, "u", "taker"); err != nil {
				t.Fatal(err)
			}
			n := map[bool]int{true: 1, false: 0}[counted]
			wantUsage(t, db, "taker", map[string]Usage{QuotaVolumes: {InUse: n}, QuotaSnapshots: {InUse: n}, QuotaGigabytes: {InUse: 4 * n}})
			wantUsage(t, db, "donor", map[string]Usage{QuotaVolumes: {}, QuotaSnapshots: {}, QuotaGigabytes: {}})
			if err := db.DestroySnapshot(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
			if err := db.DestroyVolume(ctx, v.ID); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestQuotaLimits sets, reads and deletes the limits of projects and
// classes, and renames a volume type's resources.
func TestQuotaLimits(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		for _, set := range []map[string]int{{QuotaVolumes: 5, "volumes_gold": 1}, {QuotaVolumes: 7, QuotaGigabytes: -1}} {
			if err := db.SetProjectQuotas(ctx, "p", set); err != nil {
				t.Fatal(err)
			}
			if err := db.SetQuotaClass(ctx, "default", set); err != nil {
				t.Fatal(err)
			}
		}
		want := map[string]int{QuotaVolumes: 7, QuotaGigabytes: -1, "volumes_gold": 1}
		if got, err := db.ProjectQuotas(ctx, "p"); !reflect.DeepEqual(got, want) || err != nil {
			t.Fatalf("ProjectQuotas = %v, %v; want %v", got, err, want)
		}
		if got, err := db.QuotaClass(ctx, "default"); !reflect.DeepEqual(got, want) || err != nil {
			t.Fatalf("QuotaClass = %v, %v; want %v", got, err, want)
		}
		if got, err := db.ProjectQuotas(ctx, "q"); len(got) != 0 || err != nil {
			t.Fatalf("ProjectQuotas of another project = %v, %v", got, err)
		}

		gold := &cinder.VolumeType{Name: "gold"}
		if err := db.CreateVolumeType(ctx, gold); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateVolume(ctx, &cinder.Volume{ProjectID: "p", Size: 1, UseQuota: true, VolumeTypeID: gold.ID}); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, db, "p", map[string]Usage{"volumes_gold": {InUse: 1}})
		if _, err := db.UpdateVolumeType(ctx, gold.ID, func(t *cinder.VolumeType) error { t.Name = "silver"; return nil }); err != nil {
			t.Fatal(err)
		}
		if err := db.RenameQuotaType(ctx, "gold", "silver"); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.ProjectQuotas(ctx, "p"); got["volumes_silver"] != 1 || got["volumes_gold"] != 0 {
			t.Fatalf("limits after the rename: %v", got)
		}
		wantUsage(t, db, "p", map[string]Usage{"volumes_silver": {InUse: 1}, "volumes_gold": {}})

		if err := db.DeleteProjectQuotas(ctx, "p"); err != nil {
			t.Fatal(err)
		}
		if got, err := db.ProjectQuotas(ctx, "p"); len(got) != 0 || err != nil {
			t.Fatalf("ProjectQuotas after delete = %v, %v", got, err)
		}
	})
}
