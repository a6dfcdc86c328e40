package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
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
		"os-retype":                    s.retype,
	}
}

// volumeAction answers POST /volumes/{id}/action: a body of exactly one
// key, the action, as Cinder's action_peek.
func (s *server) volumeAction(r *http.Request) (reply, error) {
	body, err := readObject(r, "action")
	if err != nil {
		return reply{}, err
	}
	if len(body) != 1 {
		return reply{}, newFault(http.StatusBadRequest, "Malformed request body")
	}
	var name string
	var args json.RawMessage
	for name, args = range body {
	}
	act, ok := s.actions()[name]
	if !ok {
		return reply{}, newFault(http.StatusBadRequest, "There is no such action: %s. Verify the request body and Content-Type header and try again.", name)
	}
	return act(r, mux.Vars(r)["id"], args)
}

// actionArgs decodes the object of action name, refusing other members than allowed.
func actionArgs(name string, raw json.RawMessage, allowed ...string) (fields, error) {
	args, err := objectOf(name, raw)
	if err != nil {
		return nil, err
	}
	return args, args.only(name, allowed...)
}

// extend is os-extend {"new_size": N}: the volume must be available (or
// in-use from 3.42) and grow; it goes to extending and its backend is asked
// to extend it. When that cast cannot be sent the volume gets its status back.
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
	v, err := s.getVolume(r, id)
	if err != nil {
		return reply{}, err
	}
	if newSize <= v.Size {
		return reply{}, cinder.InvalidInput("New size for extend must be greater than current size. (current: %d, extended: %d).", v.Size, newSize)
	}
	ctx := context.WithoutCancel(r.Context())
	if err := s.checkQuota(ctx, v.ProjectID, newSize-v.Size); err != nil {
		return reply{}, err
	}
	allowed := []string{cinder.StatusAvailable}
	if ver(r).atLeast(mvExtendInUse) {
		allowed = append(allowed, cinder.StatusInUse)
	}
	var before cinder.Volume
	v, err = s.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		if !slices.Contains(allowed, v.Status) {
			return cinder.InvalidVolume("Volume %s status must be '%s' to extend, currently %s.", v.ID, strings.Join(allowed, "' or '"), v.Status)
		}
		before = *v
		v.PreviousStatus, v.Status = v.Status, cinder.StatusExtending
		return nil
	})
	if err != nil {
		return reply{}, err
	}
	if err := s.volumes.ExtendVolume(ctx, v, newSize); err != nil {
		s.rollback(ctx, &before, v)
		return reply{}, unreachable(err, "Could not ask cinder-volume to extend volume %s", v.ID)
	}
	return reply{status: http.StatusAccepted}, nil
}

// Values os-reset_status accepts (cinder/objects/fields.py).
var (
	volumeStatuses = []string{"creating", "available", "deleting", "error", "error_deleting", "error_managing",
		"managing", "attaching", "in-use", "detaching", "maintenance", "restoring-backup", "error_restoring",
		"reserved", "awaiting-transfer", "backing-up", "error_backing-up", "error_extending", "downloading",
		"uploading", "retyping", "extending"}
	attachStatuses    = []string{"attached", "detached"}
	migrationStatuses = []string{"migrating", "error", "success", "completing", "none", "starting"}
)

// resetStatus is os-reset_status (admin): sets status, attach_status
// and/or migration_status ("none" clears it) without checks beyond Cinder's.
func (s *server) resetStatus(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	const name = "os-reset_status"
	args, err := actionArgs(name, raw, "status", "attach_status", "migration_status")
	if err != nil {
		return reply{}, err
	}
	values := map[string]string{}
	for key, valid := range map[string][]string{"status": volumeStatuses, "attach_status": attachStatuses, "migration_status": migrationStatuses} {
		raw, ok := args[key]
		if !ok {
			continue
		}
		v, err := stringOf(key, raw, true, 0)
		if err != nil {
			return reply{}, err
		}
		if v = strings.ToLower(v); v == "" {
			continue
		}
		if !slices.Contains(valid, v) {
			return reply{}, invalidField(key, raw, "Volume %s: %s is invalid, valid statuses are: %s.",
				strings.ReplaceAll(key, "_", " "), v, strings.Join(valid, ", "))
		}
		values[key] = v
	}
	if len(values) == 0 {
		return reply{}, newFault(http.StatusBadRequest, "Must specify 'status', 'attach_status' or 'migration_status' for update.")
	}
	if err := requireAdmin(r, "volume_extension:volume_admin_actions:reset_status"); err != nil {
		return reply{}, err
	}
	switch values["status"] {
	case cinder.StatusDeleting, cinder.StatusErrorDelete, cinder.StatusDetaching:
		return reply{}, newFault(http.StatusBadRequest, "Cannot reset-state to %s", values["status"])
	case cinder.StatusInUse:
		return reply{}, newFault(http.StatusBadRequest, "Cannot reset-state to in-use because volume does not have any attachments.")
	}
	v, err := s.getVolume(r, id)
	if err != nil {
		return reply{}, err
	}
	_, err = s.store.UpdateVolume(context.WithoutCancel(r.Context()), v.ID, func(v *cinder.Volume) error {
		if st, ok := values["status"]; ok {
			v.Status = st
		}
		if st, ok := values["attach_status"]; ok {
			v.AttachStatus = st
		}
		if st, ok := values["migration_status"]; ok {
			if st == "none" {
				st = ""
			}
			v.MigrationStatus = st
		}
		return nil
	})
	return reply{status: http.StatusAccepted}, err
}

// forceDelete is os-force_delete (admin): delete in any status, though
// not while migrating or attached.
func (s *server) forceDelete(r *http.Request, id string, _ json.RawMessage) (reply, error) {
	v, err := s.getVolume(r, id)
	if err != nil {
		return reply{}, err
	}
	if err := requireAdmin(r, "volume_extension:volume_admin_actions:force_delete"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.removeVolume(context.WithoutCancel(r.Context()), v, true)
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

// placedVolume returns volume id for a connection action: it must be on a
// backend and not in maintenance.
func (s *server) placedVolume(r *http.Request, id, what string) (*cinder.Volume, error) {
	v, err := s.getVolume(r, id)
	if err != nil {
		return nil, err
	}
	if v.Status == cinder.StatusMaintenance {
		return nil, cinder.InvalidVolume("The volume connection cannot be %s in maintenance status.", what)
	}
	if v.Host == "" {
		return nil, cinder.InvalidVolume("Volume %s is not on a backend yet (status %s).", v.ID, v.Status)
	}
	return v, nil
}

// initializeConnection is os-initialize_connection {"connector": {…}}:
// 200 {"connection_info": …} from the volume's backend.
func (s *server) initializeConnection(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	conn, err := connector("os-initialize_connection", raw, false)
	if err != nil {
		return reply{}, err
	}
	v, err := s.placedVolume(r, id, "initialized")
	if err != nil {
		return reply{}, err
	}
	info, err := s.volumes.InitializeConnection(r.Context(), v, conn)
	if err != nil {
		if backendFailure(err) {
			logFailure(r.Context(), "initialize connection of volume "+v.ID, err)
			return reply{}, newFault(http.StatusInternalServerError, "Unable to fetch connection information from backend.")
		}
		return reply{}, unreachable(err, "Could not reach cinder-volume for volume %s", v.ID)
	}
	return reply{http.StatusOK, object{{"connection_info", info}}}, nil
}

// terminateConnection is os-terminate_connection {"connector": {…}}: 202.
func (s *server) terminateConnection(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	conn, err := connector("os-terminate_connection", raw, true)
	if err != nil {
		return reply{}, err
	}
	v, err := s.placedVolume(r, id, "terminated")
	if err != nil {
		return reply{}, err
	}
	if err := s.volumes.TerminateConnection(r.Context(), v, conn); err != nil {
		if backendFailure(err) {
			logFailure(r.Context(), "terminate connection of volume "+v.ID, err)
			return reply{}, newFault(http.StatusInternalServerError, "Unable to terminate volume connection from backend.")
		}
		return reply{}, unreachable(err, "Could not reach cinder-volume for volume %s", v.ID)
	}
	return reply{status: http.StatusAccepted}, nil
}

// logFailure logs a failure the answer does not detail.
func logFailure(ctx context.Context, what string, err error) {
	slog.Error("api: "+what+" failed", "request_id", cinder.FromContext(ctx).RequestID, "err", err)
}
