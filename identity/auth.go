package identity

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// ref names an object by id, or by name and, for projects and users, domain.
type ref struct {
	ID     string `json:"id,omitempty"`
	Name   string `json:"name,omitempty"`
	Domain *ref   `json:"domain,omitempty"`
}

// authRequest is the body of POST /v3/auth/tokens.
type authRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User struct {
					ref
					Password string `json:"password"`
				} `json:"user"`
			} `json:"password"`
			Token *struct {
				ID string `json:"id"`
			} `json:"token"`
		} `json:"identity"`
		// Scope is an object, or the string "unscoped" that refuses the
		// user's default project.
		Scope json.RawMessage `json:"scope"`
	} `json:"auth"`
}

// scope is what a token is asked to be scoped to.
type scope struct {
	Project *ref            `json:"project"`
	Domain  *ref            `json:"domain"`
	System  json.RawMessage `json:"system"`
	Trust   json.RawMessage `json:"OS-TRUST:trust"`
}

// timeFormat is Keystone's, which Tempest parses strictly.
const timeFormat = "2006-01-02T15:04:05.000000Z"

// issue answers POST /v3/auth/tokens: authenticates by password or token
// and issues a token, scoped as asked or to the user's default project.
func (h *Handler) issue(w http.ResponseWriter, r *http.Request) error {
	var req authRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		return badRequest("The request body is not valid JSON: %v.", err)
	}
	id := req.Auth.Identity
	if len(id.Methods) == 0 {
		return badRequest("Expecting to find methods in identity. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
	}
	var old *token // the token of the token method, looked up unlocked
	if id.Token != nil {
		old = h.lookup(id.Token.ID)
	}
	now := h.conf.Now().UTC()
	t := &token{id: randomID(32), issued: now, expires: now.Add(h.dir.expiration), auditIDs: []string{randomID(16)}}
	h.dir.mu.RLock()
	defer h.dir.mu.RUnlock()
	for _, m := range id.Methods {
		var u *user
		switch {
		case m == "password" && id.Password != nil:
			p := id.Password.User
			var err error
			if u, err = h.dir.findUser(p.ref); err != nil {
				return err
			}
			if subtle.ConstantTimeCompare([]byte(p.Password), []byte(u.password)) != 1 {
				return unauthorized(fmt.Errorf("wrong password for user %s", u.name))
			}
		case m == "token" && id.Token != nil:
			if old == nil {
				return unauthorized(errors.New("authenticated with an invalid token"))
			}
			u = old.user
			// A token from a token lives no longer and stays in its chain.
			t.expires = old.expires
			t.auditIDs = append(t.auditIDs, old.auditIDs[len(old.auditIDs)-1])
			t.methods = append(t.methods, old.methods...)
		case m == "password" || m == "token":
			return badRequest("Expecting to find %s in identity.", m)
		default:
			return unauthorized(fmt.Errorf("unsupported method %q", m))
		}
		if t.user != nil && t.user != u {
			return unauthorized(errors.New("methods authenticate different users"))
		}
		t.user = u
		t.methods = append(t.methods, m)
	}
	slices.Sort(t.methods)
	t.methods = slices.Compact(t.methods)
	if err := h.scope(t, req.Auth.Scope); err != nil {
		return err
	}
	h.tokens.add(t, now)
	w.Header().Set("X-Subject-Token", t.id)
	writeJSON(w, http.StatusCreated, h.view(r, t))
	return nil
}

// findUser returns the user of the password method. The caller holds mu.
func (dir *directory) findUser(x ref) (*user, error) {
	if x.ID != "" {
		for _, u := range dir.users {
			if u.id == x.ID {
				return u, nil
			}
		}
		return nil, unauthorized(fmt.Errorf("no user with id %q", x.ID))
	}
	if x.Name == "" {
		return nil, badRequest("Expecting to find id or name in user.")
	}
	dom, err := dir.findDomain(x.Domain, "user")
	if err != nil {
		return nil, err
	}
	if u := dir.userNamed(x.Name, dom); u != nil {
		return u, nil
	}
	return nil, unauthorized(fmt.Errorf("no user %q in domain %s", x.Name, dom.name))
}

// findDomain returns the domain of a user or project named in a request.
// Unlike Keystone, which answers 400, it takes no domain for Default, so
// that the openstack CLI needs no domain options.
func (dir *directory) findDomain(x *ref, of string) (*domain, error) {
	if x == nil || (x.ID == "" && x.Name == "") {
		if d := dir.domain(defaultDomain); d != nil {
			return d, nil
		}
		return nil, badRequest("Expecting to find domain in %s.", of)
	}
	for _, d := range dir.domains {
		if (x.ID != "" && d.id == x.ID) || (x.ID == "" && d.name == x.Name) {
			return d, nil
		}
	}
	return nil, unauthorized(fmt.Errorf("no domain %+v", *x))
}

// scope scopes t as raw asks, if at all, giving it its roles. The caller
// holds mu.
func (h *Handler) scope(t *token, raw json.RawMessage) error {
	var s scope
	var str string
	switch {
	case len(raw) == 0 || string(raw) == "null":
		if t.user.defaultProject != nil && len(t.user.rolesOn(t.user.defaultProject)) > 0 {
			s.Project = &ref{ID: t.user.defaultProject.id}
		}
	case json.Unmarshal(raw, &str) == nil:
		if str != "unscoped" {
			return badRequest("Invalid scope %q.", str)
		}
	default:
		if err := json.Unmarshal(raw, &s); err != nil {
			return badRequest("Invalid scope: %v.", err)
		}
	}
	n := 0
	for _, set := range []bool{s.Project != nil, s.Domain != nil, s.System != nil, s.Trust != nil} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return badRequest("Expecting to find only one of project, domain, system or OS-TRUST:trust in scope.")
	case s.Domain != nil || s.System != nil || s.Trust != nil:
		return &httpError{code: http.StatusUnauthorized, msg: "This identity endpoint (cinder-go's) scopes tokens to projects only: domain, system and trust scopes are not supported."}
	case s.Project == nil:
		return nil
	}
	p, err := h.dir.findProject(*s.Project)
	if err != nil {
		return err
	}
	if t.roles = t.user.rolesOn(p); len(t.roles) == 0 {
		return unauthorized(fmt.Errorf("user %s has no role on project %s", t.user.name, p.name))
	}
	t.project = p
	return nil
}

// findProject returns the project to scope to. The caller holds mu.
func (dir *directory) findProject(x ref) (*project, error) {
	if x.ID != "" {
		if p := dir.project(x.ID); p != nil {
			return p, nil
		}
		return nil, unauthorized(fmt.Errorf("no project with id %q", x.ID))
	}
	if x.Name == "" {
		return nil, badRequest("Expecting to find id or name in project.")
	}
	dom, err := dir.findDomain(x.Domain, "project")
	if err != nil {
		return nil, err
	}
	if p := dir.projectNamed(x.Name, dom); p != nil {
		return p, nil
	}
	return nil, unauthorized(fmt.Errorf("no project %q in domain %s", x.Name, dom.name))
}

// project returns the project whose id is id, or nil. The caller holds mu.
func (dir *directory) project(id string) *project {
	for _, p := range dir.projects {
		if p.id == id {
			return p
		}
	}
	return nil
}

// lookup returns the token id if it is valid: known, unexpired, and of a
// project that still exists.
func (h *Handler) lookup(id string) *token {
	t := h.tokens.get(id, h.conf.Now())
	if t == nil || t.project == nil {
		return t
	}
	h.dir.mu.RLock()
	defer h.dir.mu.RUnlock()
	if h.dir.project(t.project.id) != t.project {
		return nil
	}
	return t
}

// subject returns the token named by X-Subject-Token, or Keystone's 404.
func (h *Handler) subject(r *http.Request) (*token, error) {
	id := r.Header.Get("X-Subject-Token")
	if t := h.lookup(id); t != nil {
		return t, nil
	}
	return nil, notFound("token", id)
}

// validate answers GET (and HEAD) /v3/auth/tokens with the subject token.
func (h *Handler) validate(w http.ResponseWriter, r *http.Request, _ *token) error {
	t, err := h.subject(r)
	if err != nil {
		return err
	}
	w.Header().Set("X-Subject-Token", t.id)
	writeJSON(w, http.StatusOK, h.view(r, t))
	return nil
}

// revoke answers DELETE /v3/auth/tokens, revoking the subject token.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request, _ *token) error {
	t, err := h.subject(r)
	if err != nil {
		return err
	}
	h.tokens.revoke(t.id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// tokenView is Keystone's token body.
type tokenView struct {
	Methods   []string  `json:"methods"`
	User      userRef   `json:"user"`
	AuditIDs  []string  `json:"audit_ids"`
	ExpiresAt string    `json:"expires_at"`
	IssuedAt  string    `json:"issued_at"`
	Project   *ref      `json:"project,omitempty"`
	IsDomain  *bool     `json:"is_domain,omitempty"`
	Roles     []ref     `json:"roles,omitempty"`
	Catalog   []service `json:"catalog,omitempty"`
}

type userRef struct {
	ref
	PasswordExpiresAt *string `json:"password_expires_at"`
}

// service is an entry of the catalog.
type service struct {
	Endpoints []endpoint `json:"endpoints"`
	ID        string     `json:"id"`
	Type      string     `json:"type"`
	Name      string     `json:"name"`
}

type endpoint struct {
	ID        string `json:"id"`
	Interface string `json:"interface"`
	Region    string `json:"region"`
	RegionID  string `json:"region_id"`
	URL       string `json:"url"`
}

// view renders t as Keystone, with the catalog unless ?nocatalog.
func (h *Handler) view(r *http.Request, t *token) map[string]tokenView {
	v := tokenView{
		Methods:   t.methods,
		User:      userRef{ref: ref{ID: t.user.id, Name: t.user.name, Domain: domainRef(t.user.domain)}},
		AuditIDs:  t.auditIDs,
		ExpiresAt: t.expires.UTC().Format(timeFormat),
		IssuedAt:  t.issued.UTC().Format(timeFormat),
	}
	if p := t.project; p != nil {
		v.Project = &ref{ID: p.id, Name: p.name, Domain: domainRef(p.domain)}
		v.IsDomain = new(bool)
		for _, x := range t.roles {
			v.Roles = append(v.Roles, ref{ID: x.id, Name: x.name})
		}
		if !r.URL.Query().Has("nocatalog") {
			v.Catalog = h.catalog(r, t)
		}
	}
	return map[string]tokenView{"token": v}
}

func domainRef(d *domain) *ref { return &ref{ID: d.id, Name: d.name} }

// catalog lists the identity endpoint and the volume API's, whose URL
// template is expanded for t as Keystone does, and a placeholder image
// endpoint: openstackclient 6's "volume create" asks for the image service
// even without --image. There is no Glance here: that endpoint answers
// version discovery alone (ImageVersions).
func (h *Handler) catalog(r *http.Request, t *token) []service {
	volume := h.conf.VolumeEndpoint
	if volume == "" {
		volume = hostURL(r) + "/v3/%(project_id)s"
	}
	volume = strings.NewReplacer(
		"%(project_id)s", t.project.id, "$(project_id)s", t.project.id,
		"%(tenant_id)s", t.project.id, "$(tenant_id)s", t.project.id,
		"%(user_id)s", t.user.id, "$(user_id)s", t.user.id,
	).Replace(volume)
	return []service{
		h.service("identity", "keystone", h.baseURL(r)),
		h.service("block-storage", "cinder", volume),
		h.service("volumev3", "cinderv3", volume),
		h.service("image", "glance", hostURL(r)+ImagePath),
	}
}

// service is the catalog entry of a service at url on every interface.
func (h *Handler) service(typ, name, url string) service {
	s := service{ID: stableID("service", typ), Type: typ, Name: name}
	for _, i := range []string{"public", "internal", "admin"} {
		s.Endpoints = append(s.Endpoints, endpoint{
			ID: stableID("endpoint", typ, i), Interface: i,
			Region: h.dir.region, RegionID: h.dir.region, URL: url,
		})
	}
	return s
}
