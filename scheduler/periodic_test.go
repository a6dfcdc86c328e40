package scheduler_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
)

// A create that reaches a scheduler before the backends have reported, as
// one queued while no scheduler ran, waits for their stats and is placed.
func TestCreateWaitsForStatsAfterStart(t *testing.T) {
	c := newCloud(t, time.Minute, func(cfg *conf.Config) { cfg.SchedulerDriverInitWaitTime = 10 * time.Second })
	c.register(t, "thin") // up, no stats yet
	v := c.create(t, 1, nil)
	time.Sleep(200 * time.Millisecond)
	if got, err := c.store.GetVolume(context.Background(), v.ID); err != nil || got.Status != cinder.StatusCreating {
		t.Fatalf("volume before any stats = %+v, %v; want still creating", got, err)
	}
	c.addBackend(t, "thin", "thin")
	if got := c.wait(t, v.ID); got.Status != cinder.StatusAvailable || got.Host != "node1@thin#thin" {
		t.Fatalf("volume = %s on %q, want available on node1@thin#thin", got.Status, got.Host)
	}
}

// A volume left creating with no host (its create request lost) goes to
// error with a user message after scheduler_create_volume_timeout; a
// placed volume is its backend's to recover; a late request is ignored.
func TestLostCreateFailsAfterTimeout(t *testing.T) {
	const timeout, interval = 500 * time.Millisecond, 50 * time.Millisecond
	c := newCloud(t, time.Minute, func(cfg *conf.Config) {
		cfg.PeriodicInterval, cfg.SchedulerCreateVolumeTimeout = interval, timeout
	})
	c.addBackend(t, "thin", "thin")
	c.pools(t, "node1@thin#thin")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.sched.Run(ctx)

	start := time.Now()
	lost := c.insert(t, 1, "", nil) // as cinder-api killed between its insert and its cast
	placed := c.insert(t, 1, "node1@thin#thin", nil)
	got := c.wait(t, lost.ID)
	if elapsed := time.Since(start); got.Status != cinder.StatusError || got.Host != "" ||
		elapsed < timeout || elapsed > timeout+interval+2*time.Second {
		t.Fatalf("lost volume = %s on %q after %s, want error with no host after %s", got.Status, got.Host, elapsed, timeout)
	}
	msgs, err := c.store.ListMessages(ctx, lost.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].ResourceUUID != lost.ID || msgs[0].EventID != "VOLUME_VOLUME_001_001" {
		t.Fatalf("user messages = %+v, want one VOLUME_VOLUME_001_001 for %s", msgs, lost.ID)
	}
	if got, err := c.store.GetVolume(ctx, placed.ID); err != nil || got.Status != cinder.StatusCreating {
		t.Fatalf("placed volume = %+v, %v; want left creating for its backend", got, err)
	}

	// The lost request arrives after all: ignored. A later create is served
	// after it (each does less than that create), so lost is checked after.
	if err := c.client.CreateVolume(ctx, lost, cinder.RequestSpec{VolumeID: lost.ID, Size: 1}); err != nil {
		t.Fatal(err)
	}
	if v := c.wait(t, c.create(t, 1, nil).ID); v.Status != cinder.StatusAvailable {
		t.Fatalf("create after the late request = %s, want available", v.Status)
	}
	if got, err := c.store.GetVolume(ctx, lost.ID); err != nil || got.Status != cinder.StatusError || got.Host != "" {
		t.Fatalf("lost volume after its late request = %+v, %v; want error with no host", got, err)
	}
	if _, err := os.Stat(filepath.Join(c.dirs["thin"], lost.Name())); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("storage of the lost volume: %v, want none", err)
	}
}

// A scheduler fails nothing before it has itself run for the timeout, so
// the requests that waited in its queue are served first.
func TestNoExpiryEarlyAfterStart(t *testing.T) {
	const timeout, interval = time.Second, 50 * time.Millisecond
	c := newCloud(t, time.Minute, func(cfg *conf.Config) {
		cfg.PeriodicInterval, cfg.SchedulerCreateVolumeTimeout = interval, timeout
	})
	old := c.insert(t, 1, "", nil)
	if _, err := c.store.UpdateVolume(context.Background(), old.ID, func(v *cinder.Volume) error {
		v.CreatedAt = time.Now().Add(-time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.sched.Run(ctx)
	time.Sleep(timeout / 2)
	if got, err := c.store.GetVolume(ctx, old.ID); err != nil || got.Status != cinder.StatusCreating {
		t.Fatalf("hour-old volume %s after %s of a new scheduler = %+v, %v; want creating", old.ID, timeout/2, got, err)
	}
	if got := c.wait(t, old.ID); got.Status != cinder.StatusError {
		t.Fatalf("hour-old volume = %s, want error once the scheduler ran %s", got.Status, timeout)
	}
}

// A quota reservation past its expiry that nothing ended (its service
// crashed between reserve and write) is dropped by the scheduler's
// periodic task, at its start and then every reservation_clean_interval,
// as Cinder's _clean_expired_reservation (run_immediately); one still
// holding is kept.
func TestExpiredReservationsDropped(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
	}{{"at start", 24 * time.Hour}, {"every interval", 100 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCloud(t, time.Minute, func(cfg *conf.Config) { cfg.ReservationCleanInterval = tc.interval })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			reserve := func(object string, gigabytes int, expire time.Time) {
				t.Helper()
				if err := c.store.Reserve(ctx, db.Reservation{Project: "p", Object: object, Deltas: map[string]int{db.QuotaGigabytes: gigabytes},
					Limits: map[string]int{db.QuotaGigabytes: 100}, Expire: expire}); err != nil {
					t.Fatal(err)
				}
			}
			waitReserved := func(want int) {
				t.Helper()
				for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					u, err := c.store.QuotaUsages(ctx, "p", []string{db.QuotaGigabytes})
					if err != nil {
						t.Fatal(err)
					}
					if got := u[db.QuotaGigabytes].Reserved; got == want {
						return
					} else if time.Now().After(deadline) {
						t.Fatalf("%d GiB reserved, want %d", got, want)
					}
				}
			}
			// A Reserve drops the expired holds of its resource before
			// adding its own: the expired one is reserved last, as a
			// crash would leave it.
			reserve("holding", 3, time.Now().Add(time.Hour))
			if tc.interval < time.Hour {
				go c.sched.Run(ctx)
			}
			reserve("crashed", 7, time.Now().Add(-time.Second))
			if tc.interval >= time.Hour {
				waitReserved(10)
				go c.sched.Run(ctx)
			}
			waitReserved(3)
		})
	}
}
