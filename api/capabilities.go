package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/rpc"
)

// showCapabilities answers GET /capabilities/{host} (admin): the
// capabilities of the first cinder-volume service on host (host,
// host@backend or host@backend#pool), as its backend reported them at
// start, in Cinder's view (sparse_copy_volume and the like are not shown).
func (s *server) showCapabilities(r *http.Request) (reply, error) {
	if err := requireAdmin(r, "volume_extension:capabilities"); err != nil {
		return reply{}, err
	}
	ctx := r.Context()
	host := mux.Vars(r)["host"]
	services, err := s.store.ListServices(ctx, "", cinder.BinaryVolume)
	if err != nil {
		return reply{}, err
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
		return reply{}, cinder.NotFound("Can't find service: %s", host)
	}
	caps, err := s.volumes.GetCapabilities(ctx, backend, false)
	var timeout *rpc.TimeoutError
	if errors.As(err, &timeout) {
		logFailure(ctx, "get capabilities of "+backend, err)
		return reply{}, cinder.Errorf("RPCTimeout", http.StatusBadGateway, "Timeout while requesting capabilities from backend %s.", backend)
	}
	if err != nil {
		return reply{}, unreachable(err, "Could not get the capabilities of %s", backend)
	}
	protocol := caps["storage_protocol"]
	if list, ok := protocol.([]any); ok && len(list) > 0 {
		protocol = list[0]
	}
	targets := caps["replication_targets"]
	if targets == nil {
		targets = []any{}
	}
	return reply{http.StatusOK, object{
		{"namespace", "OS::Storage::Capabilities::" + backend},
		{"vendor_name", caps["vendor_name"]},
		{"volume_backend_name", caps["volume_backend_name"]},
		{"pool_name", caps["pool_name"]},
		{"driver_version", caps["driver_version"]},
		{"storage_protocol", protocol},
		{"display_name", caps["display_name"]},
		{"description", caps["description"]},
		{"visibility", caps["visibility"]},
		{"replication_targets", targets},
		{"properties", caps["properties"]},
	}}, nil
}
