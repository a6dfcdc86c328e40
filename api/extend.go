package api

import (
	"encoding/json"
	"net/http"
)

// extendVolumeCompletion is os-extend_volume_completion {"error": bool}
// (3.71, admin; upstream Cinder, which Nova calls): 202 once the volume's
// backend has been asked to finish the extend the volume awaits, or to
// fail it when error.
func (s *server) extendVolumeCompletion(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	const name = "os-extend_volume_completion"
	if !ver(r).atLeast(mvExtendCompletion) {
		return reply{}, noSuchAction(name)
	}
	args, err := actionArgs(name, raw, "error")
	if err != nil {
		return reply{}, err
	}
	failed := false
	if raw, ok := args["error"]; ok {
		if failed, err = boolOf("error", raw); err != nil {
			return reply{}, err
		}
	}
	if _, err := s.vol.Get(r.Context(), id); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume_extension:volume_admin_actions:extend_volume_completion"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.ExtendVolumeCompletion(r.Context(), id, failed)
}
