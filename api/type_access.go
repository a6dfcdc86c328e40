package api

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// listTypeAccess answers GET /types/{id}/os-volume-type-access (admin):
// the projects with access to a private type.
func (s *server) listTypeAccess(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume_extension:volume_type_access:get_all_for_type"); err != nil {
		return reply{}, err
	}
	t, projects, err := s.vol.TypeProjects(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	items := make([]object, len(projects))
	for i, p := range projects {
		items[i] = object{{"volume_type_id", t.ID}, {"project_id", p}}
	}
	return reply{http.StatusOK, object{{"volume_type_access", items}}}, nil
}

// typeAction answers POST /types/{id}/action: addProjectAccess and
// removeProjectAccess {"project": uuid} (admin) on a private type: 202.
func (s *server) typeAction(r *http.Request) (reply, error) {
	name, raw, err := actionOf(r)
	if err != nil {
		return reply{}, err
	}
	rules := map[string]string{
		"addProjectAccess":    "volume_extension:volume_type_access:addProjectAccess",
		"removeProjectAccess": "volume_extension:volume_type_access:removeProjectAccess",
	}
	rule, ok := rules[name]
	if !ok {
		return reply{}, noSuchAction(name)
	}
	project, err := projectArg(name, raw)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, rule); err != nil {
		return reply{}, err
	}
	err = s.vol.SetTypeAccess(r.Context(), mux.Vars(r)["id"], project, name == "addProjectAccess")
	return reply{status: http.StatusAccepted}, err
}

// projectArg reads the argument of a type access action: {"project": uuid}.
func projectArg(name string, raw json.RawMessage) (string, error) {
	args, err := actionArgs(name, raw, "project")
	if err == nil {
		err = args.required(name, "project")
	}
	if err != nil {
		return "", err
	}
	project, err := stringOf("project", args["project"], false, 0)
	if err != nil {
		return "", err
	}
	if !uuidLike(project) {
		return "", invalidField("project", args["project"], "%s is not a 'uuid'", pyRepr(args["project"]))
	}
	return project, nil
}

// uuidLike reports whether s is a UUID as oslo's is_uuid_like reads one:
// 32 hexadecimal digits and hyphens, in braces or after "urn:uuid:" or not.
func uuidLike(s string) bool {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "urn:", ""), "uuid:", "")
	s = strings.ReplaceAll(strings.Trim(s, "{}"), "-", "")
	_, err := hex.DecodeString(s)
	return len(s) == 32 && err == nil
}
