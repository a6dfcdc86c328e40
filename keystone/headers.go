package keystone

import (
	"net/http"
	"strings"
	"time"
)

// identityHeaders are the headers the middleware sets, removed from every
// request first so a client cannot claim an identity: keystonemiddleware's
// list (remove_auth_headers), plus OpenStack-System-Scope, which it
// overwrites instead.
var identityHeaders = []string{
	"X-Service-Catalog",
	"X-Identity-Status",
	"X-Service-Identity-Status",
	"X-Is-Admin-Project",
	"OpenStack-System-Scope",
	// Deprecated names, still set.
	"X-Role",
	"X-User",
	"X-Tenant-Id",
	"X-Tenant-Name",
	"X-Tenant",
	// The user's token.
	"X-Domain-Id",
	"X-Domain-Name",
	"X-Project-Id",
	"X-Project-Name",
	"X-Project-Domain-Id",
	"X-Project-Domain-Name",
	"X-User-Id",
	"X-User-Name",
	"X-User-Domain-Id",
	"X-User-Domain-Name",
	"X-Roles",
	// The X-Service-Token's.
	"X-Service-Domain-Id",
	"X-Service-Domain-Name",
	"X-Service-Project-Id",
	"X-Service-Project-Name",
	"X-Service-Project-Domain-Id",
	"X-Service-Project-Domain-Name",
	"X-Service-User-Id",
	"X-Service-User-Name",
	"X-Service-User-Domain-Id",
	"X-Service-User-Domain-Name",
	"X-Service-Roles",
}

// token is the part of Keystone's token body (GET /v3/auth/tokens) that the
// middleware reads.
type token struct {
	ExpiresAt time.Time `json:"expires_at"`
	User      struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Domain named  `json:"domain"`
	} `json:"user"`
	Project *struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Domain named  `json:"domain"`
	} `json:"project"`
	Domain         *named  `json:"domain"`
	Roles          []named `json:"roles"`
	IsAdminProject *bool   `json:"is_admin_project"`
	System         struct {
		All bool `json:"all"`
	} `json:"system"`
}

// named is a Keystone reference: a domain, a role.
type named struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// setHeaders sets the token's identity headers, X<prefix>-User-Id and so
// on; fields the token lacks (a project on a domain-scoped token) are left
// unset.
func (t *token) setHeaders(h http.Header, prefix string) {
	set := func(name, v string) {
		if v != "" {
			h.Set("X"+prefix+name, v)
		}
	}
	set("-User-Id", t.User.ID)
	set("-User-Name", t.User.Name)
	set("-User-Domain-Id", t.User.Domain.ID)
	set("-User-Domain-Name", t.User.Domain.Name)
	if p := t.Project; p != nil {
		set("-Project-Id", p.ID)
		set("-Project-Name", p.Name)
		set("-Project-Domain-Id", p.Domain.ID)
		set("-Project-Domain-Name", p.Domain.Name)
	}
	if d := t.Domain; d != nil {
		set("-Domain-Id", d.ID)
		set("-Domain-Name", d.Name)
	}
	roles := make([]string, len(t.Roles))
	for i, r := range t.Roles {
		roles[i] = r.Name
	}
	h.Set("X"+prefix+"-Roles", strings.Join(roles, ","))
}

// setUserHeaders sets the headers of the request's own (user) token.
func (t *token) setUserHeaders(h http.Header) {
	h.Set("X-Identity-Status", "Confirmed")
	t.setHeaders(h, "")
	// Tokens that do not say are in the admin project, as keystoneauth
	// assumes for policies written before there was one.
	admin := "True"
	if t.IsAdminProject != nil && !*t.IsAdminProject {
		admin = "False"
	}
	h.Set("X-Is-Admin-Project", admin)
	if t.System.All {
		h.Set("OpenStack-System-Scope", "all")
	}
	for old, cur := range map[string]string{
		"X-Role":        "X-Roles",
		"X-User":        "X-User-Name",
		"X-Tenant-Id":   "X-Project-Id",
		"X-Tenant-Name": "X-Project-Name",
		"X-Tenant":      "X-Project-Name",
	} {
		if v := h.Get(cur); v != "" {
			h.Set(old, v)
		}
	}
}
