package api

import (
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/volume"
)

// Microversions of group snapshots (cinder/api/microversions.py); all
// their routes need mvGroupSnapshots (3.14).
const (
	mvGroupSnapshotResetStatus = 19 // the group snapshot action reset_status
	mvGroupSnapshotPaging      = 29 // filters, sorting and paging of lists
	policyGroupSnapshotProject = "group:group_snapshot_project_attribute"
)

// groupSnapshotSummary is Cinder's summary view of a group snapshot, as
// create answers it: id, name and group_type_id.
func groupSnapshotSummary(gs *cinder.GroupSnapshot) object {
	return object{{"id", gs.ID}, {"name", orNull(gs.Name)}, {"group_type_id", gs.GroupTypeID}}
}

// groupSnapshotDetail is Cinder's detailed view of a group snapshot
// (views/group_snapshots.py), with project_id from 3.58 for those allowed.
func (s *server) groupSnapshotDetail(r *http.Request, gs *cinder.GroupSnapshot) object {
	o := object{{"id", gs.ID}, {"group_id", gs.GroupID}, {"group_type_id", gs.GroupTypeID}, {"status", gs.Status},
		{"created_at", gs.CreatedAt.UTC().Format(cinder.TimeLayout)}, {"name", orNull(gs.Name)},
		{"description", orNull(gs.Description)}}
	if ver(r).atLeast(mvGroupProjectID) && s.policy.Check(cinder.FromContext(r.Context()), policyGroupSnapshotProject, nil) {
		o = append(o, member{"project_id", gs.ProjectID})
	}
	return o
}

func (s *server) listGroupSnapshots(r *http.Request) (reply, error) {
	return s.groupSnapshotList(r, false)
}
func (s *server) listGroupSnapshotsDetail(r *http.Request) (reply, error) {
	return s.groupSnapshotList(r, true)
}

// groupSnapshotList answers GET /group_snapshots and its detail: the
// caller's group snapshots (with all_tenants, an admin's of every
// project), from 3.29 filtered by name, status and group_id, sorted and
// paged.
func (s *server) groupSnapshotList(r *http.Request, detail bool) (reply, error) {
	if err := since(r, mvGroupSnapshots); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "group:get_all_group_snapshots"); err != nil {
		return reply{}, err
	}
	f, limit, err := s.groupSnapshotFilter(r)
	if err != nil {
		return reply{}, err
	}
	list := []*cinder.GroupSnapshot{}
	if limit > 0 {
		if list, err = s.vol.ListGroupSnapshots(r.Context(), f); err != nil {
			return reply{}, err
		}
	}
	items := make([]object, len(list))
	for i, gs := range list {
		if detail {
			items[i] = s.groupSnapshotDetail(r, gs)
		} else {
			items[i] = object{{"id", gs.ID}, {"name", orNull(gs.Name)}}
		}
	}
	out := object{{"group_snapshots", items}}
	if len(list) > 0 && len(list) == limit {
		collection := map[bool]string{false: "group_snapshots", true: "group_snapshots/detail"}[detail]
		out = append(out, member{"group_snapshot_links", nextLink(r, collection, list[len(list)-1].ID)})
	}
	return reply{http.StatusOK, out}, nil
}

// groupSnapshotFilter reads a group snapshot list's filters and paging,
// as Cinder's _get_group_snapshots: before 3.29 none (the caller's
// project's, all_tenants ignored); a filter on what group snapshots lack
// selects none (limit 0).
func (s *server) groupSnapshotFilter(r *http.Request) (db.GroupSnapshotFilter, int, error) {
	f := db.GroupSnapshotFilter{ProjectID: cinder.FromContext(r.Context()).ProjectID, SortDescending: true}
	if !ver(r).atLeast(mvGroupSnapshotPaging) {
		return f, maxLimit, nil
	}
	var err error
	if f.ProjectID, err = listProject(r); err != nil {
		return f, 0, err
	}
	filters := filtersOf(r)
	if _, err := s.generalFilters(r, "group_snapshot", filters); err != nil {
		return f, 0, err
	}
	p, err := pageOf(r)
	if err != nil {
		return f, 0, err
	}
	f.SortKey, f.SortDescending, f.Marker, f.Offset, f.Limit = p.sortKey, p.descending, p.marker, p.offset, p.limit
	for k, v := range filters {
		switch k {
		case "all_tenants", "project_id":
		case "group_id":
			f.GroupID = v
		case "status":
			f.Status = v
		case "name", "display_name":
			f.Name = v
		default:
			return f, 0, nil
		}
	}
	return f, p.limit, nil
}

// showGroupSnapshot answers GET /group_snapshots/{id}.
func (s *server) showGroupSnapshot(r *http.Request) (reply, error) {
	if err := since(r, mvGroupSnapshots); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "group:get_group_snapshot"); err != nil {
		return reply{}, err
	}
	gs, err := s.vol.GetGroupSnapshot(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"group_snapshot", s.groupSnapshotDetail(r, gs)}}}, nil
}

// createGroupSnapshot answers POST /group_snapshots {"group_snapshot":
// {"group_id", "name", "description"}}: 202 with its summary.
func (s *server) createGroupSnapshot(r *http.Request) (reply, error) {
	if err := since(r, mvGroupSnapshots); err != nil {
		return reply{}, err
	}
	gs, err := readMember(r, "group_snapshot")
	if err != nil {
		return reply{}, err
	}
	if err := gs.only("group_snapshot", "group_id", "name", "description"); err != nil {
		return reply{}, err
	}
	if err := gs.required("group_snapshot", "group_id"); err != nil {
		return reply{}, err
	}
	var req volume.GroupSnapshotRequest
	if req.GroupID, err = uuidOf("group_id", gs["group_id"], false); err != nil {
		return reply{}, err
	}
	if req.Name, req.Description, err = groupTexts(gs); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "group:create_group_snapshot"); err != nil {
		return reply{}, err
	}
	created, err := s.vol.CreateGroupSnapshot(r.Context(), req)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusAccepted, object{{"group_snapshot", groupSnapshotSummary(created)}}}, nil
}

// deleteGroupSnapshot answers DELETE /group_snapshots/{id}: 202.
func (s *server) deleteGroupSnapshot(r *http.Request) (reply, error) {
	if err := since(r, mvGroupSnapshots); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "group:delete_group_snapshot"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.DeleteGroupSnapshot(r.Context(), mux.Vars(r)["id"])
}

// groupSnapshotAction answers POST /group_snapshots/{id}/action:
// reset_status {"status"} (3.19, admin).
func (s *server) groupSnapshotAction(r *http.Request) (reply, error) {
	if err := since(r, mvGroupSnapshots); err != nil {
		return reply{}, err
	}
	name, raw, err := actionOf(r)
	if err != nil {
		return reply{}, err
	}
	if name != "reset_status" {
		return reply{}, noSuchAction(name)
	}
	if err := since(r, mvGroupSnapshotResetStatus); err != nil {
		return reply{}, err
	}
	status, err := statusArg(name, raw)
	if err != nil {
		return reply{}, err
	}
	if status, err = volume.GroupSnapshotStatus(status); err != nil {
		return reply{}, err
	}
	id := mux.Vars(r)["id"]
	// Found first, as Cinder's controller gets it before the policy.
	if _, err := s.vol.GetGroupSnapshot(r.Context(), id); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "group:reset_group_snapshot_status"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.ResetGroupSnapshotStatus(r.Context(), id, status)
}

// createGroupFromSrc answers POST /groups/action {"create-from-src":
// {"group_snapshot_id" | "source_group_id", "name", "description"}}
// (3.14): 202 with the new group's summary. As Cinder's controller, a
// Cinder exception other than a source not found is a 400.
func (s *server) createGroupFromSrc(r *http.Request) (reply, error) {
	if err := since(r, mvGroupSnapshots); err != nil {
		return reply{}, err
	}
	name, raw, err := actionOf(r)
	if err != nil {
		return reply{}, err
	}
	if name != "create-from-src" {
		return reply{}, noSuchAction(name)
	}
	args, err := actionArgs(name, raw, "name", "description", "group_snapshot_id", "source_group_id")
	if err != nil {
		return reply{}, err
	}
	_, fromSnapshot := args["group_snapshot_id"]
	_, fromGroup := args["source_group_id"]
	switch {
	case fromSnapshot && fromGroup:
		return reply{}, invalidField(name, raw, "%s is valid under each of {'required': ['group_snapshot_id']}, {'required': ['source_group_id']}", pyRepr(raw))
	case !fromSnapshot && !fromGroup:
		return reply{}, invalidField(name, raw, "%s is not valid under any of the given schemas", pyRepr(raw))
	}
	var req volume.GroupFromSrcRequest
	if fromSnapshot {
		req.GroupSnapshotID, err = uuidOf("group_snapshot_id", args["group_snapshot_id"], false)
	} else {
		req.SourceGroupID, err = uuidOf("source_group_id", args["source_group_id"], false)
	}
	if err != nil {
		return reply{}, err
	}
	if req.Name, req.Description, err = groupTexts(args); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "group:create"); err != nil {
		return reply{}, err
	}
	g, err := s.vol.CreateGroupFromSrc(r.Context(), req)
	if ce := (*cinder.Error)(nil); errors.As(err, &ce) && ce.Code >= 400 && ce.Code < 500 && ce.Code != http.StatusNotFound {
		return reply{}, newFault(http.StatusBadRequest, "%s", ce.Message)
	}
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusAccepted, object{{"group", groupSummary(g)}}}, nil
}
