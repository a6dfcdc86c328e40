package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/volume"
)

// Cinder's policies guarding volume type writes (all admin).
const (
	policyTypeCreate      = "volume_extension:type_create"
	policyTypeUpdate      = "volume_extension:type_update"
	policyTypeDelete      = "volume_extension:type_delete"
	policyExtraSpecCreate = "volume_extension:types_extra_specs:create"
	policyExtraSpecUpdate = "volume_extension:types_extra_specs:update"
	policyExtraSpecDelete = "volume_extension:types_extra_specs:delete"
)

// mvTypeFilter is the microversion from which every reader of types may
// filter them by extra_specs (an admin always may).
const mvTypeFilter = 52

// listTypes answers GET /types: the types the caller may see that is_public
// (admins only: true by default, "none" for all) and extra_specs select.
func (s *server) listTypes(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume_extension:type_get_all"); err != nil {
		return reply{}, err
	}
	q, err := s.typeQuery(r)
	if err != nil {
		return reply{}, err
	}
	types, err := s.vol.ListTypes(r.Context(), q)
	if err != nil {
		return reply{}, err
	}
	items := make([]object, len(types))
	for i, t := range types {
		items[i] = s.typeView(r, t)
	}
	return reply{http.StatusOK, object{{"volume_types", items}}}, nil
}

// typeQuery reads the filters of a type list: is_public, and extra_specs
// as a JSON object or the Python dict cinderclient sends.
func (s *server) typeQuery(r *http.Request) (volume.TypeQuery, error) {
	rc := cinder.FromContext(r.Context())
	public := true
	q := volume.TypeQuery{IsPublic: &public,
		ReadSensitive: s.policy.Check(rc, "volume_extension:types_extra_specs:read_sensitive", nil)}
	params := r.URL.Query()
	if rc.IsAdmin && params.Has("is_public") {
		p := params.Get("is_public")
		if strings.EqualFold(p, "none") {
			q.IsPublic = nil
		} else if b, ok := parseBool(p); ok {
			public = b
		} else {
			return q, newFault(http.StatusBadRequest, "Invalid is_public filter [%s]", p)
		}
	}
	if params.Has("extra_specs") && (rc.IsAdmin || ver(r).atLeast(mvTypeFilter)) {
		specs, ok := pyDict(params.Get("extra_specs"))
		if !ok {
			return q, cinder.InvalidInput("Invalid extra_specs filter %s: a dictionary of strings is expected.", params.Get("extra_specs"))
		}
		q.ExtraSpecs = specs
	}
	return q, nil
}

// typeView is a volume type as GET /types and GET /types/{id} answer it
// (cinder/api/v3/views/types.py), with the type-access extension's
// attribute when the policy shows it.
func (s *server) typeView(r *http.Request, t *cinder.VolumeType) object {
	rc := cinder.FromContext(r.Context())
	o := object{{"id", t.ID}, {"name", t.Name}, {"is_public", t.IsPublic}, {"description", orNull(t.Description)},
		{"extra_specs", s.visibleSpecs(r, t)}}
	if s.policy.Check(rc, "volume_extension:access_types_qos_specs_id", nil) {
		o = append(o, member{"qos_specs_id", orNull(t.QoSSpecsID)})
	}
	return s.withTypeAccess(r, o, t)
}

// typeManageView is a volume type as create and update answer it
// (cinder/api/views/types.py); create adds the type-access attribute.
func (s *server) typeManageView(r *http.Request, t *cinder.VolumeType, access bool) object {
	o := object{{"id", t.ID}, {"name", t.Name}, {"is_public", t.IsPublic}, {"extra_specs", s.visibleSpecs(r, t)},
		{"description", orNull(t.Description)}}
	if access {
		o = s.withTypeAccess(r, o, t)
	}
	return o
}

// withTypeAccess adds os-volume-type-access:is_public to o, the view of
// t, when volume_extension:volume_type_access allows the caller.
func (s *server) withTypeAccess(r *http.Request, o object, t *cinder.VolumeType) object {
	if s.policy.Check(cinder.FromContext(r.Context()), "volume_extension:volume_type_access", nil) {
		o = append(o, member{"os-volume-type-access:is_public", t.IsPublic})
	}
	return o
}

// getType returns the type of the URL, as the caller may see it, when
// rule allows the caller to read it.
func (s *server) getType(r *http.Request, rule string) (*cinder.VolumeType, error) {
	if err := s.authorize(r, rule); err != nil {
		return nil, err
	}
	return s.vol.GetType(r.Context(), mux.Vars(r)["id"])
}

// showType answers GET /types/{id}.
func (s *server) showType(r *http.Request) (reply, error) {
	t, err := s.getType(r, "volume_extension:type_get")
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"volume_type", s.typeView(r, t)}}}, nil
}

// createType answers POST /types (admin) {"volume_type": {"name", …}}.
func (s *server) createType(r *http.Request) (reply, error) {
	vt, err := readMember(r, "volume_type")
	if err != nil {
		return reply{}, err
	}
	if err := vt.only("volume_type", "name", "description", "extra_specs", "os-volume-type-access:is_public"); err != nil {
		return reply{}, err
	}
	if err := vt.required("volume_type", "name"); err != nil {
		return reply{}, err
	}
	t := &cinder.VolumeType{IsPublic: true}
	if t.Name, err = typeName(vt["name"], false); err != nil {
		return reply{}, err
	}
	if raw, ok := vt["description"]; ok {
		if t.Description, err = stringOf("description", raw, true, maxNameLen); err != nil {
			return reply{}, err
		}
	}
	if raw, ok := vt["extra_specs"]; ok {
		if t.ExtraSpecs, err = specsOf("extra_specs", raw, specKey, true); err != nil {
			return reply{}, err
		}
	}
	if raw, ok := vt["os-volume-type-access:is_public"]; ok {
		if t.IsPublic, err = boolOf("os-volume-type-access:is_public", raw); err != nil {
			return reply{}, err
		}
	}
	if err := s.authorize(r, policyTypeCreate); err != nil {
		return reply{}, err
	}
	if err := s.store.CreateVolumeType(r.Context(), t); err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"volume_type", s.typeManageView(r, t, true)}}}, nil
}

// typeName decodes a volume type name: 1 to 255 characters, not blank;
// null is "" when nullable.
func typeName(raw json.RawMessage, nullable bool) (string, error) {
	name, err := stringOf("name", raw, nullable, maxNameLen)
	if err != nil {
		return "", err
	}
	if kind(raw) == "string" && strings.TrimSpace(name) == "" {
		return "", newFault(http.StatusBadRequest, "Volume type name can not be empty.")
	}
	return name, nil
}

// updateType answers PUT /types/{id} (admin): name, description, is_public.
func (s *server) updateType(r *http.Request) (reply, error) {
	c, err := parseTypeUpdate(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, policyTypeUpdate); err != nil {
		return reply{}, err
	}
	t, err := s.vol.UpdateType(r.Context(), mux.Vars(r)["id"], c)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"volume_type", s.typeManageView(r, t, false)}}}, nil
}

// parseTypeUpdate validates a volume type update body; a null name
// leaves the name as it is.
func parseTypeUpdate(r *http.Request) (volume.TypeChanges, error) {
	var c volume.TypeChanges
	vt, err := readMember(r, "volume_type")
	if err != nil {
		return c, err
	}
	if err := vt.only("volume_type", "name", "description", "is_public"); err != nil {
		return c, err
	}
	if raw, ok := vt["name"]; ok {
		name, err := typeName(raw, true)
		if err != nil {
			return c, err
		}
		if name != "" {
			c.Name = &name
		}
	}
	if vt.present("description") {
		desc, err := stringOf("description", vt["description"], false, maxNameLen)
		if err != nil {
			return c, err
		}
		c.Description = &desc
	}
	if vt.present("is_public") {
		public, err := boolOf("is_public", vt["is_public"])
		if err != nil {
			return c, err
		}
		c.IsPublic = &public
	}
	if c == (volume.TypeChanges{}) {
		return c, newFault(http.StatusBadRequest, "Specify volume type name, description, is_public or a combination thereof.")
	}
	return c, nil
}

// deleteType answers DELETE /types/{id} (admin): not the default type, nor
// one volumes use. 202.
func (s *server) deleteType(r *http.Request) (reply, error) {
	if err := s.authorize(r, policyTypeDelete); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.DeleteType(r.Context(), mux.Vars(r)["id"])
}

// listExtraSpecs answers GET /types/{id}/extra_specs.
func (s *server) listExtraSpecs(r *http.Request) (reply, error) {
	t, err := s.getType(r, "volume_extension:types_extra_specs:index")
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"extra_specs", s.visibleSpecs(r, t)}}}, nil
}

// showExtraSpec answers GET /types/{id}/extra_specs/{key}: {key: value}.
func (s *server) showExtraSpec(r *http.Request) (reply, error) {
	t, err := s.getType(r, "volume_extension:types_extra_specs:show")
	if err != nil {
		return reply{}, err
	}
	key := mux.Vars(r)["key"]
	v, ok := s.visibleSpecs(r, t)[key]
	if !ok {
		return reply{}, specNotFound(t.ID, key)
	}
	return reply{http.StatusOK, object{{key, v}}}, nil
}

func specNotFound(typeID, key string) error {
	return cinder.Errorf("VolumeTypeExtraSpecsNotFound", http.StatusNotFound,
		"Volume Type %s has no extra specs with key %s.", typeID, key)
}

// createExtraSpecs answers POST /types/{id}/extra_specs (admin)
// {"extra_specs": {…}}: sets those specs, echoing them.
func (s *server) createExtraSpecs(r *http.Request) (reply, error) {
	body, err := readObject(r, "extra_specs")
	if err != nil {
		return reply{}, err
	}
	if err := body.only("", "extra_specs"); err != nil {
		return reply{}, err
	}
	raw, ok := body["extra_specs"]
	if !ok {
		return reply{}, missingElement("extra_specs")
	}
	specs, err := specsOf("extra_specs", raw, noSpaceKey, true)
	if err != nil {
		return reply{}, err
	}
	if err := s.setSpecs(r, policyExtraSpecCreate, func(all map[string]string) error {
		maps.Copy(all, specs)
		return nil
	}); err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"extra_specs", specs}}}, nil
}

// updateExtraSpec answers PUT /types/{id}/extra_specs/{key} (admin)
// {key: value}, echoing it.
func (s *server) updateExtraSpec(r *http.Request) (reply, error) {
	key, value, err := readOneSpec(r, "extra_specs")
	if err != nil {
		return reply{}, err
	}
	if err := s.setSpecs(r, policyExtraSpecUpdate, func(all map[string]string) error {
		all[key] = value
		return nil
	}); err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{key, value}}}, nil
}

// readOneSpec reads the body {key: value} of a PUT to a spec's URL, the
// URL's key and no other, as Cinder's spec update schemas.
func readOneSpec(r *http.Request, field string) (key, value string, err error) {
	key = mux.Vars(r)["key"]
	body, err := readObject(r, key)
	if err != nil {
		return "", "", err
	}
	raw, _ := json.Marshal(body)
	switch {
	case len(body) == 0:
		return "", "", newFault(http.StatusBadRequest, "%s does not have enough properties", pyRepr(raw))
	case len(body) > 1:
		return "", "", newFault(http.StatusBadRequest, "%s has too many properties", pyRepr(raw))
	}
	specs, err := specsOf(field, raw, noSpaceKey, true)
	if err != nil {
		return "", "", err
	}
	value, ok := specs[key]
	if !ok {
		return "", "", newFault(http.StatusBadRequest, "Request body and URI mismatch")
	}
	return key, value, nil
}

// deleteExtraSpec answers DELETE /types/{id}/extra_specs/{key} (admin). 202.
func (s *server) deleteExtraSpec(r *http.Request) (reply, error) {
	key := mux.Vars(r)["key"]
	err := s.setSpecs(r, policyExtraSpecDelete, func(all map[string]string) error {
		if _, ok := all[key]; !ok {
			return specNotFound(mux.Vars(r)["id"], key)
		}
		delete(all, key)
		return nil
	})
	return reply{status: http.StatusAccepted}, err
}

// setSpecs changes the extra specs of the URL's type with change, as the
// admin policy allows.
func (s *server) setSpecs(r *http.Request, policy string, change func(specs map[string]string) error) error {
	if err := s.authorize(r, policy); err != nil {
		return err
	}
	return s.vol.SetExtraSpecs(r.Context(), mux.Vars(r)["id"], change)
}
