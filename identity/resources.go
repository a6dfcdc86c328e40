package identity

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// The read side of Keystone's API that clients use around tokens, under a
// simplified form of Keystone's default policy: a token with the admin role
// may read everything and create and delete projects; other tokens may read
// their own user and project, the domains and the roles.

type selfLink struct {
	Self string `json:"self"`
}

type domainView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Enabled     bool     `json:"enabled"`
	Tags        []string `json:"tags"`
	Options     struct{} `json:"options"`
	Links       selfLink `json:"links"`
}

type projectView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	DomainID    string   `json:"domain_id"`
	Description string   `json:"description"`
	Enabled     bool     `json:"enabled"`
	ParentID    string   `json:"parent_id"`
	IsDomain    bool     `json:"is_domain"`
	Tags        []string `json:"tags"`
	Options     struct{} `json:"options"`
	Links       selfLink `json:"links"`
}

type userView struct {
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	DomainID          string   `json:"domain_id"`
	Email             string   `json:"email,omitempty"`
	DefaultProjectID  string   `json:"default_project_id,omitempty"`
	Enabled           bool     `json:"enabled"`
	PasswordExpiresAt *string  `json:"password_expires_at"`
	Options           struct{} `json:"options"`
	Links             selfLink `json:"links"`
}

type roleView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	DomainID    *string  `json:"domain_id"`
	Description string   `json:"description"`
	Options     struct{} `json:"options"`
	Links       selfLink `json:"links"`
}

type assignmentView struct {
	Role  ref `json:"role"`
	User  ref `json:"user"`
	Scope struct {
		Project ref `json:"project"`
	} `json:"scope"`
	Links struct {
		Assignment string `json:"assignment"`
	} `json:"links"`
}

// admin reports whether t carries the admin role, which Keystone's default
// policy takes as the cloud's administrator whatever the project.
func (t *token) admin() bool {
	return slices.ContainsFunc(t.roles, func(r *role) bool { return r.name == "admin" })
}

// link is the URL of a resource under /v3.
func (h *Handler) link(r *http.Request, path ...string) selfLink {
	return selfLink{Self: h.baseURL(r) + "/v3/" + strings.Join(path, "/")}
}

// list answers a collection under key, with Keystone's links.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, key string, items any) error {
	writeJSON(w, http.StatusOK, map[string]any{
		key:     items,
		"links": map[string]any{"self": h.baseURL(r) + r.URL.EscapedPath(), "previous": nil, "next": nil},
	})
	return nil
}

// match reports whether the query's filter key, if set, is value.
func match(q url.Values, key, value string) bool {
	return !q.Has(key) || q.Get(key) == value
}

func (h *Handler) domainView(r *http.Request, d *domain) domainView {
	return domainView{ID: d.id, Name: d.name, Description: d.description, Enabled: true, Tags: []string{}, Links: h.link(r, "domains", d.id)}
}

func (h *Handler) projectView(r *http.Request, p *project) projectView {
	return projectView{
		ID: p.id, Name: p.name, DomainID: p.domain.id, Description: p.description, Enabled: true,
		ParentID: p.domain.id, Tags: []string{}, Links: h.link(r, "projects", p.id),
	}
}

func (h *Handler) userView(r *http.Request, u *user) userView {
	v := userView{ID: u.id, Name: u.name, DomainID: u.domain.id, Email: u.email, Enabled: true, Links: h.link(r, "users", u.id)}
	if u.defaultProject != nil {
		v.DefaultProjectID = u.defaultProject.id
	}
	return v
}

func (h *Handler) roleView(r *http.Request, x *role) roleView {
	return roleView{ID: x.id, Name: x.name, Description: x.description, Links: h.link(r, "roles", x.id)}
}

func (h *Handler) listDomains(w http.ResponseWriter, r *http.Request, _ *token) error {
	out := []domainView{}
	for _, d := range h.dir.domains {
		if match(r.URL.Query(), "name", d.name) {
			out = append(out, h.domainView(r, d))
		}
	}
	return h.list(w, r, "domains", out)
}

func (h *Handler) showDomain(w http.ResponseWriter, r *http.Request, _ *token) error {
	id := r.PathValue("id")
	d := h.dir.domainByID(id)
	if d == nil {
		return notFound("domain", id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"domain": h.domainView(r, d)})
	return nil
}

func (h *Handler) listRoles(w http.ResponseWriter, r *http.Request, _ *token) error {
	out := []roleView{}
	for _, x := range h.dir.roles {
		if match(r.URL.Query(), "name", x.name) {
			out = append(out, h.roleView(r, x))
		}
	}
	return h.list(w, r, "roles", out)
}

func (h *Handler) showRole(w http.ResponseWriter, r *http.Request, _ *token) error {
	id := r.PathValue("id")
	for _, x := range h.dir.roles {
		if x.id == id {
			writeJSON(w, http.StatusOK, map[string]any{"role": h.roleView(r, x)})
			return nil
		}
	}
	return notFound("role", id)
}

func (h *Handler) listProjects(w http.ResponseWriter, r *http.Request, caller *token) error {
	if !caller.admin() {
		return forbidden("list_projects")
	}
	q := r.URL.Query()
	h.dir.mu.RLock()
	defer h.dir.mu.RUnlock()
	out := []projectView{}
	for _, p := range h.dir.projects {
		if match(q, "name", p.name) && match(q, "domain_id", p.domain.id) {
			out = append(out, h.projectView(r, p))
		}
	}
	return h.list(w, r, "projects", out)
}

func (h *Handler) showProject(w http.ResponseWriter, r *http.Request, caller *token) error {
	id := r.PathValue("id")
	if !caller.admin() && (caller.project == nil || caller.project.id != id) {
		return forbidden("get_project")
	}
	h.dir.mu.RLock()
	defer h.dir.mu.RUnlock()
	p := h.dir.project(id)
	if p == nil {
		return notFound("project", id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": h.projectView(r, p)})
	return nil
}

// createProject adds a project until the process ends, as Tempest's quota
// class tests do; it has no role assignments.
func (h *Handler) createProject(w http.ResponseWriter, r *http.Request, caller *token) error {
	if !caller.admin() {
		return forbidden("create_project")
	}
	var body struct {
		Project struct {
			Name        string `json:"name"`
			DomainID    string `json:"domain_id"`
			Description string `json:"description"`
			ParentID    string `json:"parent_id"`
			IsDomain    bool   `json:"is_domain"`
		} `json:"project"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		return badRequest("The request body is not valid JSON: %v.", err)
	}
	x := body.Project
	if x.Name == "" {
		return badRequest("Expecting to find name in project.")
	}
	if x.IsDomain {
		return badRequest("Projects acting as domains are not supported.")
	}
	dom, _ := h.dir.domainNamed("") // Keystone's default_domain_id
	if x.DomainID != "" {
		dom = h.dir.domainByID(x.DomainID)
	}
	if dom == nil {
		return badRequest("Could not find domain: %s.", x.DomainID)
	}
	if x.ParentID != "" && x.ParentID != dom.id {
		return badRequest("Hierarchical projects are not supported.")
	}
	h.dir.mu.Lock()
	defer h.dir.mu.Unlock()
	if h.dir.projectNamed(x.Name, dom) != nil {
		return &httpError{code: http.StatusConflict, msg: "Conflict occurred attempting to store project - Duplicate entry found with name " + x.Name + " at domain ID " + dom.id + "."}
	}
	p := &project{id: strings.ReplaceAll(uuid.NewString(), "-", ""), name: x.Name, description: x.Description, domain: dom}
	h.dir.projects = append(h.dir.projects, p)
	writeJSON(w, http.StatusCreated, map[string]any{"project": h.projectView(r, p)})
	return nil
}

// deleteProject removes a project, its role assignments and so the tokens
// scoped to it.
func (h *Handler) deleteProject(w http.ResponseWriter, r *http.Request, caller *token) error {
	if !caller.admin() {
		return forbidden("delete_project")
	}
	id := r.PathValue("id")
	h.dir.mu.Lock()
	defer h.dir.mu.Unlock()
	p := h.dir.project(id)
	if p == nil {
		return notFound("project", id)
	}
	h.dir.projects = slices.DeleteFunc(h.dir.projects, func(x *project) bool { return x == p })
	for _, u := range h.dir.users {
		delete(u.roles, p)
		if u.defaultProject == p {
			u.defaultProject = nil
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, caller *token) error {
	if !caller.admin() {
		return forbidden("list_users")
	}
	q := r.URL.Query()
	h.dir.mu.RLock()
	defer h.dir.mu.RUnlock()
	out := []userView{}
	for _, u := range h.dir.users {
		if match(q, "name", u.name) && match(q, "domain_id", u.domain.id) {
			out = append(out, h.userView(r, u))
		}
	}
	return h.list(w, r, "users", out)
}

// user returns the user id if caller may read it, for action.
func (h *Handler) user(caller *token, id, action string) (*user, error) {
	if !caller.admin() && caller.user.id != id {
		return nil, forbidden(action)
	}
	for _, u := range h.dir.users {
		if u.id == id {
			return u, nil
		}
	}
	return nil, notFound("user", id)
}

func (h *Handler) showUser(w http.ResponseWriter, r *http.Request, caller *token) error {
	h.dir.mu.RLock()
	defer h.dir.mu.RUnlock()
	u, err := h.user(caller, r.PathValue("id"), "get_user")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": h.userView(r, u)})
	return nil
}

func (h *Handler) userProjects(w http.ResponseWriter, r *http.Request, caller *token) error {
	h.dir.mu.RLock()
	defer h.dir.mu.RUnlock()
	u, err := h.user(caller, r.PathValue("id"), "list_user_projects")
	if err != nil {
		return err
	}
	return h.list(w, r, "projects", h.projectsOf(r, u))
}

// authProjects answers GET /v3/auth/projects: the projects the caller may
// scope to.
func (h *Handler) authProjects(w http.ResponseWriter, r *http.Request, caller *token) error {
	h.dir.mu.RLock()
	defer h.dir.mu.RUnlock()
	return h.list(w, r, "projects", h.projectsOf(r, caller.user))
}

// projectsOf lists the projects u has roles on. The caller holds mu.
func (h *Handler) projectsOf(r *http.Request, u *user) []projectView {
	out := []projectView{}
	for _, p := range h.dir.projects {
		if len(u.roles[p]) > 0 {
			out = append(out, h.projectView(r, p))
		}
	}
	return out
}

// listRoleAssignments answers GET /v3/role_assignments, with its filters
// user.id, scope.project.id and role.id, and its flags effective (roles
// implied too) and include_names.
func (h *Handler) listRoleAssignments(w http.ResponseWriter, r *http.Request, caller *token) error {
	if !caller.admin() {
		return forbidden("list_role_assignments")
	}
	q := r.URL.Query()
	names := q.Has("include_names") && q.Get("include_names") != "false" && q.Get("include_names") != "0"
	h.dir.mu.RLock()
	defer h.dir.mu.RUnlock()
	out := []assignmentView{}
	for _, u := range h.dir.users {
		for _, p := range h.dir.projects {
			if !match(q, "user.id", u.id) || !match(q, "scope.project.id", p.id) {
				continue
			}
			rs := u.roles[p]
			if q.Has("effective") {
				rs = u.rolesOn(p)
			}
			for _, x := range rs {
				if !match(q, "role.id", x.id) {
					continue
				}
				var a assignmentView
				a.Role, a.User, a.Scope.Project = ref{ID: x.id}, ref{ID: u.id}, ref{ID: p.id}
				if names {
					a.Role.Name = x.name
					a.User.Name, a.User.Domain = u.name, domainRef(u.domain)
					a.Scope.Project.Name, a.Scope.Project.Domain = p.name, domainRef(p.domain)
				}
				a.Links.Assignment = h.link(r, "projects", p.id, "users", u.id, "roles", x.id).Self
				out = append(out, a)
			}
		}
	}
	return h.list(w, r, "role_assignments", out)
}
