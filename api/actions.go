package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder/volume"
)

// action serves one volume action: args is the value of its key in the body.
type action func(r *http.Request, id string, args json.RawMessage) (reply, error)

// actions are the volume actions served, by body key.
func (s *server) actions() map[string]action {
	return map[string]action{
		"os-extend":                    s.extend,
		"os-reset_status":              s.resetStatus,
		"os-force_delete":              s.forceDelete,
		"os-initialize_connection":     s.initializeConnection,
		"os-terminate_connection":      s.terminateConnection,
		"os-migrate_volume":            s.migrateVolume,
		"os-migrate_volume_completion": s.migrateVolumeCompletion,
		"os-extend_volume_completion":  s.extendVolumeCompletion,
		"os-retype":                    s.retype,
		"revert":                       s.revert,
		"os-set_image_metadata":        s.setImageMetadata,
		"os-unset_image_metadata":      s.unsetImageMetadata,
		"os-show_image_metadata":       s.showImageMetadata,
		"os-set_bootable":              s.setBootable,
		"os-update_readonly_flag":      s.updateReadonlyFlag,
		"os-attach":                    s.attach,
		"os-detach":                    s.detach,
		"os-force_detach":              s.forceDetach,
		"os-reserve":                   s.statusAction("volume_extension:volume_actions:reserve", s.vol.Reserve),
		"os-unreserve":                 s.statusAction("volume_extension:volume_actions:unreserve", s.vol.Unreserve),
		"os-begin_detaching":           s.statusAction("volume_extension:volume_actions:begin_detaching", s.vol.BeginDetaching),
		"os-unmanage":                  s.unmanageVolume,
		"os-roll_detaching":            s.statusAction("volume_extension:volume_actions:roll_detaching", s.vol.RollDetaching),
	}
}

// volumeAction answers POST /volumes/{id}/action: a body of exactly one
// key, the action, as Cinder's action_peek.
func (s *server) volumeAction(r *http.Request) (reply, error) {
	name, args, err := actionOf(r)
	if err != nil {
		return reply{}, err
	}
	act, ok := s.actions()[name]
	if !ok {
		return reply{}, noSuchAction(name)
	}
	return act(r, mux.Vars(r)["id"], args)
}

// actionOf reads an action body: exactly one key, the action's name, and
// its arguments.
func actionOf(r *http.Request) (string, json.RawMessage, error) {
	body, err := readObject(r, "action")
	if err != nil {
		return "", nil, err
	}
	if len(body) != 1 {
		return "", nil, newFault(http.StatusBadRequest, "Malformed request body")
	}
	var name string
	var args json.RawMessage
	for k, v := range body {
		name, args = k, v
	}
	return name, args, nil
}

// noSuchAction is the fault for an action a resource does not have.
func noSuchAction(name string) error {
	return newFault(http.StatusBadRequest, "There is no such action: %s. Verify the request body and Content-Type header and try again.", name)
}

// actionArgs decodes the object of action name, refusing other members than allowed.
func actionArgs(name string, raw json.RawMessage, allowed ...string) (fields, error) {
	args, err := objectOf(name, raw)
	if err != nil {
		return nil, err
	}
	return args, args.only(name, allowed...)
}

// extend is os-extend {"new_size": N}: 202 once the volume's backend has
// been asked to extend it (an in-use volume too from 3.42).
func (s *server) extend(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	args, err := actionArgs("os-extend", raw, "new_size")
	if err != nil {
		return reply{}, err
	}
	if err := args.required("os-extend", "new_size"); err != nil {
		return reply{}, err
	}
	newSize, err := sizeOf("new_size", args["new_size"])
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume:extend"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.Extend(r.Context(), id, newSize, ver(r).atLeast(mvExtendInUse))
}

// revert is revert {"snapshot_id": uuid} (3.40): 202 once the volume's
// backend has been asked to give it back its latest snapshot's bytes.
func (s *server) revert(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	if !ver(r).atLeast(mvRevert) {
		return reply{}, noSuchAction("revert")
	}
	args, err := actionArgs("revert", raw, "snapshot_id")
	if err != nil {
		return reply{}, err
	}
	if err := args.required("revert", "snapshot_id"); err != nil {
		return reply{}, err
	}
	snap, err := stringOf("snapshot_id", args["snapshot_id"], false, 0)
	if err != nil {
		return reply{}, err
	}
	if _, err := uuid.Parse(snap); err != nil {
		return reply{}, invalidField("snapshot_id", args["snapshot_id"], "%s is not a 'uuid'", pyRepr(args["snapshot_id"]))
	}
	if err := s.authorize(r, "volume:revert_to_snapshot"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.Revert(r.Context(), id, snap)
}

// Values os-reset_status accepts (cinder/objects/fields.py).
var resetValues = map[string][]string{
	"status": {"creating", "available", "deleting", "error", "error_deleting", "error_managing",
		"managing", "attaching", "in-use", "detaching", "maintenance", "restoring-backup", "error_restoring",
		"reserved", "awaiting-transfer", "backing-up", "error_backing-up", "error_extending", "downloading",
		"uploading", "retyping", "extending"},
	"attach_status":    {"attached", "detached"},
	"migration_status": {"migrating", "error", "success", "completing", "none", "starting"},
}

// resetStatus is os-reset_status (admin): sets status, attach_status
// and/or migration_status ("none" clears it) without checks beyond Cinder's.
func (s *server) resetStatus(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	const name = "os-reset_status"
	args, err := actionArgs(name, raw, "status", "attach_status", "migration_status")
	if err != nil {
		return reply{}, err
	}
	var reset volume.Reset
	for key, dst := range map[string]*string{"status": &reset.Status, "attach_status": &reset.AttachStatus, "migration_status": &reset.MigrationStatus} {
		if raw, ok := args[key]; ok {
			if *dst, err = statusOf(key, raw); err != nil {
				return reply{}, err
			}
		}
	}
	if reset == (volume.Reset{}) {
		return reply{}, newFault(http.StatusBadRequest, "Must specify 'status', 'attach_status' or 'migration_status' for update.")
	}
	if err := s.authorize(r, "volume_extension:volume_admin_actions:reset_status"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.ResetStatus(r.Context(), id, reset)
}

// statusOf decodes raw, the value of os-reset_status's key, lower-cased:
// "" for null or empty, else one of the values the key accepts.
func statusOf(key string, raw json.RawMessage) (string, error) {
	v, err := stringOf(key, raw, true, 0)
	if err != nil {
		return "", err
	}
	if v = strings.ToLower(v); v != "" && !slices.Contains(resetValues[key], v) {
		return "", invalidField(key, raw, "Volume %s: %s is invalid, valid statuses are: %s.",
			strings.ReplaceAll(key, "_", " "), v, strings.Join(resetValues[key], ", "))
	}
	return v, nil
}

// forceDelete is os-force_delete (admin): delete in any status, though
// not while migrating or attached.
func (s *server) forceDelete(r *http.Request, id string, _ json.RawMessage) (reply, error) {
	if _, err := s.vol.Get(r.Context(), id); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume_extension:volume_admin_actions:force_delete"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.Delete(r.Context(), id, true, false)
}

// connector decodes the connector of a connection action: an object, or
// null when nullable.
func connector(name string, raw json.RawMessage, nullable bool) (map[string]any, error) {
	args, err := actionArgs(name, raw, "connector")
	if err != nil {
		return nil, err
	}
	if err := args.required(name, "connector"); err != nil {
		return nil, err
	}
	c := args["connector"]
	if nullable && kind(c) == "null" {
		return nil, nil
	}
	var conn map[string]any
	if kind(c) != "object" || json.Unmarshal(c, &conn) != nil {
		return nil, invalidField("connector", c, "%s is not of type 'object'", pyRepr(c))
	}
	return conn, nil
}

// initializeConnection is os-initialize_connection {"connector": {…}}:
// 200 {"connection_info": …} from the volume's backend.
func (s *server) initializeConnection(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	conn, err := connector("os-initialize_connection", raw, false)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume_extension:volume_actions:initialize_connection"); err != nil {
		return reply{}, err
	}
	info, err := s.vol.InitializeConnection(r.Context(), id, conn)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"connection_info", info}}}, nil
}

// terminateConnection is os-terminate_connection {"connector": {…}}: 202.
func (s *server) terminateConnection(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	conn, err := connector("os-terminate_connection", raw, true)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume_extension:volume_actions:terminate_connection"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.TerminateConnection(r.Context(), id, conn)
}
