package scheduler_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/internal/testdb"
)

// manage inserts a managing volume on host, as the API does, and casts
// manage_existing of the file name to the scheduler; it returns the volume
// once it has left managing.
func (c *cloud) manage(t *testing.T, host, name string) *cinder.Volume {
	t.Helper()
	ctx := context.Background()
	v := &cinder.Volume{ProjectID: "p", UserID: "u", Status: "managing", AttachStatus: "detached", AvailabilityZone: "nova", Host: host}
	if err := c.store.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := c.client.ManageExisting(ctx, v, cinder.RequestSpec{VolumeID: v.ID, AvailabilityZone: "nova"}, map[string]any{"source-name": name}); err != nil {
		t.Fatal(err)
	}
	return testdb.WaitVolume(t, c.store, v.ID, 10*time.Second, "it to leave managing", func(v *cinder.Volume) bool {
		return v.Status != "managing"
	})
}

// A host without a pool gets the backend's pool, and the backend adopts
// the file; a host that is no backend's, or a pool the backend lacks,
// leaves the volume error_managing with the user told why.
func TestManageExistingValidatesTheHost(t *testing.T) {
	c := newCloud(t, time.Minute)
	c.addBackend(t, "thin", "thin")
	c.pools(t, "node1@thin#thin")
	if err := os.WriteFile(filepath.Join(c.dirs["thin"], "disk"), []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	v := c.manage(t, "node1@thin", "disk")
	if v.Status != cinder.StatusAvailable || v.Host != "node1@thin#thin" || v.Size != 1 {
		t.Fatalf("managed volume: %s on %s, %d GiB", v.Status, v.Host, v.Size)
	}
	for _, host := range []string{"node1@thin#nopool", "node2@thin"} {
		v := c.manage(t, host, "disk")
		if v.Status != "error_managing" || v.Host != host {
			t.Fatalf("manage on %s: %s on %s", host, v.Status, v.Host)
		}
		msgs, err := c.store.ListMessages(context.Background(), "p")
		if err != nil || len(msgs) == 0 {
			t.Fatalf("no user message: %v", err)
		}
	}
}
