package db

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
)

func TestVolumeRoundTrip(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		paris := time.FixedZone("CET", 3600)
		updated := time.Date(2024, 5, 6, 7, 8, 9, 123456789, paris)
		deletedAt := updated.Add(time.Hour)
		in := &cinder.Volume{
			ID: "6f1a5e2c-0000-4000-8000-000000000001", NameID: "6f1a5e2c-0000-4000-8000-000000000002",
			UserID: "user", ProjectID: "project", Size: 10, AvailabilityZone: "nova",
			Status: cinder.StatusAvailable, PreviousStatus: cinder.StatusCreating,
			AttachStatus: "detached", MigrationStatus: cinder.MigrationSuccess,
			Host: "node1@lvm#pool", ClusterName: "cluster@lvm", ServiceUUID: "svc-uuid",
			DisplayName: "vol", DisplayDescription: "a volume", VolumeTypeID: "type-id",
			Metadata:         map[string]string{"k": "v", "quote": `"x"`, "unicode": "é"},
			ProviderLocation: "/var/lib/cinder/volume-x", SnapshotID: "snap", SourceVolID: "src",
			Bootable: true, Multiattach: true, UseQuota: true, ReplicationStatus: "disabled",
			CreatedAt: time.Date(2024, 5, 6, 7, 8, 9, 987654321, paris),
			UpdatedAt: &updated, DeletedAt: &deletedAt,
		}
		if err := db.CreateVolume(ctx, in); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetVolume(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, in) {
			t.Fatalf("read back\n%+v\nwrote\n%+v", got, in)
		}
		if want := time.Date(2024, 5, 6, 6, 8, 9, 987654000, time.UTC); got.CreatedAt != want {
			t.Fatalf("created_at = %v, want %v (UTC, microseconds)", got.CreatedAt, want)
		}

		bare := &cinder.Volume{Size: 1}
		before := time.Now().Add(-time.Second)
		if err := db.CreateVolume(ctx, bare); err != nil {
			t.Fatal(err)
		}
		got, err = db.GetVolume(ctx, bare.ID)
		if err != nil || bare.ID == "" || got.CreatedAt.Before(before) || got.Metadata == nil || got.UpdatedAt != nil {
			t.Fatalf("volume with defaults read back as %+v, %v", got, err)
		}
		wantCode(t, db.CreateVolume(ctx, &cinder.Volume{ID: in.ID}), 409, "Duplicate")
		_, err = db.GetVolume(ctx, "missing")
		wantCode(t, err, 404, "VolumeNotFound")
	})
}

// createVolumes inserts vs, failing t on error.
func createVolumes(t *testing.T, db *DB, vs ...*cinder.Volume) {
	t.Helper()
	for _, v := range vs {
		if err := db.CreateVolume(context.Background(), v); err != nil {
			t.Fatal(err)
		}
	}
}

// ids returns the IDs of vs.
func ids(vs []*cinder.Volume) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

func TestListVolumes(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
		createVolumes(t, db,
			&cinder.Volume{ID: "a", ProjectID: "p1", Host: "h@lvm#p1", Status: "available", Size: 3, DisplayName: "x", CreatedAt: at(1)},
			&cinder.Volume{ID: "b", ProjectID: "p1", Host: "h@lvm", Status: "in-use", Size: 1, DisplayName: "y", VolumeTypeID: "t1", CreatedAt: at(2)},
			&cinder.Volume{ID: "c", ProjectID: "p2", Host: "h@lvm2#p1", Status: "available", Size: 2, DisplayName: "x", CreatedAt: at(3)},
			&cinder.Volume{ID: "d", ProjectID: "p1", Host: "h@lvm#p2", Status: "error", Size: 3, CreatedAt: at(3), MigrationStatus: cinder.MigrationTarget("a")},
			&cinder.Volume{ID: "e", ProjectID: "p1", Host: "h_lvm#p1", Status: "available", Size: 5, CreatedAt: at(5)},
			&cinder.Volume{ID: "f", ProjectID: "p1", Host: "h@lvm#p1", Status: "available", Size: 9, CreatedAt: at(6)},
		)
		if err := db.DestroyVolume(ctx, "f"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			f    VolumeFilter
			want []string
		}{
			{"all, created_at descending then id", VolumeFilter{SortDescending: true}, []string{"e", "d", "c", "b", "a"}},
			{"created_at ascending", VolumeFilter{}, []string{"a", "b", "c", "d", "e"}},
			{"project", VolumeFilter{ProjectID: "p2"}, []string{"c"}},
			{"backend, any pool", VolumeFilter{Host: "h@lvm"}, []string{"a", "b", "d"}},
			{"backend with _ is not a pattern", VolumeFilter{Host: "h_lvm"}, []string{"e"}},
			{"statuses", VolumeFilter{Statuses: []string{"in-use", "error"}}, []string{"b", "d"}},
			{"hide migration targets", VolumeFilter{HideTargets: true, Host: "h@lvm"}, []string{"a", "b"}},
			{"migration statuses, a prefix", VolumeFilter{Migrations: []string{"migrating", "target:"}}, []string{"d"}},
			{"migration status, exact", VolumeFilter{Migrations: []string{cinder.MigrationTarget("b")}}, nil},
			{"name", VolumeFilter{Name: "x"}, []string{"a", "c"}},
			{"volume type", VolumeFilter{VolumeTypeID: "t1"}, []string{"b"}},
			{"size then id descending", VolumeFilter{SortKey: "size", SortDescending: true}, []string{"e", "d", "a", "c", "b"}},
			{"display_name", VolumeFilter{SortKey: "display_name"}, []string{"d", "e", "a", "c", "b"}},
			{"limit", VolumeFilter{Limit: 2, SortKey: "id"}, []string{"a", "b"}},
			{"marker", VolumeFilter{Marker: "a", SortKey: "size", SortDescending: true}, []string{"c", "b"}},
			{"marker with equal sort values", VolumeFilter{Marker: "c", SortKey: "created_at"}, []string{"d", "e"}},
			{"marker and limit", VolumeFilter{Marker: "b", Limit: 2}, []string{"c", "d"}},
		} {
			got, err := db.ListVolumes(ctx, c.f)
			if err != nil || !slices.Equal(ids(got), c.want) {
				t.Errorf("%s: ListVolumes(%+v) = %v, %v; want %v", c.name, c.f, ids(got), err, c.want)
			}
			c.f.Marker, c.f.Limit = "", 0
			all, _ := db.ListVolumes(ctx, c.f)
			if n, err := db.CountVolumes(ctx, c.f); err != nil || n != len(all) {
				t.Errorf("%s: CountVolumes = %d, %v; want %d", c.name, n, err, len(all))
			}
		}

		// Paging with marker and limit walks the whole list once.
		var paged []string
		f := VolumeFilter{SortKey: "updated_at", SortDescending: true, Limit: 2}
		for {
			page, err := db.ListVolumes(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, ids(page)...)
			f.Marker = page[len(page)-1].ID
		}
		if !slices.Equal(paged, []string{"e", "d", "c", "b", "a"}) {
			t.Errorf("paging by updated_at = %v", paged)
		}

		// A marker that is no volume is not found, as Cinder's get of it.
		_, err := db.ListVolumes(ctx, VolumeFilter{Marker: "nope"})
		wantCode(t, err, 404, "VolumeNotFound")
		_, err = db.ListVolumes(ctx, VolumeFilter{Marker: "f"})
		wantCode(t, err, 404, "VolumeNotFound")
		first, _ := db.ListVolumes(ctx, VolumeFilter{SortKey: "display_name", Limit: 3})
		if page, err := db.ListVolumes(ctx, VolumeFilter{SortKey: "display_name", Offset: 1, Limit: 2}); err != nil ||
			len(page) != 2 || len(first) != 3 || page[0].ID != first[1].ID || page[1].ID != first[2].ID {
			t.Errorf("offset 1 limit 2: %v, %v; want the 2nd and 3rd of %v", page, err, first)
		}
		_, err = db.ListVolumes(ctx, VolumeFilter{SortKey: "size; DROP TABLE volumes"})
		wantCode(t, err, 400, "InvalidInput")
		_, err = db.ListVolumes(ctx, VolumeFilter{Limit: -1})
		wantCode(t, err, 400, "InvalidInput")
	})
}

func TestUpdateVolume(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		v := &cinder.Volume{Status: cinder.StatusCreating, Size: 1, Metadata: map[string]string{"a": "1"}}
		createVolumes(t, db, v)

		written, err := db.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
			v.Status = cinder.StatusAvailable
			v.Metadata["b"] = "2"
			v.Host = "h@lvm#p"
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if written.UpdatedAt == nil || written.Status != cinder.StatusAvailable {
			t.Fatalf("UpdateVolume returned %+v", written)
		}
		got, err := db.GetVolume(ctx, v.ID)
		if err != nil || !reflect.DeepEqual(got, written) {
			t.Fatalf("read back %+v, %v; UpdateVolume returned %+v", got, err, written)
		}

		refused := cinder.InvalidVolume("status must be in-use")
		_, err = db.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
			v.Status = cinder.StatusDeleting // changed, then refused: must not be written
			if v.Status != cinder.StatusInUse {
				return refused
			}
			return nil
		})
		if err != refused {
			t.Fatalf("UpdateVolume returned %v, want fn's error unchanged", err)
		}
		if after, err := db.GetVolume(ctx, v.ID); err != nil || !reflect.DeepEqual(after, got) {
			t.Fatalf("after a refused update the volume is %+v, %v; want unchanged %+v", after, err, got)
		}

		_, err = db.UpdateVolume(ctx, "missing", func(*cinder.Volume) error { return nil })
		wantCode(t, err, 404, "VolumeNotFound")
	})
}

// TestUpdateVolumes writes two rows in one transaction, or neither, and
// stays consistent when two handles update the same pair in both orders.
func TestUpdateVolumes(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		dbs := []*DB{synced(t, url), open(t, url)}
		a := &cinder.Volume{Status: cinder.StatusAvailable, Host: "h@a#p"}
		b := &cinder.Volume{Status: cinder.StatusAvailable, Host: "h@b#p"}
		createVolumes(t, dbs[0], a, b)

		wa, wb, err := dbs[0].UpdateVolumes(ctx, a.ID, b.ID, func(va, vb *cinder.Volume) error {
			va.Host, vb.Host = vb.Host, va.Host
			return nil
		})
		if err != nil || wa.ID != a.ID || wa.Host != "h@b#p" || wb.ID != b.ID || wb.Host != "h@a#p" {
			t.Fatalf("UpdateVolumes returned %+v, %+v, %v; want the hosts swapped", wa, wb, err)
		}
		for _, want := range []*cinder.Volume{wa, wb} {
			if got, err := dbs[1].GetVolume(ctx, want.ID); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("read back %+v, %v; UpdateVolumes returned %+v", got, err, want)
			}
		}

		refused := cinder.InvalidVolume("refused")
		_, _, err = dbs[0].UpdateVolumes(ctx, a.ID, b.ID, func(va, vb *cinder.Volume) error {
			va.Status, vb.Status = cinder.StatusDeleting, cinder.StatusDeleting
			return refused
		})
		if err != refused {
			t.Fatalf("UpdateVolumes returned %v, want fn's error unchanged", err)
		}
		_, _, err = dbs[0].UpdateVolumes(ctx, a.ID, "missing", func(va, _ *cinder.Volume) error {
			va.Status = cinder.StatusDeleting
			return nil
		})
		wantCode(t, err, 404, "VolumeNotFound")
		_, _, err = dbs[0].UpdateVolumes(ctx, a.ID, a.ID, func(*cinder.Volume, *cinder.Volume) error { return nil })
		wantCode(t, err, 400, "InvalidInput")
		for _, want := range []*cinder.Volume{wa, wb} {
			if got, err := dbs[0].GetVolume(ctx, want.ID); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("after refused updates %+v, %v; want unchanged %+v", got, err, want)
			}
		}

		const n = 10 // each handle moves one GiB from one volume to the other n times, in opposite orders
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i, pair := range [][2]string{{a.ID, b.ID}, {b.ID, a.ID}} {
			wg.Go(func() {
				for range n {
					_, _, err := dbs[i].UpdateVolumes(ctx, pair[0], pair[1], func(from, to *cinder.Volume) error {
						from.Size--
						to.Size++
						return nil
					})
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent UpdateVolumes: %v", err)
			}
		}
		ga, _ := dbs[0].GetVolume(ctx, a.ID)
		gb, _ := dbs[0].GetVolume(ctx, b.ID)
		if ga.Size != 0 || gb.Size != 0 {
			t.Fatalf("sizes after equal moves both ways: %d and %d, want 0 and 0", ga.Size, gb.Size)
		}
	})
}

func TestConcurrentConditionalUpdate(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		dbs := []*DB{synced(t, url), open(t, url)} // two handles, as two processes
		v := &cinder.Volume{Status: cinder.StatusAvailable}
		createVolumes(t, dbs[0], v)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = dbs[i%2].UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
					if v.Status != cinder.StatusAvailable {
						return cinder.InvalidVolume("volume status must be available, not %s", v.Status)
					}
					v.Status = cinder.StatusDeleting
					v.Metadata["winner"] = fmt.Sprint(i)
					return nil
				})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			var ce *cinder.Error
			switch {
			case err == nil:
				won++
			case !errors.As(err, &ce) || ce.Class != "InvalidVolume":
				t.Fatalf("UpdateVolume: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d concurrent conditional updates succeeded, want exactly 1 (errors %v)", won, errs)
		}
		if got, err := dbs[1].GetVolume(ctx, v.ID); err != nil || got.Status != cinder.StatusDeleting || len(got.Metadata) != 1 {
			t.Fatalf("volume after the race: %+v, %v", got, err)
		}
	})
}

func TestDestroyVolume(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		v := &cinder.Volume{Status: cinder.StatusDeleting, MigrationStatus: cinder.MigrationDeleting}
		createVolumes(t, db, v)
		if err := db.DestroyVolume(ctx, v.ID); err != nil {
			t.Fatal(err)
		}
		_, err := db.GetVolume(ctx, v.ID)
		wantCode(t, err, 404, "VolumeNotFound")
		wantCode(t, db.DestroyVolume(ctx, v.ID), 404, "VolumeNotFound")

		row, err := scanVolume(db.sql.QueryRowContext(ctx, db.dialect.rebind(selectVolumes+" WHERE id = ?"), v.ID))
		if err != nil {
			t.Fatal(err)
		}
		if !row.Deleted || row.Status != cinder.StatusDeleted || row.DeletedAt == nil || row.MigrationStatus != "" {
			t.Fatalf("destroyed row: %+v", row)
		}
	})
}

func TestAllocatedCapacity(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		createVolumes(t, db,
			&cinder.Volume{Host: "h@lvm#a", Size: 1},
			&cinder.Volume{Host: "h@lvm#a", Size: 2},
			&cinder.Volume{Host: "h@lvm#b", Size: 5},
			&cinder.Volume{Host: "h@lvm", Size: 3},
			&cinder.Volume{Host: "h@lvm2#a", Size: 7},
			&cinder.Volume{Host: "", Size: 11},
		)
		gone := &cinder.Volume{Host: "h@lvm#a", Size: 100}
		createVolumes(t, db, gone)
		if err := db.DestroyVolume(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		got, err := db.AllocatedCapacity(ctx, "h@lvm#a", "h@lvm#b", "h@lvm#c", "h@lvm")
		want := map[string]int{"h@lvm#a": 3, "h@lvm#b": 5, "h@lvm": 3}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("AllocatedCapacity = %v, %v; want %v", got, err, want)
		}
	})
}

// TestCachedStatements lists through more query shapes than the statement
// cache holds (SQLite's; pgx keeps PostgreSQL's), and sees another
// handle's writes through a cached statement: statements are cached,
// results never.
func TestCachedStatements(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		a, b := synced(t, url), open(t, url)
		createVolumes(t, a, &cinder.Volume{Size: 1, Status: cinder.StatusAvailable})
		statuses := []string{cinder.StatusAvailable}
		for n := 1; n <= maxStmts+8; n++ { // a query of its own for each length of the IN list
			got, err := a.ListVolumes(ctx, VolumeFilter{Statuses: statuses})
			if err != nil || len(got) != 1 {
				t.Fatalf("list with %d statuses: %d volumes, %v; want 1", n, len(got), err)
			}
			statuses = append(statuses, fmt.Sprintf("status-%d", n))
		}
		// PostgreSQL's lists use pgx's statement cache, one per connection.
		if n := len(a.stmts.m); n != maxStmts && !a.dialect.pgx {
			t.Fatalf("%d statements cached, want the cap %d", n, maxStmts)
		}
		createVolumes(t, b, &cinder.Volume{Size: 1, Status: cinder.StatusAvailable})
		got, err := a.ListVolumes(ctx, VolumeFilter{Statuses: []string{cinder.StatusAvailable}})
		if err != nil || len(got) != 2 {
			t.Fatalf("after the other handle's create: %d volumes, %v; want 2", len(got), err)
		}
	})
}

func TestListVolumesByMetadata(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		var ids []string
		for _, md := range []map[string]string{{"a": "1", "b": "2"}, {"a": "1"}, {"a": "12"}, {"x": `"a":"1"`}, nil} {
			v := &cinder.Volume{ProjectID: "p", Size: 1, Metadata: md}
			if err := db.CreateVolume(ctx, v); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, v.ID)
		}
		for _, c := range []struct {
			md   map[string]string
			want []string
		}{
			{map[string]string{"a": "1"}, ids[:2]},
			{map[string]string{"a": "1", "b": "2"}, ids[:1]},
			{map[string]string{"b": "2", "a": "12"}, nil},
			{map[string]string{"x": `"a":"1"`}, ids[3:4]},
		} {
			vols, err := db.ListVolumes(ctx, VolumeFilter{Match: Match{Metadata: c.md}, SortKey: "id"})
			var got []string
			for _, v := range vols {
				got = append(got, v.ID)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(c.want))
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("metadata %v: %v, %v; want %v", c.md, got, err, want)
			}
		}
	})
}
