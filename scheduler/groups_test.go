package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
)

// TestCreateGroupIsPlacedAndCreated: a group lands on a backend passing
// the filters for every one of its volume types, and that backend's
// cinder-volume makes it available; with no such backend it goes to error.
func TestCreateGroupIsPlacedAndCreated(t *testing.T) {
	c := newCloud(t, time.Minute)
	c.addBackend(t, "thin", "thin")
	c.addBackend(t, "thick", "thick")
	c.pools(t, "node1@thick#thick", "node1@thin#thin")
	ctx := context.Background()
	gt := &cinder.GroupType{Name: "generic", IsPublic: true}
	if err := c.store.CreateGroupType(ctx, gt); err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, name := range []string{"thick", "any", "thin"} {
		vt := &cinder.VolumeType{Name: name, IsPublic: true}
		if name != "any" {
			vt.ExtraSpecs = map[string]string{"volume_backend_name": name}
		}
		if err := c.store.CreateVolumeType(ctx, vt); err != nil {
			t.Fatal(err)
		}
		types[name] = vt.ID
	}
	group := func(typeNames ...string) *cinder.Group {
		t.Helper()
		g := &cinder.Group{ProjectID: "p", GroupTypeID: gt.ID, Status: cinder.GroupCreating, AvailabilityZone: "nova"}
		for _, n := range typeNames {
			g.VolumeTypeIDs = append(g.VolumeTypeIDs, types[n])
		}
		if err := c.store.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		if err := c.client.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := c.store.GetGroup(ctx, g.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != cinder.GroupCreating {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("group %s still creating after 10s", g.ID)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// "any" passes both backends and prefers thin; with "thick" only thick
	// passes both.
	if g := group("any", "thick"); g.Status != cinder.GroupAvailable || g.Host != "node1@thick#thick" {
		t.Fatalf("group of any and thick: %s on %q", g.Status, g.Host)
	}
	if g := group("any"); g.Status != cinder.GroupAvailable || g.Host != "node1@thin#thin" {
		t.Fatalf("group of any: %s on %q", g.Status, g.Host)
	}
	if g := group("thin", "thick"); g.Status != cinder.GroupError || g.Host != "" {
		t.Fatalf("group of thin and thick: %s on %q, want error", g.Status, g.Host)
	}
}

// TestValidateHostCapacity: a backend with room for a group's volumes
// says so and counts them as taken, so a second group of the same size no
// longer fits; a backend that is not reporting has no room.
func TestValidateHostCapacity(t *testing.T) {
	c := newCloud(t, time.Minute)
	c.addBackend(t, "thick", "thick")
	c.pools(t, "node1@thick#thick")
	ctx := context.Background()
	for _, tc := range []struct {
		backend string
		size    int
		want    bool
	}{
		{"node1@thick#thick", 8, true},
		{"node1@thick#thick", 8, false}, // 2 of the 10 GiB left
		{"node1@thick#thick", 2, true},
		{"node1@other#other", 1, false},
	} {
		got, err := c.client.ValidateHostCapacity(ctx, tc.backend, "g", tc.size)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Fatalf("%d GiB on %s: %v, want %v", tc.size, tc.backend, got, tc.want)
		}
	}
}
