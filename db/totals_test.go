package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
)

// wantTotals fails t unless the summary and counts of project ("" every
// project) from its totals equal those counted from its volume rows.
func wantTotals(t *testing.T, db *DB, project string) {
	t.Helper()
	ctx := context.Background()
	vols, err := db.ListVolumes(ctx, VolumeFilter{ProjectID: project})
	if err != nil {
		t.Fatal(err)
	}
	want := VolumeSummary{Count: len(vols), Metadata: map[string][]string{}}
	targets := 0
	for _, v := range vols {
		want.Size += v.Size
		if cinder.IsMigrationTarget(v.MigrationStatus) {
			targets++
		}
		for k, val := range v.Metadata {
			if !slices.Contains(want.Metadata[k], val) {
				want.Metadata[k] = append(want.Metadata[k], val)
			}
		}
	}
	for _, vs := range want.Metadata {
		slices.Sort(vs)
	}
	got, err := db.SummarizeVolumes(ctx, VolumeFilter{ProjectID: project})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("summary of %q = %+v, %v; its rows say %+v", project, got, err, want)
	}
	for hide, n := range map[bool]int{false: len(vols), true: len(vols) - targets} {
		got, err := db.CountVolumes(ctx, VolumeFilter{ProjectID: project, HideTargets: hide})
		if err != nil || got != n {
			t.Errorf("count of %q (targets hidden: %v) = %d, %v; its rows say %d", project, hide, got, err, n)
		}
	}
}

// TestVolumeTotalsFollowRows races creates, deletes, extends, retypes,
// transfers, metadata changes and migrations of volumes in three projects,
// through two connections as two processes would, while the totals of one
// project are made before the race, those of another and of every project
// during it, and the third has its first volumes in the race: at the end
// each total equals a count of the rows.
func TestVolumeTotalsFollowRows(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		dbs := []*DB{synced(t, url), open(t, url)}
		gold := &cinder.VolumeType{Name: "gold"}
		if err := dbs[0].CreateVolumeType(ctx, gold); err != nil {
			t.Fatal(err)
		}
		projects := []string{"p1", "p2", "p3"}
		tiers := []string{"gold", "silver", "bronze"}
		var mu sync.Mutex
		var live []string
		create := func(db *DB, r *rand.Rand, among int) error {
			v := &cinder.Volume{ProjectID: projects[r.IntN(among)], Size: 1 + r.IntN(5), UseQuota: true,
				Metadata: map[string]string{"tier": tiers[r.IntN(3)], "n": fmt.Sprint(r.IntN(4))}}
			if err := db.CreateVolume(ctx, v); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			live = append(live, v.ID)
			return nil
		}
		r := rand.New(rand.NewPCG(1, 2))
		for range 20 {
			if err := create(dbs[0], r, 2); err != nil {
				t.Fatal(err)
			}
		}
		wantTotals(t, dbs[0], "p1") // made now; p2's and every project's in the race

		changes := []func(v *cinder.Volume, r *rand.Rand){
			func(v *cinder.Volume, r *rand.Rand) { v.Size++ },
			func(v *cinder.Volume, r *rand.Rand) { v.VolumeTypeID = []string{"", gold.ID}[r.IntN(2)] },
			func(v *cinder.Volume, r *rand.Rand) { v.ProjectID = projects[r.IntN(3)] },
			func(v *cinder.Volume, r *rand.Rand) { v.Metadata = map[string]string{"tier": tiers[r.IntN(3)]} },
			func(v *cinder.Volume, r *rand.Rand) { delete(v.Metadata, "tier") },
			func(v *cinder.Volume, r *rand.Rand) {
				v.MigrationStatus = []string{"", cinder.MigrationTarget(v.ID)}[r.IntN(2)]
				v.UseQuota = v.MigrationStatus == ""
			},
		}
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				db, r := dbs[w%2], rand.New(rand.NewPCG(uint64(w), 7))
				for range 25 {
					mu.Lock()
					id := live[r.IntN(len(live))]
					mu.Unlock()
					var err error
					switch op := r.IntN(10); {
					case op < 3:
						err = create(db, r, 3)
					case op < 4:
						err = db.DestroyVolume(ctx, id)
					default:
						change := changes[r.IntN(len(changes))]
						_, err = db.UpdateVolume(ctx, id, func(v *cinder.Volume) error { change(v, r); return nil })
					}
					if err != nil && !cinder.IsNotFound(err) { // a volume another worker destroyed
						t.Errorf("worker %d: %v", w, err)
					}
				}
			})
		}
		wg.Go(func() {
			for _, p := range []string{"p2", allProjects} {
				if _, err := dbs[1].SummarizeVolumes(ctx, VolumeFilter{ProjectID: p}); err != nil {
					t.Errorf("summary of %q: %v", p, err)
				}
			}
		})
		wg.Wait()
		for _, p := range []string{allProjects, "p1", "p2", "p3"} {
			wantTotals(t, dbs[0], p)
		}
	})
}

// TestVolumeTotalsFollowInPlaceChanges: an update (of one volume or of
// two) that deletes a metadata key from the volume's map in place, as the
// metadata API's delete does, takes its pair out of the totals: the
// before they move from must not share the map.
func TestVolumeTotalsFollowInPlaceChanges(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		v := &cinder.Volume{ProjectID: "p1", Size: 1, Metadata: map[string]string{"k": "v", "keep": "x"}}
		if err := db.CreateVolume(ctx, v); err != nil {
			t.Fatal(err)
		}
		wantTotals(t, db, "p1")
		if _, err := db.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error { delete(v.Metadata, "k"); return nil }); err != nil {
			t.Fatal(err)
		}
		wantTotals(t, db, "p1")
		w := &cinder.Volume{ProjectID: "p1", Size: 1}
		if err := db.CreateVolume(ctx, w); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.UpdateVolumes(ctx, v.ID, w.ID, func(a, _ *cinder.Volume) error { delete(a.Metadata, "keep"); return nil }); err != nil {
			t.Fatal(err)
		}
		wantTotals(t, db, allProjects)
	})
}

// TestVolumeTotalsRollBack: a volume's write that does not commit, as one
// a crash cuts short, leaves its project's totals as they were.
func TestVolumeTotalsRollBack(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		v := &cinder.Volume{ProjectID: "p", Size: 3, Metadata: map[string]string{"k": "v"}, AdminMetadata: map[string]string{},
			GlanceMetadata: map[string]string{}, CreatedAt: now()}
		if err := db.CreateVolume(ctx, v); err != nil {
			t.Fatal(err)
		}
		wantTotals(t, db, "p")
		crash := errors.New("crash")
		w := *v
		w.ID, w.Size, w.Metadata = "second", 5, map[string]string{"k": "w"}
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, db.dialect.rebind(insertSQL("volumes", volumeColumns)), volumeValues(&w)...); err != nil {
				return err
			}
			if err := db.followVolume(ctx, tx, nil, &w); err != nil {
				return err
			}
			return crash
		})
		if !errors.Is(err, crash) {
			t.Fatalf("write: %v", err)
		}
		wantTotals(t, db, "p")
		if got, err := db.SummarizeVolumes(ctx, VolumeFilter{ProjectID: "p"}); err != nil || got.Count != 1 || got.Size != 3 ||
			!maps.EqualFunc(got.Metadata, map[string][]string{"k": {"v"}}, slices.Equal) {
			t.Fatalf("summary %+v, %v; want the one volume", got, err)
		}
	})
}

// TestEveryProjectTotalsWaitForANewProject: every project's totals, made
// while the write of a project's first volume is under way, count that
// volume once it commits. On PostgreSQL the write holds the marker's lock,
// shared, which making them takes exclusive: the test commits the write
// once the maker waits for it. SQLite's one writer orders them anyway.
func TestEveryProjectTotalsWaitForANewProject(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		if err := db.CreateVolume(ctx, &cinder.Volume{ProjectID: "p1", Size: 1}); err != nil {
			t.Fatal(err)
		}
		w := cinder.Volume{ID: "first-of-p9", ProjectID: "p9", Size: 2, Metadata: map[string]string{"k": "v"},
			AdminMetadata: map[string]string{}, GlanceMetadata: map[string]string{}, CreatedAt: now()}
		made := make(chan error, 1)
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, db.dialect.rebind(insertSQL("volumes", volumeColumns)), volumeValues(&w)...); err != nil {
				return err
			}
			if err := db.followVolume(ctx, tx, nil, &w); err != nil {
				return err
			}
			go func() {
				_, err := db.SummarizeVolumes(ctx, VolumeFilter{})
				made <- err
			}()
			if db.dialect != postgresDialect {
				return nil
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				var waiting int
				if err := db.sql.QueryRowContext(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").
					Scan(&waiting); err != nil || waiting > 0 {
					return err
				}
				if time.Now().After(deadline) {
					return errors.New("making every project's totals never waited for the write")
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := <-made; err != nil {
			t.Fatal(err)
		}
		wantTotals(t, db, allProjects)
	})
}
