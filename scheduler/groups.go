package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/cinder-go/cinder"
)

// createGroup places a group still creating on the backend of the best
// pool that passes the filters for every one of its volume types, as
// Cinder's _schedule_generic_group, records that pool as the group's host
// and casts create_group to the backend. With none the group goes to
// error (the reason is logged with its id).
func (s *Scheduler) createGroup(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Group struct {
			ID string `json:"id"`
		} `json:"group"` // only a hint: the row is read again
	}
	if err := json.Unmarshal(raw, &args); err != nil || args.Group.ID == "" {
		return nil, cinder.InvalidInput("create_group arguments: no group named (%v)", err)
	}
	s.waitReady(ctx)
	g, err := s.store.GetGroup(ctx, args.Group.ID)
	if cinder.IsNotFound(err) {
		slog.Warn("group to schedule no longer exists", "group_id", args.Group.ID)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create_group %s: %w", args.Group.ID, err)
	}
	if g.Status != cinder.GroupCreating {
		slog.Warn("group to schedule is no longer creating; ignoring the request", "group_id", g.ID, "status", g.Status)
		return nil, nil
	}
	if err := s.placeGroup(ctx, g); err != nil {
		slog.Error("failed to schedule group", "group_id", g.ID, "reason", err)
		if _, uerr := s.store.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error {
			if g.Status != cinder.GroupCreating {
				return cinder.InvalidGroup("group %s is %s", g.ID, g.Status)
			}
			g.Status = cinder.GroupError
			return nil
		}); uerr != nil {
			slog.Warn("could not set unscheduled group to error", "group_id", g.ID, "err", uerr)
		}
		return settled(err)
	}
	return nil, nil
}

// validateHostCapacity answers whether backend, the host of a group being
// made from a source, passes the filters for the request spec's
// volume_properties.size GiB, and counts that size as taken from its pool
// (Cinder's validate_host_capacity); false, the reason logged, when not.
func (s *Scheduler) validateHostCapacity(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Backend     string `json:"backend"`
		RequestSpec struct {
			GroupID          string `json:"group_id"`
			VolumeProperties struct {
				Size int `json:"size"`
			} `json:"volume_properties"`
		} `json:"request_spec"`
	}
	if err := json.Unmarshal(raw, &args); err != nil || args.Backend == "" {
		return nil, cinder.InvalidInput("validate_host_capacity arguments: no backend named (%v)", err)
	}
	s.waitReady(ctx)
	size := args.RequestSpec.VolumeProperties.Size
	err := s.bestOn(ctx, &request{size: size}, args.Backend, fmt.Sprintf("Cannot place %d GiB on %s.", size, args.Backend),
		func(p *poolState) { p.consume(size, time.Now()) })
	if cinder.IsNoValidBackend(err) {
		slog.Error("desired host does not have enough capacity", "host", args.Backend, "group_id", args.RequestSpec.GroupID, "reason", err)
		return false, nil
	}
	return err == nil, err
}

// placeGroup chooses g's pool, records it and hands g to its backend.
func (s *Scheduler) placeGroup(ctx context.Context, g *cinder.Group) error {
	var requests []*request
	for _, id := range g.VolumeTypeIDs {
		t, err := s.store.GetVolumeType(ctx, id)
		if err != nil {
			return fmt.Errorf("volume type %s of group %s: %w", id, g.ID, err)
		}
		requests = append(requests, &request{availabilityZone: g.AvailabilityZone, extraSpecs: t.ExtraSpecs})
	}
	if len(requests) == 0 {
		return cinder.InvalidGroup("group %s has no volume type", g.ID)
	}
	host, err := s.scheduleGroup(ctx, requests)
	if err != nil {
		return err
	}
	placed, err := s.store.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error {
		if g.Status != cinder.GroupCreating {
			return cinder.InvalidGroup("group %s is %s, no longer creating", g.ID, g.Status)
		}
		g.Host = host
		return nil
	})
	if err != nil {
		slog.Warn("group changed while being scheduled; leaving it", "group_id", g.ID, "host", host, "reason", err)
		return nil
	}
	slog.Info("scheduled group", "group_id", g.ID, "host", host)
	if err := s.volumes.CreateGroup(ctx, placed); err != nil {
		return fmt.Errorf("cast create_group of group %s to %s: %w", g.ID, host, err)
	}
	return nil
}

// scheduleGroup returns the best pool, for the first request's weighers,
// of a backend with a pool passing every request; NoValidBackend when no
// backend has.
func (s *Scheduler) scheduleGroup(ctx context.Context, requests []*request) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(ctx); err != nil {
		return "", err
	}
	pools := s.pools()
	backends := make([][]string, len(requests)) // per request, the backends passing it
	var first []*poolState
	for i, r := range requests {
		ranked, _ := rank(slices.Clone(pools), s.filters, s.weighers, r)
		if i == 0 {
			first = ranked
		}
		for _, p := range ranked {
			backends[i] = append(backends[i], cinder.ExtractHost(p.host, cinder.LevelBackend))
		}
	}
	for _, p := range first {
		b := cinder.ExtractHost(p.host, cinder.LevelBackend)
		if !slices.ContainsFunc(backends, func(passing []string) bool { return !slices.Contains(passing, b) }) {
			p.consume(0, time.Now())
			return p.host, nil
		}
	}
	return "", fmt.Errorf("no backend passes the filters for all %d volume types: %w", len(requests),
		cinder.NoValidBackend("No valid backend was found. No weighed backends available"))
}
