package volume

import (
	"context"
	"errors"
	"strings"

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
