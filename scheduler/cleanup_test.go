package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
)

// TestWorkCleanup: by default the services that are down are chosen, and
// a cinder-volume service down is unavailable (nothing else takes its work
// over) while a scheduler's work is taken over; a backend up asked with
// is_up recovers the work it left, as its start does.
func TestWorkCleanup(t *testing.T) {
	ctx := context.Background()
	c := newCloud(t, time.Minute)
	c.addBackend(t, "a", "thin")
	old := time.Now().Add(-time.Hour).UTC()
	down := &cinder.Service{Host: "node2@b", Binary: cinder.BinaryVolume, Topic: cinder.TopicVolume, CreatedAt: old}
	sched := &cinder.Service{Host: "node2", Binary: cinder.BinaryScheduler, Topic: cinder.TopicScheduler, CreatedAt: old}
	backup := &cinder.Service{Host: "node2", Binary: cinder.BinaryBackup, Topic: cinder.TopicBackup, CreatedAt: old}
	for _, s := range []*cinder.Service{down, sched, backup} {
		if err := c.store.CreateService(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	hosts := func(services []*cinder.Service) []string {
		var out []string
		for _, s := range services {
			out = append(out, s.Binary+" "+s.Host)
		}
		return out
	}

	cleaning, unavailable, err := c.client.WorkCleanup(ctx, cinder.CleanupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := hosts(cleaning); len(got) != 1 || got[0] != "cinder-scheduler node2" {
		t.Fatalf("cleaning %v", got)
	}
	if got := hosts(unavailable); len(got) != 1 || got[0] != "cinder-volume node2@b" {
		t.Fatalf("unavailable %v", got)
	}

	// A volume backend a left creating is recovered when a, up, is asked.
	v := c.insert(t, 1, "node1@a#a", nil)
	cleaning, unavailable, err = c.client.WorkCleanup(ctx, cinder.CleanupRequest{IsUp: true, Binary: cinder.BinaryVolume})
	if err != nil {
		t.Fatal(err)
	}
	if got := hosts(cleaning); len(got) != 1 || got[0] != "cinder-volume node1@a" || len(unavailable) != 0 {
		t.Fatalf("cleaning %v, unavailable %v", got, hosts(unavailable))
	}
	if v := c.wait(t, v.ID); v.Status != cinder.StatusError {
		t.Fatalf("volume left creating is %s after the cleanup", v.Status)
	}

	yes := true
	for what, req := range map[string]cinder.CleanupRequest{
		"another service id": {ServiceID: &down.ID, IsUp: true},
		"disabled only":      {Disabled: &yes, IsUp: true},
		"another cluster":    {ClusterName: "c1", IsUp: true},
		"another host":       {Host: "node3", IsUp: true},
	} {
		cleaning, unavailable, err := c.client.WorkCleanup(ctx, req)
		if err != nil || len(cleaning)+len(unavailable) != 0 {
			t.Errorf("%s: %v, %v, %v", what, hosts(cleaning), hosts(unavailable), err)
		}
	}
}

// TestFrozenServicesAreLeftOut: a frozen backend's pools leave the
// scheduler until it is thawed.
func TestFrozenServicesAreLeftOut(t *testing.T) {
	ctx := context.Background()
	c := newCloud(t, time.Minute)
	c.addBackend(t, "thin", "thin")
	c.pools(t, "node1@thin#thin")
	freeze := func(frozen bool) {
		if _, err := c.store.UpdateService(ctx, c.services["thin"].ID, func(s *cinder.Service) error {
			s.Frozen = frozen
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	freeze(true)
	c.pools(t)
	if v := c.wait(t, c.create(t, 1, nil).ID); v.Status != cinder.StatusError {
		t.Fatalf("volume with its only backend frozen = %s, want error", v.Status)
	}
	freeze(false)
	c.pools(t, "node1@thin#thin")
}
