package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/volume"
)

// Microversions of generic volume groups (cinder/api/microversions.py);
// mvGroupSnapshots (3.14) adds group_snapshot_id and source_group_id to a
// group's view.
const (
	mvGroupResetStatus    = 20 // the group action reset_status
	mvGroupVolumeList     = 25 // a group's volumes with list_volume
	mvGroupReplication    = 38 // replication_status in a group's view
	mvGroupProjectID      = 58 // project_id in a group's view, for those allowed
	policyGroupProjectAtt = "group:group_project_attribute"
)

// groupSummary is Cinder's summary view of a group: id and name.
func groupSummary(g *cinder.Group) object {
	return object{{"id", g.ID}, {"name", orNull(g.Name)}}
}

// groupDetail is Cinder's detailed view of a group (views/groups.py), with
// its volumes from 3.25 when list_volume asks for them.
func (s *server) groupDetail(r *http.Request, g *cinder.Group) (object, error) {
	o := object{{"id", g.ID}, {"status", g.Status}, {"availability_zone", g.AvailabilityZone},
		{"created_at", g.CreatedAt.UTC().Format(cinder.TimeLayout)}, {"name", orNull(g.Name)},
		{"description", orNull(g.Description)}, {"group_type", g.GroupTypeID}, {"volume_types", g.VolumeTypeIDs}}
	mv := ver(r)
	if mv.atLeast(mvGroupSnapshots) {
		o = append(o, member{"group_snapshot_id", orNull(g.GroupSnapshotID)}, member{"source_group_id", orNull(g.SourceGroupID)})
	}
	if mv.atLeast(mvGroupVolumeList) {
		list, err := boolParam(r, "list_volume", false)
		if err != nil {
			return nil, err
		}
		if list {
			vols, err := s.vol.GroupVolumes(r.Context(), g)
			if err != nil {
				return nil, err
			}
			ids := make([]string, len(vols))
			for i, v := range vols {
				ids[i] = v.ID
			}
			o = append(o, member{"volumes", ids})
		}
	}
	if mv.atLeast(mvGroupReplication) {
		o = append(o, member{"replication_status", orNull(g.ReplicationStatus)})
	}
	if mv.atLeast(mvGroupProjectID) && s.policy.Check(cinder.FromContext(r.Context()), policyGroupProjectAtt, nil) {
		o = append(o, member{"project_id", g.ProjectID})
	}
	return o, nil
}

// listGroups answers GET /groups: summaries of the caller's groups (with
// all_tenants, an admin's of every project).
func (s *server) listGroups(r *http.Request) (reply, error) { return s.groupList(r, false) }

// listGroupsDetail answers GET /groups/detail.
func (s *server) listGroupsDetail(r *http.Request) (reply, error) { return s.groupList(r, true) }

func (s *server) groupList(r *http.Request, detail bool) (reply, error) {
	if err := since(r, mvGroupVolume); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "group:get_all"); err != nil {
		return reply{}, err
	}
	project, err := listProject(r)
	if err != nil {
		return reply{}, err
	}
	p, err := pageOf(r)
	if err != nil {
		return reply{}, err
	}
	groups, err := s.vol.ListGroups(r.Context(), db.GroupFilter{ProjectID: project, SortKey: p.sortKey,
		SortDescending: p.descending, Marker: p.marker, Offset: p.offset, Limit: p.limit})
	if err != nil {
		return reply{}, err
	}
	items := make([]object, len(groups))
	for i, g := range groups {
		if !detail {
			items[i] = groupSummary(g)
		} else if items[i], err = s.groupDetail(r, g); err != nil {
			return reply{}, err
		}
	}
	return reply{http.StatusOK, object{{"groups", items}}}, nil
}

// showGroup answers GET /groups/{id}.
func (s *server) showGroup(r *http.Request) (reply, error) {
	if err := since(r, mvGroupVolume); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "group:get"); err != nil {
		return reply{}, err
	}
	g, err := s.vol.GetGroup(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	o, err := s.groupDetail(r, g)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"group", o}}}, nil
}

// createGroup answers POST /groups {"group": {"group_type", "volume_types",
// "name", "description", "availability_zone"}}: 202 with its summary.
func (s *server) createGroup(r *http.Request) (reply, error) {
	if err := since(r, mvGroupVolume); err != nil {
		return reply{}, err
	}
	g, err := readMember(r, "group")
	if err != nil {
		return reply{}, err
	}
	if err := g.only("group", "name", "description", "group_type", "volume_types", "availability_zone"); err != nil {
		return reply{}, err
	}
	for _, k := range []string{"group_type", "volume_types"} {
		if err := g.required("group", k); err != nil {
			return reply{}, err
		}
	}
	var req volume.GroupRequest
	if req.Name, req.Description, err = groupTexts(g); err != nil {
		return reply{}, err
	}
	if req.GroupType, err = stringOf("group_type", g["group_type"], false, 0); err != nil {
		return reply{}, err
	}
	if strings.TrimSpace(req.GroupType) == "" {
		return reply{}, invalidField("group_type", g["group_type"], "%s is not a 'group_type'", pyRepr(g["group_type"]))
	}
	if req.VolumeTypes, err = groupVolumeTypes(g["volume_types"]); err != nil {
		return reply{}, err
	}
	if raw, ok := g["availability_zone"]; ok {
		if req.AvailabilityZone, err = stringOf("availability_zone", raw, true, maxNameLen); err != nil {
			return reply{}, err
		}
	}
	if err := s.authorize(r, "group:create"); err != nil {
		return reply{}, err
	}
	created, err := s.vol.CreateGroup(r.Context(), req)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusAccepted, object{{"group", groupSummary(created)}}}, nil
}

// groupTexts decodes a group's name (null or up to 255 characters) and
// description, stripped of surrounding spaces as Cinder does.
func groupTexts(g fields) (name, desc string, err error) {
	if raw, ok := g["name"]; ok {
		if name, err = stringOf("name", raw, true, maxNameLen); err != nil {
			return "", "", err
		}
	}
	if raw, ok := g["description"]; ok {
		if desc, err = stringOf("description", raw, true, maxNameLen); err != nil {
			return "", "", err
		}
	}
	return strings.TrimSpace(name), strings.TrimSpace(desc), nil
}

// groupVolumeTypes decodes a group's volume_types: a non-empty array of
// distinct strings of at most 255 characters.
func groupVolumeTypes(raw json.RawMessage) ([]string, error) {
	var items []json.RawMessage
	if kind(raw) != "array" || json.Unmarshal(raw, &items) != nil {
		return nil, invalidField("volume_types", raw, "%s is not of type 'array'", pyRepr(raw))
	}
	if len(items) == 0 {
		return nil, invalidField("volume_types", raw, "[] is too short")
	}
	types := make([]string, len(items))
	for i, item := range items {
		t, err := stringOf("volume_types", item, false, maxNameLen)
		if err != nil {
			return nil, err
		}
		if slices.Contains(types[:i], t) {
			return nil, invalidField("volume_types", raw, "%s has non-unique elements", pyRepr(raw))
		}
		types[i] = t
	}
	return types, nil
}

// updateGroup answers PUT /groups/{id} {"group": {"name", "description",
// "add_volumes", "remove_volumes"}}, the volumes as comma-separated ids. 202.
func (s *server) updateGroup(r *http.Request) (reply, error) {
	if err := since(r, mvGroupVolume); err != nil {
		return reply{}, err
	}
	g, err := readMember(r, "group")
	if err != nil {
		return reply{}, err
	}
	if err := g.only("group", "name", "description", "add_volumes", "remove_volumes"); err != nil {
		return reply{}, err
	}
	if len(g) == 0 {
		return reply{}, invalidField("group", json.RawMessage("{}"), "{} is not valid under any of the given schemas")
	}
	var c volume.GroupChanges
	name, desc, err := groupTexts(g)
	if err != nil {
		return reply{}, err
	}
	if g.present("name") {
		c.Name = &name
	}
	if g.present("description") {
		c.Description = &desc
	}
	for key, dst := range map[string]*[]string{"add_volumes": &c.Add, "remove_volumes": &c.Remove} {
		if raw, ok := g[key]; ok {
			ids, err := stringOf(key, raw, true, maxNameLen)
			if err != nil {
				return reply{}, err
			}
			if ids = strings.Trim(ids, ","); ids != "" {
				*dst = strings.Split(ids, ",")
			}
		}
	}
	if err := s.authorize(r, "group:update"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.UpdateGroup(r.Context(), mux.Vars(r)["id"], c)
}

// groupAction answers POST /groups/{id}/action: delete {"delete-volumes"}
// and reset_status {"status"} (3.20, admin).
func (s *server) groupAction(r *http.Request) (reply, error) {
	if err := since(r, mvGroupVolume); err != nil {
		return reply{}, err
	}
	name, raw, err := actionOf(r)
	if err != nil {
		return reply{}, err
	}
	id := mux.Vars(r)["id"]
	switch {
	case name == "delete":
		args, err := actionArgs(name, raw, "delete-volumes")
		if err != nil {
			return reply{}, err
		}
		deleteVolumes := false
		if v, ok := args["delete-volumes"]; ok {
			if deleteVolumes, err = boolOf("delete-volumes", v); err != nil {
				return reply{}, err
			}
		}
		if err := s.authorize(r, "group:delete"); err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusAccepted}, s.vol.DeleteGroup(r.Context(), id, deleteVolumes)
	case name == "reset_status" && ver(r).atLeast(mvGroupResetStatus):
		status, err := statusArg(name, raw)
		if err != nil {
			return reply{}, err
		}
		status = strings.ToLower(status)
		if !slices.Contains(volume.GroupStatuses, status) {
			return reply{}, newFault(http.StatusBadRequest, "Invalid input for field/attribute status. Value: %s. '%s' is not a 'group_status'", status, status)
		}
		// Found first, as Cinder's controller gets the group before the policy.
		if _, err := s.vol.GetGroup(r.Context(), id); err != nil {
			return reply{}, err
		}
		if err := s.authorize(r, "group:reset_status"); err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusAccepted}, s.vol.ResetGroupStatus(r.Context(), id, status)
	}
	return reply{}, noSuchAction(name)
}
