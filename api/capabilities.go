package api

import (
	"net/http"

	"github.com/gorilla/mux"
)

// showCapabilities answers GET /capabilities/{host} (admin): the
// capabilities of the first cinder-volume service on host (host,
// host@backend or host@backend#pool), as its backend reported them at
// start, in Cinder's view (sparse_copy_volume and the like are not shown).
func (s *server) showCapabilities(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume_extension:capabilities"); err != nil {
		return reply{}, err
	}
	backend, caps, err := s.vol.Capabilities(r.Context(), mux.Vars(r)["host"])
	if err != nil {
		return reply{}, err
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
