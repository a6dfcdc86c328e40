package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// Defaults of periodic_interval, scheduler_create_volume_timeout and
// reservation_clean_interval, for a Config that leaves them zero.
const (
	defaultPeriodicInterval         = 60 * time.Second
	defaultCreateTimeout            = 300 * time.Second
	defaultReservationCleanInterval = 86400 * time.Second
)

// waitReady holds a request that arrives within scheduler_driver_init_wait_time
// of the start until every volume backend that is up and enabled has reported
// its stats, as Cinder's _wait_for_scheduler: requests that waited in the
// queue while no scheduler ran are then placed, not failed for want of stats.
func (s *Scheduler) waitReady(ctx context.Context) {
	for !s.ready.Load() {
		if time.Since(s.started) >= s.initWait || s.allReported(ctx) {
			s.ready.Store(true)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// allReported reports whether every schedulable volume service has sent
// its stats to this scheduler (has_all_capabilities).
func (s *Scheduler) allReported(ctx context.Context) bool {
	services, err := s.store.ListServices(ctx, "", cinder.BinaryVolume)
	if err != nil {
		slog.Warn("cannot list volume services to know whether all reported", "err", err)
		return false
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, svc := range services {
		if _, ok := s.reports[svc.Host]; !ok && schedulable(svc, now, s.downTime) {
			return false
		}
	}
	return true
}

// Run runs the scheduler's periodic tasks until ctx is done:
// expireCreating every periodic_interval, and expireReservations at once
// and then every reservation_clean_interval, as Cinder's
// _clean_expired_reservation (run_immediately).
func (s *Scheduler) Run(ctx context.Context) {
	ctx = cinder.WithRequestContext(ctx, cinder.AdminContext())
	t, clean := time.NewTicker(s.interval), time.NewTicker(s.cleanInterval)
	defer t.Stop()
	defer clean.Stop()
	s.expireReservations(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.expireCreating(ctx)
		case <-clean.C:
			s.expireReservations(ctx)
		}
	}
}

// expireReservations drops the quota reservations past reservation_expire
// that no write or rollback ended (a service crashed between its reserve
// and its write), so that they stop counting against their project.
func (s *Scheduler) expireReservations(ctx context.Context) {
	if err := s.store.ExpireReservations(ctx); err != nil {
		slog.Error("cannot expire quota reservations", "err", err)
	}
}

// expireCreating sets to error, with a user message, the volumes still
// creating with no host that were created longer than
// scheduler_create_volume_timeout ago: their create request never reached a
// scheduler that could place them (cinder-api killed before its cast, a
// scheduler killed after taking it). It fails none until this scheduler has
// itself run that long, so that requests queued while no scheduler ran are
// served first. A volume is thus left creating without a host for at most
// the timeout plus periodic_interval of a running scheduler.
func (s *Scheduler) expireCreating(ctx context.Context) {
	now := time.Now()
	if now.Sub(s.started) < s.createTimeout {
		return
	}
	vols, err := s.store.ListVolumes(ctx, db.VolumeFilter{Statuses: []string{cinder.StatusCreating}})
	if err != nil {
		slog.Error("cannot list volumes left creating", "err", err)
		return
	}
	for _, v := range vols {
		if v.Host != "" || now.Sub(v.CreatedAt) < s.createTimeout {
			continue
		}
		s.fail(ctx, v.ID, fmt.Errorf("no scheduler placed it within scheduler_create_volume_timeout (%s): its create request was lost", s.createTimeout))
	}
}
