package scheduler_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/internal/testdb"
)

// startMigration sets v up as the API does for a locked migration
// (previous_status, migration_status starting, status maintenance) and
// asks the scheduler to move it to backend.
func (c *cloud) startMigration(t *testing.T, v *cinder.Volume, backend string) {
	t.Helper()
	ctx := context.Background()
	v, err := c.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		v.PreviousStatus, v.MigrationStatus, v.Status = v.Status, cinder.MigrationStarting, cinder.StatusMaintenance
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	spec := cinder.RequestSpec{VolumeID: v.ID, Size: v.Size, AvailabilityZone: v.AvailabilityZone}
	if v.VolumeTypeID != "" {
		if spec.VolumeType, err = c.store.GetVolumeType(ctx, v.VolumeTypeID); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.client.MigrateVolume(ctx, v, backend, false, spec); err != nil {
		t.Fatal(err)
	}
}

func TestMigrateVolumeToTheBestPoolOfABackend(t *testing.T) {
	c := newCloud(t, time.Minute)
	c.addBackend(t, "thin", "thin")
	c.addBackend(t, "thick", "thick")
	c.pools(t, "node1@thick#thick", "node1@thin#thin")
	v := c.wait(t, c.create(t, 1, nil).ID)
	if v.Host != "node1@thin#thin" {
		t.Fatalf("volume placed on %s, want node1@thin#thin", v.Host)
	}
	c.mark(t, "thin", v, 1<<29)

	c.startMigration(t, v, "node1@thick") // no pool: the backend's best
	got := testdb.WaitMigration(t, c.store, v.ID)
	if got.MigrationStatus != cinder.MigrationSuccess || got.Host != "node1@thick#thick" || got.Status != cinder.StatusAvailable {
		t.Fatalf("after migration: %s on %s, status %s; want success on node1@thick#thick, available",
			got.MigrationStatus, got.Host, got.Status)
	}
	if !c.marked(t, "thick", got, 1<<29) {
		t.Fatal("the volume's bytes did not move")
	}
}

// marker is what mark writes into a volume's storage.
var marker = []byte("bytes that must move")

// mark writes marker at off into the storage of v on backend.
func (c *cloud) mark(t *testing.T, backend string, v *cinder.Volume, off int64) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(c.dirs[backend], v.Name()), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(marker, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// marked reports whether the storage of v on backend holds marker at off.
func (c *cloud) marked(t *testing.T, backend string, v *cinder.Volume, off int64) bool {
	t.Helper()
	f, err := os.Open(filepath.Join(c.dirs[backend], v.Name()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	got := make([]byte, len(marker))
	if _, err := f.ReadAt(got, off); err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(got, marker)
}

func TestMigrateVolumeToABackendFailingTheFilters(t *testing.T) {
	c := newCloud(t, time.Minute)
	c.addBackend(t, "thin", "thin")
	c.addBackend(t, "thick", "thick")
	c.pools(t, "node1@thick#thick", "node1@thin#thin")
	ctx := context.Background()
	onThin := &cinder.VolumeType{Name: "on-thin", ExtraSpecs: map[string]string{"volume_backend_name": "thin"}}
	if err := c.store.CreateVolumeType(ctx, onThin); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, backend string
		size          int
		vt            *cinder.VolumeType
	}{
		{"capacity", "node1@thick", 11, nil}, // thick has 10 GiB
		{"capabilities", "node1@thick", 1, onThin},
		{"unknown pool", "node1@thick#other", 1, nil},
		{"unknown backend", "node1@nope", 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := c.wait(t, c.create(t, tc.size, tc.vt).ID)
			if v.Status != cinder.StatusAvailable || v.Host != "node1@thin#thin" {
				t.Fatalf("volume = %s on %s, want available on node1@thin#thin", v.Status, v.Host)
			}
			c.startMigration(t, v, tc.backend)
			got := testdb.WaitMigration(t, c.store, v.ID)
			if got.MigrationStatus != cinder.MigrationError || got.Status != cinder.StatusAvailable || got.Host != v.Host {
				t.Fatalf("after migrating to %s: %s, status %s on %s; want error, available on %s",
					tc.backend, got.MigrationStatus, got.Status, got.Host, v.Host)
			}
			msgs, err := c.store.ListMessages(ctx, v.ProjectID)
			if err != nil {
				t.Fatal(err)
			}
			var told bool
			for _, m := range msgs {
				told = told || m.ResourceUUID == v.ID && m.EventID == "VOLUME_VOLUME_001_003" &&
					strings.Contains(m.UserMessage, "Could not find any available weighted backend")
			}
			if !told {
				t.Errorf("no user message for the volume: %+v", msgs)
			}
		})
	}
}
