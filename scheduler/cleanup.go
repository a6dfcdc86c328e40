package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/cinder-go/cinder"
)

// workCleanup (call: cleanup_request; version 3.4) answers which services
// were asked to clean up the work they left and which could not be, as
// Cinder's work_cleanup: of the cinder-volume and cinder-scheduler services
// the request selects (down ones unless is_up), a cinder-volume service is
// asked (do_cleanup) only if it is up itself, since no other service may
// take its work over (no clusters here); a cinder-scheduler's work is
// taken over by this scheduler, which recovers the volumes left creating
// without a host as its periodic task does. The answer is [cleaning,
// unavailable].
func (s *Scheduler) workCleanup(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		Request cinder.CleanupRequest `json:"cleanup_request"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, cinder.InvalidInput("work_cleanup arguments: %v", err)
	}
	req := a.Request
	services, err := s.store.ListServices(ctx, req.Host, req.Binary)
	if err != nil {
		return nil, fmt.Errorf("work_cleanup: list services: %w", err)
	}
	until := time.Now().UTC()
	if req.Until != nil {
		until = *req.Until
	}
	now := time.Now()
	cleaning, unavailable := []*cinder.Service{}, []*cinder.Service{}
	for _, svc := range services {
		up := svc.Up(now, s.downTime)
		if !selected(svc, req, up) {
			continue
		}
		r := req
		r.ServiceID, r.Host, r.Binary, r.ClusterName, r.Until = &svc.ID, svc.Host, svc.Binary, svc.ClusterName, &until
		switch {
		case svc.Binary == cinder.BinaryScheduler:
			slog.Info("cleaning up for a scheduler", "host", svc.Host)
			s.expireCreating(ctx)
		case !up:
			slog.Info("no service available to clean up", "binary", svc.Binary, "host", svc.Host)
			unavailable = append(unavailable, svc)
			continue
		default:
			slog.Info("sending cleanup", "binary", svc.Binary, "host", svc.Host)
			if err := s.volumes.DoCleanup(ctx, svc.Host, r); err != nil {
				return nil, fmt.Errorf("work_cleanup: %w", err)
			}
		}
		cleaning = append(cleaning, svc)
	}
	return [][]*cinder.Service{cleaning, unavailable}, nil
}

// selected reports whether a cleanup request selects svc, up or not:
// cinder-volume and cinder-scheduler services only (the binaries that clean
// up), matching the request's service id, cluster, up state and disabled
// flag.
func selected(svc *cinder.Service, req cinder.CleanupRequest, up bool) bool {
	switch {
	case svc.Binary != cinder.BinaryVolume && svc.Binary != cinder.BinaryScheduler:
		return false
	case req.ServiceID != nil && *req.ServiceID != svc.ID:
		return false
	case req.ClusterName != "" && req.ClusterName != svc.ClusterName:
		return false
	case req.Disabled != nil && *req.Disabled != svc.Disabled:
		return false
	}
	return up == req.IsUp
}

// WorkCleanup calls work_cleanup (version 3.4): the services asked to clean
// up the work req names, and those down that nothing could ask.
func (c *Client) WorkCleanup(ctx context.Context, req cinder.CleanupRequest) (cleaning, unavailable []*cinder.Service, err error) {
	var reply [][]*cinder.Service
	if err := c.rpc.Prepare("", "", "3.4", 0).Call(ctx, "work_cleanup", map[string]any{"cleanup_request": req}, &reply); err != nil {
		return nil, nil, fmt.Errorf("call work_cleanup on the scheduler: %w", err)
	}
	if len(reply) != 2 {
		return nil, nil, fmt.Errorf("work_cleanup answered %d lists, not 2", len(reply))
	}
	return reply[0], reply[1], nil
}
