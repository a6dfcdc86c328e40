package api

import (
	"encoding/json"
	"net/http"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/volume"
)

// migrateVolume is os-migrate_volume (admin) {"host": "host@backend[#pool]",
// "force_host_copy": bool, "lock_volume": bool; "cluster" from 3.16}: 202
// once cinder-scheduler has been asked to migrate the volume.
func (s *server) migrateVolume(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	m, err := parseMigration(r, raw)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume_extension:volume_admin_actions:migrate_volume"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.Migrate(r.Context(), id, m)
}

// parseMigration validates os-migrate_volume's arguments as Cinder's
// schema for the request's microversion.
func parseMigration(r *http.Request, raw json.RawMessage) (volume.Migration, error) {
	const name = "os-migrate_volume"
	var m volume.Migration
	allowed := []string{"host", "force_host_copy", "lock_volume"}
	withCluster := ver(r).atLeast(mvMigrateCluster)
	if withCluster {
		allowed = append(allowed, "cluster")
	}
	args, err := actionArgs(name, raw, allowed...)
	if err != nil {
		return m, err
	}
	if !withCluster {
		if err := args.required(name, "host"); err != nil {
			return m, err
		}
	}
	if m.Host, err = stringOf("host", rawOr(args, "host", json.RawMessage("null")), withCluster, maxNameLen); err != nil {
		return m, err
	}
	if m.Cluster, err = stringOf("cluster", rawOr(args, "cluster", json.RawMessage("null")), true, maxNameLen); err != nil {
		return m, err
	}
	for key, dst := range map[string]*bool{"force_host_copy": &m.ForceHostCopy, "lock_volume": &m.LockVolume} {
		if raw, ok := args[key]; ok {
			if *dst, err = boolOf(key, raw); err != nil {
				return m, err
			}
		}
	}
	switch {
	case withCluster && (m.Host == "") == (m.Cluster == ""):
		return m, cinder.InvalidInput("One and only one of cluster and host must be set.")
	case m.Host == "" && m.Cluster == "":
		return m, cinder.InvalidInput("Host field is missing.")
	}
	return m, nil
}

// migrateVolumeCompletion is os-migrate_volume_completion (admin)
// {"new_volume": uuid, "error": bool}: 200 {"save_volume_id": id}, the id
// the source backend keeps.
func (s *server) migrateVolumeCompletion(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	const name = "os-migrate_volume_completion"
	args, err := actionArgs(name, raw, "new_volume", "error")
	if err != nil {
		return reply{}, err
	}
	if err := args.required(name, "new_volume"); err != nil {
		return reply{}, err
	}
	newID, err := stringOf("new_volume", args["new_volume"], false, 0)
	if err != nil {
		return reply{}, err
	}
	if _, err := uuid.Parse(newID); err != nil {
		return reply{}, invalidField("new_volume", args["new_volume"], "%s is not a 'uuid'", pyRepr(args["new_volume"]))
	}
	hasError := false
	if raw, ok := args["error"]; ok && kind(raw) != "null" {
		if hasError, err = boolOf("error", raw); err != nil {
			return reply{}, err
		}
	}
	if err := s.authorize(r, "volume_extension:volume_admin_actions:migrate_volume_completion"); err != nil {
		return reply{}, err
	}
	saved, err := s.vol.CompleteMigration(r.Context(), id, newID, hasError)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"save_volume_id", saved}}}, nil
}
