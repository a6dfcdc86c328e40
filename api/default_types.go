package api

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// mvDefaultTypes is the microversion of /default-types.
const mvDefaultTypes = 62

// since answers as Cinder does a resource below the microversion that
// brings it (3.minor): 404, as if it did not exist.
func since(r *http.Request, minor int) error {
	if !ver(r).atLeast(minor) {
		return newFault(http.StatusNotFound, "The resource could not be found.")
	}
	return nil
}

// authorizeDefaults checks rule for the project of a default type, as
// Cinder's validate_project_and_authorize words a refusal.
func (s *server) authorizeDefaults(r *http.Request, rule, project string) error {
	var target map[string]string
	if project != "" {
		target = map[string]string{"project_id": project}
	}
	if !s.policy.Check(cinder.FromContext(r.Context()), rule, target) {
		return newFault(http.StatusForbidden, "You are not authorized to perform this operation.")
	}
	return nil
}

// defaultTypeView is a project's default type as /default-types shows it.
func defaultTypeView(d *db.DefaultType) object {
	return object{{"project_id", d.ProjectID}, {"volume_type_id", d.VolumeTypeID}}
}

// setDefaultType answers PUT /default-types/{project} (3.62, admin)
// {"default_type": {"volume_type": name or id}}.
func (s *server) setDefaultType(r *http.Request) (reply, error) {
	if err := since(r, mvDefaultTypes); err != nil {
		return reply{}, err
	}
	ref, err := parseDefaultType(r)
	if err != nil {
		return reply{}, err
	}
	project := mux.Vars(r)["id"]
	if err := s.authorizeDefaults(r, "volume_extension:default_set_or_update", project); err != nil {
		return reply{}, err
	}
	typeID, err := s.vol.SetDefaultType(r.Context(), project, ref)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"default_type", defaultTypeView(&db.DefaultType{ProjectID: project, VolumeTypeID: typeID})}}}, nil
}

// parseDefaultType reads {"default_type": {"volume_type": …}}, a name as
// Cinder's parameter_types.name.
func parseDefaultType(r *http.Request) (string, error) {
	body, err := readObject(r, "default_type")
	if err != nil {
		return "", err
	}
	raw, ok := body["default_type"]
	if !ok {
		return "", missingElement("default_type")
	}
	dt, err := objectOf("default_type", raw)
	if err == nil {
		err = dt.only("default_type", "volume_type")
	}
	if err == nil {
		err = dt.required("default_type", "volume_type")
	}
	if err != nil {
		return "", err
	}
	ref, err := stringOf("volume_type", dt["volume_type"], false, maxNameLen)
	switch {
	case err != nil:
		return "", err
	case ref == "":
		return "", invalidField("volume_type", dt["volume_type"], "'' is too short")
	case strings.TrimSpace(ref) == "":
		return "", invalidName("The 'name' can not be empty.")
	}
	return ref, nil
}

// showDefaultType answers GET /default-types/{project} (3.62, admin).
func (s *server) showDefaultType(r *http.Request) (reply, error) {
	if err := since(r, mvDefaultTypes); err != nil {
		return reply{}, err
	}
	project := mux.Vars(r)["id"]
	if err := s.authorizeDefaults(r, "volume_extension:default_get", project); err != nil {
		return reply{}, err
	}
	typeID, err := s.vol.GetDefaultType(r.Context(), project)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"default_type", defaultTypeView(&db.DefaultType{ProjectID: project, VolumeTypeID: typeID})}}}, nil
}

// listDefaultTypes answers GET /default-types (3.62, admin).
func (s *server) listDefaultTypes(r *http.Request) (reply, error) {
	if err := since(r, mvDefaultTypes); err != nil {
		return reply{}, err
	}
	if err := s.authorizeDefaults(r, "volume_extension:default_get_all", ""); err != nil {
		return reply{}, err
	}
	defaults, err := s.vol.ListDefaultTypes(r.Context())
	if err != nil {
		return reply{}, err
	}
	items := make([]object, len(defaults))
	for i, d := range defaults {
		items[i] = defaultTypeView(d)
	}
	return reply{http.StatusOK, object{{"default_types", items}}}, nil
}

// unsetDefaultType answers DELETE /default-types/{project} (3.62, admin): 204.
func (s *server) unsetDefaultType(r *http.Request) (reply, error) {
	if err := since(r, mvDefaultTypes); err != nil {
		return reply{}, err
	}
	project := mux.Vars(r)["id"]
	if err := s.authorizeDefaults(r, "volume_extension:default_unset", project); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusNoContent}, s.vol.UnsetDefaultType(r.Context(), project)
}
