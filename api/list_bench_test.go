package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/internal/testdb"
	"github.com/cinder-go/cinder/volume"
)

// BenchmarkVolumesDetail serves GET /v3/{project}/volumes/detail over 100
// volumes on SQLite and on PostgreSQL, without the network.
func BenchmarkVolumesDetail(b *testing.B) {
	for _, d := range []struct {
		name string
		open func(testing.TB) *db.DB
	}{{"sqlite", testdb.SQLite}, {"postgresql", testdb.Postgres}} {
		b.Run("db="+d.name, func(b *testing.B) {
			h, _ := listHandler(b, d.open(b), 100)
			serveBench(b, h, "/v3/admin/volumes/detail")
		})
	}
}

// BenchmarkVolumesPage serves a page of 100 volumes, first, after a marker
// deep in the walk and with its count, and the volume summary, of a project
// of 100 and of 10,000: none should cost more with the project (make bench
// case P goes to 100,000).
func BenchmarkVolumesPage(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		h, ids := listHandler(b, testdb.SQLite(b), n)
		b.Run(fmt.Sprintf("volumes=%d/first", n), func(b *testing.B) {
			serveBench(b, h, "/v3/admin/volumes/detail?limit=100")
		})
		b.Run(fmt.Sprintf("volumes=%d/marker", n), func(b *testing.B) {
			serveBench(b, h, "/v3/admin/volumes/detail?limit=100&marker="+ids[max(0, n-101)])
		})
		b.Run(fmt.Sprintf("volumes=%d/with_count", n), func(b *testing.B) {
			serveBench(b, h, "/v3/admin/volumes/detail?limit=100&with_count=true")
		})
		b.Run(fmt.Sprintf("volumes=%d/summary", n), func(b *testing.B) {
			serveBench(b, h, "/v3/admin/volumes/summary")
		})
	}
}

// listHandler is an API over store, given n available volumes of project
// admin, and their ids in list order (newest first).
func listHandler(b *testing.B, store *db.DB, n int) (http.Handler, []string) {
	b.Helper()
	ctx := context.Background()
	vt, err := store.GetVolumeTypeByName(ctx, cinder.DefaultVolumeType)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		v := &cinder.Volume{ProjectID: "admin", UserID: "admin", Size: 1, Status: cinder.StatusAvailable,
			DisplayName: fmt.Sprintf("vol-%d", i), Host: "hostA@thin#thin", AvailabilityZone: "nova",
			AttachStatus: "detached", VolumeTypeID: vt.ID}
		if err := store.CreateVolume(ctx, v); err != nil {
			b.Fatal(err)
		}
	}
	vols, err := store.ListVolumes(ctx, db.VolumeFilter{ProjectID: "admin", SortDescending: true})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(vols))
	for i, v := range vols {
		ids[i] = v.ID
	}
	cfg := testConfig()
	return New(cfg, store, volume.New(cfg, store, &fakeScheduler{store: store}, &fakeVolumes{}, &fakeBackups{}), defaultPolicy(b), nil), ids
}

// serveBench measures GET path as admin on h.
func serveBench(b *testing.B, h http.Handler, path string) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("X-Auth-Token", "admin:admin")
	req.Header.Set("OpenStack-API-Version", "volume 3.64") // with_count needs 3.45, the summary 3.12
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
