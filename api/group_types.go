package api

import (
	"errors"
	"maps"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/volume"
)

// mvGroupType is the microversion of /group_types and their group specs.
const mvGroupType = 11

// groupTypeView is a group type as Cinder's views/group_types.py shows it:
// its group specs only to those group:access_group_types_specs allows.
func (s *server) groupTypeView(r *http.Request, t *cinder.GroupType) object {
	o := object{{"id", t.ID}, {"name", t.Name}, {"description", orNull(t.Description)}, {"is_public", t.IsPublic}}
	if s.policy.Check(cinder.FromContext(r.Context()), "group:access_group_types_specs", nil) {
		o = append(o, member{"group_specs", t.GroupSpecs})
	}
	return o
}

// listGroupTypes answers GET /group_types: an admin may select is_public
// (true by default, "none" for all), others see the public types.
func (s *server) listGroupTypes(r *http.Request) (reply, error) {
	if err := since(r, mvGroupType); err != nil {
		return reply{}, err
	}
	p, err := pageOf(r)
	if err != nil {
		return reply{}, err
	}
	public := true
	f := db.GroupTypeFilter{IsPublic: &public, SortKey: p.sortKey, SortDescending: p.descending,
		Marker: p.marker, Offset: p.offset, Limit: p.limit}
	q := r.URL.Query()
	if cinder.FromContext(r.Context()).IsAdmin && q.Has("is_public") {
		v := q.Get("is_public")
		if strings.EqualFold(v, "none") {
			f.IsPublic = nil
		} else if b, ok := parseBool(v); ok {
			public = b
		} else {
			return reply{}, newFault(http.StatusBadRequest, "Invalid is_public filter [%s]", v)
		}
	}
	types, err := s.vol.ListGroupTypes(r.Context(), f)
	if err != nil {
		return reply{}, err
	}
	items := make([]object, len(types))
	for i, t := range types {
		items[i] = s.groupTypeView(r, t)
	}
	return reply{http.StatusOK, object{{"group_types", items}}}, nil
}

// showGroupType answers GET /group_types/{id}; "default" names the
// default_group_type, which this Cinder leaves unset, as Cinder's default.
func (s *server) showGroupType(r *http.Request) (reply, error) {
	if err := since(r, mvGroupType); err != nil {
		return reply{}, err
	}
	id := mux.Vars(r)["id"]
	if id == "default" {
		return reply{}, newFault(http.StatusNotFound, "Default group type can not be found.")
	}
	t, err := s.vol.GetGroupType(r.Context(), id)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"group_type", s.groupTypeView(r, t)}}}, nil
}

// createGroupType answers POST /group_types (admin) {"group_type": {"name",
// "description", "is_public", "group_specs"}}. 202.
func (s *server) createGroupType(r *http.Request) (reply, error) {
	if err := since(r, mvGroupType); err != nil {
		return reply{}, err
	}
	gt, err := readMember(r, "group_type")
	if err != nil {
		return reply{}, err
	}
	if err := gt.only("group_type", "name", "description", "is_public", "group_specs"); err != nil {
		return reply{}, err
	}
	if err := gt.required("group_type", "name"); err != nil {
		return reply{}, err
	}
	t := &cinder.GroupType{IsPublic: true}
	if t.Name, err = stringOf("name", gt["name"], false, maxNameLen); err != nil {
		return reply{}, err
	}
	if strings.TrimSpace(t.Name) == "" {
		return reply{}, newFault(http.StatusBadRequest, "Group type name can not be empty.")
	}
	if raw, ok := gt["description"]; ok {
		if t.Description, err = stringOf("description", raw, true, maxNameLen); err != nil {
			return reply{}, err
		}
	}
	if raw, ok := gt["is_public"]; ok {
		if t.IsPublic, err = boolOf("is_public", raw); err != nil {
			return reply{}, err
		}
	}
	if gt.present("group_specs") {
		if t.GroupSpecs, err = specsOf("group_specs", gt["group_specs"], specKey, false); err != nil {
			return reply{}, err
		}
	}
	if err := s.authorize(r, "group:group_types:create"); err != nil {
		return reply{}, err
	}
	if err := s.store.CreateGroupType(r.Context(), t); err != nil {
		return reply{}, err
	}
	return reply{http.StatusAccepted, object{{"group_type", s.groupTypeView(r, t)}}}, nil
}

// updateGroupType answers PUT /group_types/{id} (admin): name, description,
// is_public, at least one of them.
func (s *server) updateGroupType(r *http.Request) (reply, error) {
	if err := since(r, mvGroupType); err != nil {
		return reply{}, err
	}
	c, err := parseGroupTypeUpdate(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "group:group_types:update"); err != nil {
		return reply{}, err
	}
	t, err := s.vol.UpdateGroupType(r.Context(), mux.Vars(r)["id"], c)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"group_type", s.groupTypeView(r, t)}}}, nil
}

// parseGroupTypeUpdate validates a group type update body as Cinder's
// schema and controller: a null or empty name or a null description is
// left as it is, a blank name refused.
func parseGroupTypeUpdate(r *http.Request) (volume.GroupTypeChanges, error) {
	var c volume.GroupTypeChanges
	gt, err := readMember(r, "group_type")
	if err != nil {
		return c, err
	}
	if err := gt.only("group_type", "name", "description", "is_public"); err != nil {
		return c, err
	}
	if gt.present("name") {
		name, err := stringOf("name", gt["name"], true, maxNameLen)
		if err != nil {
			return c, err
		}
		if name != "" && strings.TrimSpace(name) == "" {
			return c, newFault(http.StatusBadRequest, "Group type name can not be empty.")
		}
		if name != "" {
			c.Name = &name
		}
	}
	if gt.present("description") {
		desc, err := stringOf("description", gt["description"], false, maxNameLen)
		if err != nil {
			return c, err
		}
		c.Description = &desc
	}
	if gt.present("is_public") {
		public, err := boolOf("is_public", gt["is_public"])
		if err != nil {
			return c, err
		}
		c.IsPublic = &public
	}
	if c == (volume.GroupTypeChanges{}) {
		return c, newFault(http.StatusBadRequest, "Specify group type name, description or a combination thereof.")
	}
	return c, nil
}

// deleteGroupType answers DELETE /group_types/{id} (admin): not one groups
// use, in Cinder's words. 202.
func (s *server) deleteGroupType(r *http.Request) (reply, error) {
	if err := since(r, mvGroupType); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "group:group_types:delete"); err != nil {
		return reply{}, err
	}
	err := s.store.DeleteGroupType(r.Context(), mux.Vars(r)["id"])
	if ce := (*cinder.Error)(nil); errors.As(err, &ce) && ce.Class == "GroupTypeInUse" {
		return reply{}, newFault(http.StatusBadRequest, "Target group type is still in use.")
	}
	return reply{status: http.StatusAccepted}, err
}

// groupSpecs returns the group specs of the URL's group type once rule
// allows the caller.
func (s *server) groupSpecs(r *http.Request, rule string) (map[string]string, error) {
	if err := since(r, mvGroupType); err != nil {
		return nil, err
	}
	if err := s.authorize(r, rule); err != nil {
		return nil, err
	}
	t, err := s.vol.GetGroupType(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return nil, err
	}
	return t.GroupSpecs, nil
}

// listGroupSpecs answers GET /group_types/{id}/group_specs (admin).
func (s *server) listGroupSpecs(r *http.Request) (reply, error) {
	specs, err := s.groupSpecs(r, "group:group_types_specs:get_all")
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"group_specs", specs}}}, nil
}

// showGroupSpec answers GET /group_types/{id}/group_specs/{key} (admin):
// {key: value}.
func (s *server) showGroupSpec(r *http.Request) (reply, error) {
	specs, err := s.groupSpecs(r, "group:group_types_specs:get")
	if err != nil {
		return reply{}, err
	}
	key := mux.Vars(r)["key"]
	v, ok := specs[key]
	if !ok {
		return reply{}, newFault(http.StatusNotFound, "Group Type %s has no extra spec with key %s.", mux.Vars(r)["id"], key)
	}
	return reply{http.StatusOK, object{{key, v}}}, nil
}

// createGroupSpecs answers POST /group_types/{id}/group_specs (admin)
// {"group_specs": {…}}: sets those specs, echoing the body. 202.
func (s *server) createGroupSpecs(r *http.Request) (reply, error) {
	if err := since(r, mvGroupType); err != nil {
		return reply{}, err
	}
	body, err := readObject(r, "group_specs")
	if err != nil {
		return reply{}, err
	}
	if err := body.only("", "group_specs"); err != nil {
		return reply{}, err
	}
	if !body.present("group_specs") {
		return reply{}, missingElement("group_specs")
	}
	specs, err := specsOf("group_specs", body["group_specs"], noSpaceKey, true)
	if err != nil {
		return reply{}, err
	}
	if err := s.setGroupSpecs(r, "group:group_types_specs:create", func(all map[string]string) error {
		maps.Copy(all, specs)
		return nil
	}); err != nil {
		return reply{}, err
	}
	return reply{http.StatusAccepted, object{{"group_specs", specs}}}, nil
}

// updateGroupSpec answers PUT /group_types/{id}/group_specs/{key} (admin)
// {key: value}, echoing it.
func (s *server) updateGroupSpec(r *http.Request) (reply, error) {
	if err := since(r, mvGroupType); err != nil {
		return reply{}, err
	}
	key, value, err := readOneSpec(r, "group_specs")
	if err != nil {
		return reply{}, err
	}
	if err := s.setGroupSpecs(r, "group:group_types_specs:update", func(all map[string]string) error {
		all[key] = value
		return nil
	}); err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{key, value}}}, nil
}

// deleteGroupSpec answers DELETE /group_types/{id}/group_specs/{key}
// (admin). 202.
func (s *server) deleteGroupSpec(r *http.Request) (reply, error) {
	if err := since(r, mvGroupType); err != nil {
		return reply{}, err
	}
	id, key := mux.Vars(r)["id"], mux.Vars(r)["key"]
	err := s.setGroupSpecs(r, "group:group_types_specs:delete", func(all map[string]string) error {
		if _, ok := all[key]; !ok {
			return cinder.Errorf("GroupTypeSpecsNotFound", http.StatusNotFound,
				"Group Type %s has no specs with key %s.", id, key)
		}
		delete(all, key)
		return nil
	})
	return reply{status: http.StatusAccepted}, err
}

// setGroupSpecs changes the group specs of the URL's group type with
// change once policy allows the caller.
func (s *server) setGroupSpecs(r *http.Request, policy string, change func(specs map[string]string) error) error {
	if err := s.authorize(r, policy); err != nil {
		return err
	}
	return s.vol.SetGroupSpecs(r.Context(), mux.Vars(r)["id"], change)
}
