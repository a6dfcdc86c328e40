package volume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/rpc"
)

// Pools returns cinder-scheduler's pools with their latest capabilities.
func (a *API) Pools(ctx context.Context) ([]cinder.Pool, error) {
	pools, err := a.sched.GetPools(ctx)
	if err != nil {
		return nil, unreachable(err, "Could not get pools from cinder-scheduler")
	}
	return pools, nil
}

// BackendStates maps host@backend to the backend_state its pools report
// ("up" when unsaid). It is nil, and the failure logged, when the
// scheduler does not answer: a list of services still answers then.
func (a *API) BackendStates(ctx context.Context) map[string]string {
	pools, err := a.sched.GetPools(ctx)
	if err != nil {
		logFailure(ctx, "get pools for backend states", err)
		return nil
	}
	states := map[string]string{}
	for _, p := range pools {
		st, ok := p.Capabilities["backend_state"].(string)
		if !ok {
			st = "up"
		}
		states[cinder.ExtractHost(p.Name, cinder.LevelBackend)] = st
	}
	return states
}

// Capabilities returns the capabilities of the first cinder-volume backend
// on host (host, host@backend or host@backend#pool), as it reports them,
// and that backend's host@backend.
func (a *API) Capabilities(ctx context.Context, host string) (string, map[string]any, error) {
	services, err := a.store.ListServices(ctx, "", cinder.BinaryVolume)
	if err != nil {
		return "", nil, err
	}
	want := cinder.ExtractHost(host, cinder.LevelBackend)
	var backend string
	for _, svc := range services {
		if svc.Host == want || strings.HasPrefix(svc.Host, want+"@") {
			backend = svc.Host
			break
		}
	}
	if backend == "" {
		return "", nil, cinder.NotFound("Can't find service: %s", host)
	}
	caps, err := a.backends.GetCapabilities(ctx, backend, false)
	var timeout *rpc.TimeoutError
	if errors.As(err, &timeout) {
		logFailure(ctx, "get capabilities of "+backend, err)
		return "", nil, cinder.Errorf("RPCTimeout", 502, "Timeout while requesting capabilities from backend %s.", backend)
	}
	if err != nil {
		return "", nil, unreachable(err, "Could not get the capabilities of %s", backend)
	}
	return backend, caps, nil
}

// SetServiceDisabled enables or disables the service binary runs on host,
// recording reason unless nil.
func (a *API) SetServiceDisabled(ctx context.Context, host, binary string, disabled bool, reason *string) error {
	svc, err := a.store.GetService(ctx, host, binary)
	if cinder.IsNotFound(err) {
		return cinder.Errorf("HostBinaryNotFound", 404, "Could not find binary %s on host %s.", binary, host)
	}
	if err != nil {
		return err
	}
	_, err = a.store.UpdateService(ctx, svc.ID, func(svc *cinder.Service) error {
		svc.Disabled = disabled
		if reason != nil {
			svc.DisabledReason = *reason
		}
		return nil
	})
	return err
}

// FreezeHost freezes the cinder-volume services of host (or of cluster,
// when host is empty), as volume/api.py freeze_host: each not yet frozen
// becomes frozen (refusing modification operations, and left out by the
// schedulers), and the backend is told, which disables its service with
// reason "frozen". When it cannot be told they stay frozen, as Cinder's.
func (a *API) FreezeHost(ctx context.Context, host, cluster string) error {
	svc, err := a.setFrozen(ctx, host, cluster, true)
	if err != nil {
		return err
	}
	if err := a.backends.FreezeHost(ctx, svc.Host); err != nil {
		return unreachable(err, "Could not ask cinder-volume %s to freeze", svc.Host)
	}
	return nil
}

// ThawHost undoes FreezeHost: the services of host (or cluster) are frozen
// no longer and the backend, told, enables its service again.
func (a *API) ThawHost(ctx context.Context, host, cluster string) error {
	svc, err := a.setFrozen(ctx, host, cluster, false)
	if err != nil {
		return err
	}
	if err := a.backends.ThawHost(ctx, svc.Host); err != nil {
		return unreachable(err, "Could not ask cinder-volume %s to thaw", svc.Host)
	}
	return nil
}

// setFrozen sets frozen on the cinder-volume services of host (a host
// matches its backends), or of cluster, that are not so already, as
// _replication_db_change, and returns the first of them, whose backend is
// to be told. They must all be one host@backend's (or one cluster's).
func (a *API) setFrozen(ctx context.Context, host, cluster string, frozen bool) (*cinder.Service, error) {
	ctx = context.WithoutCancel(ctx)
	services, err := a.store.ListServices(ctx, host, cinder.BinaryVolume)
	if err != nil {
		return nil, err
	}
	if cluster != "" {
		services = slices.DeleteFunc(services, func(s *cinder.Service) bool { return s.ClusterName != cluster })
	}
	if len(services) == 0 {
		if host != "" {
			return nil, cinder.InvalidInput("No service found with host=%s", host)
		}
		return nil, cinder.InvalidInput("No service found with cluster=%s", cluster)
	}
	for _, s := range services[1:] {
		if cluster == "" && s.Host != services[0].Host {
			return nil, cinder.Errorf("InvalidParameterValue", 400, "Services from different clusters found.")
		}
	}
	var unchanged []string
	already := cinder.Invalid("service frozen already %t", frozen)
	for _, s := range services {
		_, err := a.store.UpdateService(ctx, s.ID, func(s *cinder.Service) error {
			if s.Frozen == frozen {
				return already
			}
			s.Frozen = frozen
			return nil
		})
		if errors.Is(err, already) {
			unchanged = append(unchanged, "'"+s.Host+"'")
			continue
		}
		if err != nil {
			return nil, err
		}
	}
	if len(unchanged) > 0 {
		msg := fmt.Sprintf("frozen in [%s] must be %s to failover.", strings.Join(unchanged, ", "), pyBool(!frozen))
		if len(unchanged) == len(services) {
			return nil, cinder.InvalidInput("No service could be changed: %s", msg)
		}
		slog.Warn("volume: some services could not be changed", "reason", msg)
	}
	return services[0], nil
}

// pyBool is b as Python prints it.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// notFrozen fails, as Cinder's assert_not_frozen, when a service of the
// backend of host (a volume's host@backend#pool) is frozen: modification
// operations are refused there.
func (a *API) notFrozen(ctx context.Context, host string) error {
	if host == "" {
		return nil
	}
	services, err := a.store.ListServices(ctx, cinder.ExtractHost(host, cinder.LevelBackend), "")
	if err != nil {
		return err
	}
	for _, s := range services {
		if s.Frozen {
			return cinder.InvalidInput("Modification operations are not allowed on frozen storage backends.")
		}
	}
	return nil
}

// snapshotNotFrozen is notFrozen for the backend of snapshot s's volume.
func (a *API) snapshotNotFrozen(ctx context.Context, s *cinder.Snapshot) error {
	v, err := a.store.GetVolume(ctx, s.VolumeID)
	if err != nil {
		return err
	}
	return a.notFrozen(ctx, v.Host)
}

// WorkCleanup asks cinder-scheduler to have the services req selects clean
// up the work they left, as api/v3/workers.py: a resource named without a
// location is looked up first, and must be one left pending (a volume or
// snapshot in a status its backend's recovery ends). It returns the
// services asked to clean and those down, which nothing can ask.
func (a *API) WorkCleanup(ctx context.Context, req cinder.CleanupRequest) (cleaning, unavailable []*cinder.Service, err error) {
	if req.ResourceID != "" && req.ServiceID == nil && req.ClusterName == "" && req.Host == "" {
		svc, kind, err := a.pendingResource(ctx, req)
		if err != nil {
			return nil, nil, err
		}
		req.ServiceID, req.ResourceType = &svc.ID, kind
	}
	now := time.Now().UTC()
	req.Until = &now
	cleaning, unavailable, err = a.sched.WorkCleanup(ctx, req)
	if err != nil {
		return nil, nil, unreachable(err, "Could not ask cinder-scheduler to clean up")
	}
	return cleaning, unavailable, nil
}

// Statuses a volume or snapshot is left in by work its backend's recovery
// finishes or fails: Cinder's cleanable operations.
var (
	cleanableVolume   = []string{cinder.StatusCreating, cinder.StatusDeleting, cinder.StatusReverting}
	cleanableSnapshot = []string{cinder.SnapshotCreating, cinder.SnapshotDeleting, cinder.SnapshotRestoring}
)

// pendingResource finds the resource req names, of req's type or any, left
// pending on a backend, and returns that backend's service and the type.
func (a *API) pendingResource(ctx context.Context, req cinder.CleanupRequest) (*cinder.Service, string, error) {
	var host, kind string
	if req.ResourceType != cinder.CleanableSnapshot {
		v, err := a.store.GetVolume(ctx, req.ResourceID)
		if err != nil && !cinder.IsNotFound(err) {
			return nil, "", err
		}
		if err == nil && (slices.Contains(cleanableVolume, v.Status) || migrating(v)) {
			host, kind = v.Host, cinder.CleanableVolume
		}
	}
	if kind == "" && req.ResourceType != cinder.CleanableVolume {
		s, err := a.store.GetSnapshot(ctx, req.ResourceID)
		if err != nil && !cinder.IsNotFound(err) {
			return nil, "", err
		}
		if err == nil && slices.Contains(cleanableSnapshot, s.Status) {
			v, err := a.store.GetVolume(ctx, s.VolumeID)
			if err != nil {
				return nil, "", err
			}
			host, kind = v.Host, cinder.CleanableSnapshot
		}
	}
	if host != "" && (req.Binary == "" || req.Binary == cinder.BinaryVolume) {
		svc, err := a.store.GetService(ctx, cinder.ExtractHost(host, cinder.LevelBackend), cinder.BinaryVolume)
		if err == nil || !cinder.IsNotFound(err) {
			return svc, kind, err
		}
	}
	return nil, "", cinder.InvalidInput("There is no resource with UUID %s pending cleanup.", req.ResourceID)
}
