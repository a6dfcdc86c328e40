package db

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
)

// TestImageAndAdminMetadata: a volume's image and admin metadata and a
// snapshot's image metadata are written and read back, and an update
// keeps them.
func TestImageAndAdminMetadata(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		v := &cinder.Volume{Size: 1, GlanceMetadata: map[string]string{"image_name": "cirros", "q": `"x"`},
			AdminMetadata: map[string]string{"readonly": "True"}}
		createVolumes(t, db, v, &cinder.Volume{Size: 1})
		got, err := db.GetVolume(ctx, v.ID)
		if err != nil || !reflect.DeepEqual(got.GlanceMetadata, v.GlanceMetadata) || !reflect.DeepEqual(got.AdminMetadata, v.AdminMetadata) {
			t.Fatalf("read back %+v, %v", got, err)
		}
		got, err = db.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
			v.AdminMetadata["attached_mode"] = "rw"
			return nil
		})
		if err != nil || got.AdminMetadata["attached_mode"] != "rw" || got.GlanceMetadata["image_name"] != "cirros" {
			t.Fatalf("after update %+v, %v", got, err)
		}

		s := &cinder.Snapshot{VolumeID: v.ID, GlanceMetadata: v.GlanceMetadata}
		if err := db.CreateSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
		bare := &cinder.Snapshot{VolumeID: v.ID}
		if err := db.CreateSnapshot(ctx, bare); err != nil {
			t.Fatal(err)
		}
		for _, want := range []*cinder.Snapshot{s, bare} {
			got, err := db.GetSnapshot(ctx, want.ID)
			if err != nil || !reflect.DeepEqual(got.GlanceMetadata, want.GlanceMetadata) || got.GlanceMetadata == nil {
				t.Fatalf("snapshot read back %+v, %v; want image metadata %v", got, err, want.GlanceMetadata)
			}
		}
	})
}

// TestListVolumesFilters: Cinder's list filters, exact on any column,
// like, time comparisons and the metadata ones, select in SQL; one Cinder
// cannot apply selects no volume.
func TestListVolumesFilters(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		createVolumes(t, db,
			&cinder.Volume{ID: "a", DisplayName: "web-1", Size: 1, AvailabilityZone: "nova", Bootable: true, CreatedAt: t0,
				Metadata: map[string]string{"tier": "web"}, GlanceMetadata: map[string]string{"os": "linux"}},
			&cinder.Volume{ID: "b", DisplayName: "web-2", Size: 2, AvailabilityZone: "az2", CreatedAt: t0.Add(time.Hour),
				Metadata: map[string]string{"tier": "web", "k": "v"}, AdminMetadata: map[string]string{"readonly": "True"}},
			&cinder.Volume{ID: "c", DisplayName: "db", DisplayDescription: "the database", Size: 2, AvailabilityZone: "nova",
				CreatedAt: t0.Add(2 * time.Hour), Metadata: map[string]string{"tier": "db"}},
		)
		if _, err := db.UpdateVolume(ctx, "c", func(v *cinder.Volume) error { return nil }); err != nil {
			t.Fatal(err)
		}
		created := func(op string, t time.Time) TimeFilter { return TimeFilter{"created_at", op, t} }
		for _, c := range []struct {
			name string
			f    VolumeFilter
			want []string
		}{
			{"text column", VolumeFilter{Match: Match{Fields: map[string]string{"availability_zone": "nova"}}}, []string{"a", "c"}},
			{"integer column", VolumeFilter{Match: Match{Fields: map[string]string{"size": "2"}}}, []string{"b", "c"}},
			{"boolean column", VolumeFilter{Match: Match{Fields: map[string]string{"bootable": "false"}}}, []string{"b", "c"}},
			{"two columns", VolumeFilter{Match: Match{Fields: map[string]string{"size": "2", "display_name": "db"}}}, []string{"c"}},
			{"no such column", VolumeFilter{Match: Match{Fields: map[string]string{"group_id": "g"}}}, nil},
			{"a map column is no filter", VolumeFilter{Match: Match{Fields: map[string]string{"metadata": "{}"}}}, nil},
			{"not an integer", VolumeFilter{Match: Match{Fields: map[string]string{"size": "two"}}}, nil},
			{"like", VolumeFilter{Match: Match{Like: map[string]string{"display_name": "web"}}}, []string{"a", "b"}},
			{"like description", VolumeFilter{Match: Match{Like: map[string]string{"display_description": "data"}}}, []string{"c"}},
			{"like on no text", VolumeFilter{Match: Match{Like: map[string]string{"size": "1"}}}, nil},
			{"after", VolumeFilter{Match: Match{Times: []TimeFilter{created("gt", t0)}}}, []string{"b", "c"}},
			{"at or before", VolumeFilter{Match: Match{Times: []TimeFilter{created("lte", t0.Add(time.Hour))}}}, []string{"a", "b"}},
			{"either comparison, as Cinder ORs them", VolumeFilter{Match: Match{Times: []TimeFilter{created("lt", t0.Add(time.Minute)), created("gte", t0.Add(2*time.Hour))}}}, []string{"a", "c"}},
			{"not equal", VolumeFilter{Match: Match{Times: []TimeFilter{created("neq", t0)}}}, []string{"b", "c"}},
			{"updated_at is null until an update", VolumeFilter{Match: Match{Times: []TimeFilter{{"updated_at", "gt", t0}}}}, []string{"c"}},
			{"both columns", VolumeFilter{Match: Match{Times: []TimeFilter{created("gt", t0), {"updated_at", "gt", t0}}}}, []string{"c"}},
			{"no such time column", VolumeFilter{Match: Match{Times: []TimeFilter{{"deleted_at", "gt", t0}}}}, nil},
			{"metadata pair", VolumeFilter{Match: Match{Metadata: map[string]string{"tier": "web"}}}, []string{"a", "b"}},
			{"metadata pairs", VolumeFilter{Match: Match{Metadata: map[string]string{"tier": "web", "k": "v"}}}, []string{"b"}},
			{"admin metadata matches as metadata", VolumeFilter{Match: Match{Metadata: map[string]string{"readonly": "True"}}}, []string{"b"}},
			{"image metadata", VolumeFilter{GlanceMetadata: map[string]string{"os": "linux"}}, []string{"a"}},
			{"image metadata is not metadata", VolumeFilter{Match: Match{Metadata: map[string]string{"os": "linux"}}}, nil},
			{"nothing", VolumeFilter{Match: Match{Nothing: true}}, nil},
		} {
			got, err := db.ListVolumes(ctx, c.f)
			if err != nil || !slices.Equal(ids(got), c.want) {
				t.Errorf("%s: ListVolumes(%+v) = %v, %v; want %v", c.name, c.f, ids(got), err, c.want)
			}
			if n, err := db.CountVolumes(ctx, c.f); err != nil || n != len(c.want) {
				t.Errorf("%s: CountVolumes = %d, %v; want %d", c.name, n, err, len(c.want))
			}
		}
	})
}

// TestSummarizeVolumes: the count, GiB and distinct metadata values of a
// project's volumes, deleted ones aside, or of every project's.
func TestSummarizeVolumes(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		createVolumes(t, db,
			&cinder.Volume{ID: "a", ProjectID: "p1", Size: 1, Metadata: map[string]string{"tier": "web", "k": "v"}},
			&cinder.Volume{ID: "b", ProjectID: "p1", Size: 2, Metadata: map[string]string{"tier": "db"}},
			&cinder.Volume{ID: "c", ProjectID: "p1", Size: 4, Metadata: map[string]string{"tier": "web"}},
			&cinder.Volume{ID: "d", ProjectID: "p1", Size: 8, Metadata: map[string]string{"gone": "yes"}},
			&cinder.Volume{ID: "e", ProjectID: "p2", Size: 16, Metadata: map[string]string{"tier": "cache"}},
		)
		if err := db.DestroyVolume(ctx, "d"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			project string
			want    VolumeSummary
		}{
			{"p1", VolumeSummary{Count: 3, Size: 7, Metadata: map[string][]string{"tier": {"db", "web"}, "k": {"v"}}}},
			{"", VolumeSummary{Count: 4, Size: 23, Metadata: map[string][]string{"tier": {"cache", "db", "web"}, "k": {"v"}}}},
			{"none", VolumeSummary{Metadata: map[string][]string{}}},
		} {
			got, err := db.SummarizeVolumes(ctx, VolumeFilter{ProjectID: c.project})
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("SummarizeVolumes(%q) = %+v, %v; want %+v", c.project, got, err, c.want)
			}
		}
	})
}
