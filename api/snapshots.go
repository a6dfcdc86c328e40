package api

import (
	"encoding/json"
	"net/http"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/volume"
)

// Microversions of snapshot views and requests.
const (
	mvGroupSnapshots         = 14 // group_snapshot_id
	mvSnapshotMetadataFilter = 22 // metadata filter
	mvSnapshotUserID         = 41 // user_id
	mvSnapshotInUse          = 66 // in-use volumes without force
)

// snapshotView is Cinder's view of s (cinder/api/v3/views/snapshots.py);
// with extended, as show and detail answer, the extended snapshot
// attributes too when the policy shows them.
func (s *server) snapshotView(r *http.Request, snap *cinder.Snapshot, extended bool) object {
	o := object{
		{"id", snap.ID}, {"created_at", snap.CreatedAt.UTC().Format(cinder.TimeLayout)},
		{"updated_at", timeOrNull(snap.UpdatedAt)}, {"name", orNull(snap.DisplayName)},
		{"description", orNull(snap.DisplayDescription)}, {"volume_id", snap.VolumeID},
		{"status", snap.Status}, {"size", snap.VolumeSize}, {"metadata", metadataOf(snap.Metadata)},
	}
	mv := ver(r)
	if mv.atLeast(mvGroupSnapshots) {
		o = append(o, member{"group_snapshot_id", orNull(snap.GroupSnapshotID)})
	}
	if mv.atLeast(mvSnapshotUserID) {
		o = append(o, member{"user_id", snap.UserID})
	}
	if mv.atLeast(mvUseQuota) {
		o = append(o, member{"consumes_quota", snap.UseQuota})
	}
	if extended && s.policy.Check(cinder.FromContext(r.Context()), "volume_extension:extended_snapshot_attributes", nil) {
		o = append(o, member{"os-extended-snapshot-attributes:progress", snap.Progress},
			member{"os-extended-snapshot-attributes:project_id", snap.ProjectID})
	}
	return o
}

// metadataOf is m, never nil, for a view.
func metadataOf(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (s *server) listSnapshots(r *http.Request) (reply, error) { return s.snapshotList(r, false) }
func (s *server) listSnapshotsDetail(r *http.Request) (reply, error) {
	return s.snapshotList(r, true)
}

// snapshotList answers GET /snapshots and /snapshots/detail: paged, sorted,
// filtered by name, status and volume_id (all_tenants for admins), with
// the count from 3.45 when with_count is set; detail adds the extended
// snapshot attributes.
func (s *server) snapshotList(r *http.Request, detailed bool) (reply, error) {
	if err := s.authorize(r, "volume:get_all_snapshots"); err != nil {
		return reply{}, err
	}
	f, limit, withCount, err := s.snapshotFilter(r)
	if err != nil {
		return reply{}, err
	}
	f.Limit = limit
	snaps := []*cinder.Snapshot{}
	if limit > 0 {
		if snaps, err = s.store.ListSnapshots(r.Context(), f); err != nil {
			return reply{}, err
		}
	}
	items := make([]object, len(snaps))
	for i, snap := range snaps {
		items[i] = s.snapshotView(r, snap, detailed)
	}
	out := object{{"snapshots", items}}
	collection := map[bool]string{false: "snapshots", true: "snapshots/detail"}[detailed]
	if len(snaps) > 0 && len(snaps) == limit {
		out = append(out, member{"snapshots_links", nextLink(r, collection, snaps[len(snaps)-1].ID)})
	}
	if withCount {
		count, err := s.store.CountSnapshots(r.Context(), f)
		if err != nil {
			return reply{}, err
		}
		out = append(out, member{"count", count})
	}
	return reply{http.StatusOK, out}, nil
}

// snapshotFilterOptions are the filters a non-admin may use before 3.31
// (_get_snapshot_filter_options).
var snapshotFilterOptions = []string{"status", "volume_id", "name", "metadata"}

// snapshotAddedFilters are the snapshot filters of later microversions.
var snapshotAddedFilters = map[string]int{"metadata": mvSnapshotMetadataFilter, "use_quota": mvUseQuota}

// snapshotFilter reads the list parameters of a snapshot list as Cinder's
// snapshot lists: like and metadata filters, exact matches on columns,
// host and availability_zone of the volume; no time comparisons.
func (s *server) snapshotFilter(r *http.Request) (db.SnapshotFilter, int, bool, error) {
	var f db.SnapshotFilter
	p, err := pageOf(r)
	if err != nil {
		return f, 0, false, err
	}
	f.Marker, f.Offset, f.SortKey, f.SortDescending = p.marker, p.offset, p.sortKey, p.descending
	if f.ProjectID, err = listProject(r); err != nil {
		return f, 0, false, err
	}
	filters, err := s.listFilters(r, "snapshot", snapshotFilterOptions, snapshotAddedFilters)
	if err != nil {
		return f, 0, false, err
	}
	apart := popFilters(filters, "host", "availability_zone")
	f.Host, f.Zone = apart["host"], apart["availability_zone"]
	if err := matchFilters(&f.Match, filters, false, []string{"use_quota"}, true); err != nil {
		return f, 0, false, err
	}
	withCount := false
	if ver(r).atLeast(mvCount) {
		withCount, err = boolParam(r, "with_count", false)
	}
	return f, p.limit, withCount, err
}

// showSnapshot answers GET /snapshots/{id}.
func (s *server) showSnapshot(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume:get_snapshot"); err != nil {
		return reply{}, err
	}
	snap, err := s.vol.GetSnapshot(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"snapshot", s.snapshotView(r, snap, true)}}}, nil
}

// createSnapshot answers POST /snapshots: 202 with the snapshot, creating,
// once its volume's backend has been asked to take it.
func (s *server) createSnapshot(r *http.Request) (reply, error) {
	req, err := parseSnapshotCreate(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume:create_snapshot"); err != nil {
		return reply{}, err
	}
	snap, err := s.vol.CreateSnapshot(r.Context(), req)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusAccepted, object{{"snapshot", s.snapshotView(r, snap, false)}}}, nil
}

// parseSnapshotCreate validates a snapshot create body as Cinder's schema:
// from 3.66 an in-use volume needs no force, and force false is refused.
func parseSnapshotCreate(r *http.Request) (volume.SnapshotRequest, error) {
	var req volume.SnapshotRequest
	snap, err := readMember(r, "snapshot")
	if err != nil {
		return req, err
	}
	if err := snap.only("snapshot", "name", "display_name", "description", "display_description", "volume_id", "force", "metadata"); err != nil {
		return req, err
	}
	if err := snap.required("snapshot", "volume_id"); err != nil {
		return req, err
	}
	if req.VolumeID, err = stringOf("volume_id", snap["volume_id"], true, 0); err != nil {
		return req, err
	}
	if kind(snap["volume_id"]) == "null" {
		return req, cinder.VolumeNotFound("None") // as Cinder's get of None
	}
	if _, err := uuid.Parse(req.VolumeID); err != nil {
		return req, invalidField("volume_id", snap["volume_id"], "%s is not a 'uuid'", pyRepr(snap["volume_id"]))
	}
	if req.Name, req.Description, err = namesOf(snap); err != nil {
		return req, err
	}
	if snap.present("metadata") {
		if req.Metadata, err = specsOf("metadata", snap["metadata"], specKey, false); err != nil {
			return req, err
		}
	}
	inUse := ver(r).atLeast(mvSnapshotInUse)
	if raw, ok := snap["force"]; ok && kind(raw) != "null" {
		if req.Force, err = boolOf("force", raw); err != nil {
			return req, err
		}
		if inUse && !req.Force {
			return req, newFault(http.StatusBadRequest, "Since microversion 3.66 the 'force' flag is invalid for this request.  For backward compatability, however, when the 'force' flag is passed with a value evaluating to True, it is silently ignored.")
		}
	}
	req.Force = req.Force || inUse
	return req, nil
}

// namesOf decodes the name and description of an object: "name" wins
// over "display_name", "description" over "display_description".
func namesOf(o fields) (name, description string, err error) {
	for _, k := range []string{"display_name", "name", "display_description", "description"} {
		raw, ok := o[k]
		if !ok {
			continue
		}
		dst := &description
		if k == "display_name" || k == "name" {
			dst = &name
		}
		if *dst, err = nameOf(k, raw); err != nil {
			return "", "", err
		}
	}
	return name, description, nil
}

// updateSnapshot answers PUT /snapshots/{id}: name and description.
func (s *server) updateSnapshot(r *http.Request) (reply, error) {
	upd, err := readMember(r, "snapshot")
	if err != nil {
		return reply{}, err
	}
	if err := upd.only("snapshot", "name", "display_name", "description", "display_description"); err != nil {
		return reply{}, err
	}
	if len(upd) == 0 {
		return reply{}, newFault(http.StatusBadRequest, "Invalid input for field/attribute snapshot. Value: {}. {} does not have enough properties")
	}
	name, description, err := namesOf(upd)
	if err != nil {
		return reply{}, err
	}
	var c volume.SnapshotChanges
	if upd.present("name") || upd.present("display_name") {
		c.Name = &name
	}
	if upd.present("description") || upd.present("display_description") {
		c.Description = &description
	}
	if err := s.authorize(r, "volume:update_snapshot"); err != nil {
		return reply{}, err
	}
	snap, err := s.vol.UpdateSnapshot(r.Context(), mux.Vars(r)["id"], c)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"snapshot", s.snapshotView(r, snap, false)}}}, nil
}

// deleteSnapshot answers DELETE /snapshots/{id}: 202.
func (s *server) deleteSnapshot(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume:delete_snapshot"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.DeleteSnapshot(r.Context(), mux.Vars(r)["id"], false)
}

// snapshotAction answers POST /snapshots/{id}/action: os-reset_status
// (admin), os-force_delete (admin) and os-update_snapshot_status.
func (s *server) snapshotAction(r *http.Request) (reply, error) {
	name, args, err := actionOf(r)
	if err != nil {
		return reply{}, err
	}
	id := mux.Vars(r)["id"]
	switch name {
	case "os-force_delete":
		if _, err := s.vol.GetSnapshot(r.Context(), id); err != nil {
			return reply{}, err
		}
		if err := s.authorize(r, "volume_extension:snapshot_admin_actions:force_delete"); err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusAccepted}, s.vol.DeleteSnapshot(r.Context(), id, true)
	case "os-reset_status":
		status, err := statusArg(name, args)
		if err == nil {
			err = s.authorize(r, "volume_extension:snapshot_admin_actions:reset_status")
		}
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusAccepted}, s.vol.ResetSnapshotStatus(r.Context(), id, status)
	case "os-update_snapshot_status":
		return s.updateSnapshotStatus(r, id, args)
	case "os-unmanage":
		return s.unmanageSnapshot(r, id)
	}
	return reply{}, noSuchAction(name)
}

// statusArg reads the one argument of action name, a reset of a status:
// {"status": "<status>"}.
func statusArg(name string, raw json.RawMessage) (string, error) {
	a, err := actionArgs(name, raw, "status")
	if err == nil {
		err = a.required(name, "status")
	}
	if err != nil {
		return "", err
	}
	return stringOf("status", a["status"], false, 0)
}

// updateSnapshotStatus is os-update_snapshot_status {"status", "progress"}.
func (s *server) updateSnapshotStatus(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	const name = "os-update_snapshot_status"
	args, err := actionArgs(name, raw, "status", "progress")
	if err != nil {
		return reply{}, err
	}
	if err := args.required(name, "status"); err != nil {
		return reply{}, err
	}
	status, err := stringOf("status", args["status"], false, 0)
	if err != nil {
		return reply{}, err
	}
	progress := ""
	if raw, ok := args["progress"]; ok {
		if progress, err = stringOf("progress", raw, true, 0); err != nil {
			return reply{}, err
		}
	}
	if err := s.authorize(r, "snapshot_extension:snapshot_actions:update_snapshot_status"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.UpdateSnapshotStatus(r.Context(), id, status, progress)
}
