package api

import (
	"net/http"
)

// versionsUpdated is the v3 document's "updated", as Cinder's UPDATED.
const versionsUpdated = "2022-08-31T00:00:00Z"

// versionsDoc answers the versions document with status: 300 at /, 200 at /v3/.
func versionsDoc(status int) http.Handler {
	return negotiateVersion(serve(func(r *http.Request) (reply, error) {
		v3 := object{
			{"id", "v3.0"},
			{"status", "CURRENT"},
			{"version", maxVersion.String()},
			{"min_version", minVersion.String()},
			{"updated", versionsUpdated},
			{"links", []object{
				{{"rel", "describedby"}, {"type", "text/html"}, {"href", "https://docs.openstack.org/"}},
				{{"rel", "self"}, {"href", baseURL(r) + "/v3/"}},
			}},
			{"media-types", []object{
				{{"base", "application/json"}, {"type", "application/vnd.openstack.volume+json;version=3"}},
			}},
		}
		return reply{status, object{{"versions", []object{v3}}}}, nil
	}))
}

// redirectV3 sends /v3 to /v3/, as Cinder.
func redirectV3(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Location", baseURL(r)+"/v3/")
	w.Header().Set("Content-Type", "text/plain; charset=utf8")
	w.WriteHeader(http.StatusFound)
}
