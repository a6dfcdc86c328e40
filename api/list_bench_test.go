package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/internal/testdb"
	"github.com/cinder-go/cinder/volume"
)

// BenchmarkVolumesDetail serves GET /v3/{project}/volumes/detail over 100
// volumes, the control-plane case of make bench, without the network.
func BenchmarkVolumesDetail(b *testing.B) {
	store := testdb.SQLite(b)
	ctx := context.Background()
	vt, err := store.GetVolumeTypeByName(ctx, cinder.DefaultVolumeType)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		v := &cinder.Volume{ProjectID: "admin", UserID: "admin", Size: 1, Status: cinder.StatusAvailable,
			DisplayName: fmt.Sprintf("vol-%d", i), Host: "hostA@thin#thin", AvailabilityZone: "nova",
			AttachStatus: "detached", VolumeTypeID: vt.ID}
		if err := store.CreateVolume(ctx, v); err != nil {
			b.Fatal(err)
		}
	}
	cfg := testConfig()
	h := New(cfg, store, volume.New(cfg, store, &fakeScheduler{store: store}, &fakeVolumes{}, &fakeBackups{}), defaultPolicy(b), nil)
	req := httptest.NewRequest(http.MethodGet, "/v3/admin/volumes/detail", nil)
	req.Header.Set("X-Auth-Token", "admin:admin")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
