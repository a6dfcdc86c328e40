package volume

import (
	"context"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// Hosts returns the enabled services (os-hosts lists no disabled one, as
// Cinder's _list_hosts), of zone when not empty, and whether each is up.
func (a *API) Hosts(ctx context.Context, zone string) ([]*cinder.Service, map[int64]bool, error) {
	services, err := a.store.ListServices(ctx, "", "")
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	var out []*cinder.Service
	up := map[int64]bool{}
	for _, s := range services {
		if s.Disabled || zone != "" && s.AvailabilityZone != zone {
			continue
		}
		out = append(out, s)
		up[s.ID] = s.Up(now, a.cfg.ServiceDownTime)
	}
	return out, up, nil
}

// HostUsages returns what each project holds on the first enabled
// cinder-volume service of host (host, or host@backend), as GET
// /os-hosts/{host}: its volumes there and their snapshots.
func (a *API) HostUsages(ctx context.Context, host string) ([]*db.HostUsage, error) {
	services, err := a.store.ListServices(ctx, host, cinder.BinaryVolume)
	if err != nil {
		return nil, err
	}
	for _, s := range services {
		if !s.Disabled {
			return a.store.HostUsages(ctx, s.Host)
		}
	}
	return nil, cinder.Errorf("ServiceNotFound", 404, "Service %s could not be found on host %s.", cinder.TopicVolume, host)
}

// ClusterFilter selects clusters; nil members select any.
type ClusterFilter struct {
	Name, Binary           *string
	IsUp, Disabled, Frozen *bool
	NumHosts, NumDownHosts *int
}

// Clusters returns the clusters f selects, as Cinder's ClusterList.get_all.
func (a *API) Clusters(ctx context.Context, f ClusterFilter) ([]*cinder.Cluster, error) {
	all, err := a.store.ListClusters(ctx, a.cfg.ServiceDownTime)
	if err != nil {
		return nil, err
	}
	var out []*cinder.Cluster
	for _, c := range all {
		if f.matches(c, a.ClusterUp(c)) {
			out = append(out, c)
		}
	}
	return out, nil
}

// matches reports whether c, up or not, passes f.
func (f ClusterFilter) matches(c *cinder.Cluster, up bool) bool {
	eqS := func(want *string, have string) bool { return want == nil || *want == have }
	eqB := func(want *bool, have bool) bool { return want == nil || *want == have }
	eqI := func(want *int, have int) bool { return want == nil || *want == have }
	return eqS(f.Name, c.Name) && eqS(f.Binary, c.Binary) && eqB(f.IsUp, up) && eqB(f.Disabled, c.Disabled) &&
		eqB(f.Frozen, c.Frozen) && eqI(f.NumHosts, c.NumHosts) && eqI(f.NumDownHosts, c.NumDownHosts)
}

// ClusterUp reports whether a service of c was heard from within
// service_down_time (Cinder's is_up: last_heartbeat recent enough).
func (a *API) ClusterUp(c *cinder.Cluster) bool {
	return c.LastHeartbeat != nil && time.Since(*c.LastHeartbeat) <= a.cfg.ServiceDownTime
}

// Cluster returns the cluster name of binary.
func (a *API) Cluster(ctx context.Context, name, binary string) (*cinder.Cluster, error) {
	return a.store.GetCluster(ctx, name, binary, a.cfg.ServiceDownTime)
}

// SetClusterDisabled enables or disables the cluster name of binary with
// reason ("" for none), and returns it.
func (a *API) SetClusterDisabled(ctx context.Context, name, binary string, disabled bool, reason string) (*cinder.Cluster, error) {
	c, err := a.Cluster(ctx, name, binary)
	if err != nil {
		return nil, err
	}
	if err := a.store.SetClusterDisabled(context.WithoutCancel(ctx), c.ID, disabled, reason); err != nil {
		return nil, err
	}
	c.Disabled, c.DisabledReason = disabled, reason
	return c, nil
}
