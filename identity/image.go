package identity

import (
	"encoding/json"
	"net/http"
)

// ImagePath is where the catalog's placeholder image endpoint lives.
const ImagePath = "/image"

// ImageVersions answers the version discovery of the catalog's placeholder
// image endpoint, as Glance's root does, so that openstackclient, which
// builds an image client for every "volume create", gets one. Every other
// image request finds nothing: there is no Glance here.
var ImageVersions http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != ImagePath && r.URL.Path != ImagePath+"/" {
		http.NotFound(w, r)
		return
	}
	doc := map[string]any{"versions": []map[string]any{{
		"id": "v2.16", "status": "CURRENT",
		"links": []map[string]string{{"rel": "self", "href": hostURL(r) + ImagePath + "/v2/"}},
	}}}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusMultipleChoices)
	_ = json.NewEncoder(w).Encode(doc) // the client has gone: nothing to do
})
