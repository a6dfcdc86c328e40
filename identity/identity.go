// Package identity serves enough of Keystone's v3 API (tokens, the service
// catalog, and read access to domains, projects, users and roles) for the
// openstack CLI and Tempest to talk to the embedded default with no other
// service. Its users come from a small file (see Load); its tokens live in
// memory and a restart forgets them. It is a convenience, not a Keystone.
package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Config tunes New; its zero value suits the embedded default.
type Config struct {
	// URL is the handler's external URL, the auth URL less "/v3"; if
	// empty, each request's scheme, Host and mount prefix.
	URL string
	// VolumeEndpoint is the URL of the volume API in the catalog, in
	// Keystone's template form ("https://cinder:8776/v3/%(project_id)s");
	// if empty, /v3/%(project_id)s on each request's scheme and Host.
	VolumeEndpoint string
	// MaxTokens bounds the tokens kept (10000 if not positive); beyond it the
	// oldest are forgotten.
	MaxTokens int
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Handler serves Keystone's v3 identity API. Mount it under a prefix with
// http.StripPrefix, routing the prefix itself to it too: keystoneauth cannot
// follow the relative redirect a ServeMux answers for it. The URLs the
// handler shows keep the prefix.
type Handler struct {
	dir    *directory
	tokens *tokens
	conf   Config
	mux    *http.ServeMux
}

// New returns a handler serving d.
func New(d *Data, c Config) (*Handler, error) {
	dir, err := newDirectory(d)
	if err != nil {
		return nil, err
	}
	if c.MaxTokens <= 0 {
		c.MaxTokens = 10000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	h := &Handler{dir: dir, tokens: newTokens(c.MaxTokens), conf: c, mux: http.NewServeMux()}
	h.handle("GET /{$}", h.versions)
	h.handle("GET /v3", h.version)
	h.handle("GET /v3/{$}", h.version)
	h.handle("POST /v3/auth/tokens", h.issue)
	h.handle("GET /v3/auth/tokens", h.authed(h.validate))
	h.handle("DELETE /v3/auth/tokens", h.authed(h.revoke))
	h.handle("GET /v3/auth/projects", h.authed(h.authProjects))
	h.handle("GET /v3/domains", h.authed(h.listDomains))
	h.handle("GET /v3/domains/{id}", h.authed(h.showDomain))
	h.handle("GET /v3/projects", h.authed(h.listProjects))
	h.handle("POST /v3/projects", h.authed(h.createProject))
	h.handle("GET /v3/projects/{id}", h.authed(h.showProject))
	h.handle("DELETE /v3/projects/{id}", h.authed(h.deleteProject))
	h.handle("GET /v3/users", h.authed(h.listUsers))
	h.handle("GET /v3/users/{id}", h.authed(h.showUser))
	h.handle("GET /v3/users/{id}/projects", h.authed(h.userProjects))
	h.handle("GET /v3/roles", h.authed(h.listRoles))
	h.handle("GET /v3/roles/{id}", h.authed(h.showRole))
	h.handle("GET /v3/role_assignments", h.authed(h.listRoleAssignments))
	h.handle("/", func(http.ResponseWriter, *http.Request) error {
		return &httpError{code: http.StatusNotFound, msg: "The resource could not be found."}
	})
	return h, nil
}

// ServeHTTP answers r as Keystone would.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Openstack-Request-Id", "req-"+uuid.NewString())
	w.Header().Set("Vary", "X-Auth-Token")
	if r.URL.Path == "" { // the prefix alone, as http.StripPrefix leaves it
		h.serve(w, r, h.versions)
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) handle(pattern string, f func(http.ResponseWriter, *http.Request) error) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, f) })
}

// serve calls f, answering its error in Keystone's form.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, f func(http.ResponseWriter, *http.Request) error) {
	err := f(w, r)
	if err == nil {
		return
	}
	var e *httpError
	if !errors.As(err, &e) {
		slog.Error("identity: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &httpError{code: http.StatusInternalServerError, msg: "An unexpected error prevented the server from fulfilling your request."}
	} else if e.err != nil {
		slog.Info("identity: request refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "code", e.code, "err", e.err)
	}
	if e.code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Keystone uri=%q", h.baseURL(r)))
	}
	writeJSON(w, e.code, map[string]any{"error": map[string]any{
		"code": e.code, "message": e.msg, "title": http.StatusText(e.code),
	}})
}

// authed wraps f, which needs the caller's own token (X-Auth-Token).
func (h *Handler) authed(f func(http.ResponseWriter, *http.Request, *token) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		t := h.lookup(r.Header.Get("X-Auth-Token"))
		if t == nil {
			return unauthorized(errors.New("invalid or missing X-Auth-Token"))
		}
		return f(w, r, t)
	}
}

// httpError is a request's failure: code and msg are answered, err (if
// any) is only logged, as Keystone tells a client little of why it failed.
type httpError struct {
	code int
	msg  string
	err  error
}

func (e *httpError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%d %s: %v", e.code, e.msg, e.err)
	}
	return fmt.Sprintf("%d %s", e.code, e.msg)
}

func (e *httpError) Unwrap() error { return e.err }

// unauthorized is Keystone's 401, the same whatever the cause.
func unauthorized(cause error) error {
	return &httpError{code: http.StatusUnauthorized, msg: "The request you have made requires authentication.", err: cause}
}

func badRequest(format string, args ...any) error {
	return &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func notFound(kind, id string) error {
	return &httpError{code: http.StatusNotFound, msg: fmt.Sprintf("Could not find %s: %s.", kind, id)}
}

func forbidden(action string) error {
	return &httpError{code: http.StatusForbidden, msg: "You are not authorized to perform the requested action: identity:" + action + "."}
}

// writeJSON answers v with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("identity: write response", "err", err)
	}
}

// hostURL is the scheme and host by which the client reached us.
func hostURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// baseURL is the handler's external URL: the configured one, or the
// request's host and the prefix http.StripPrefix took off its path.
func (h *Handler) baseURL(r *http.Request) string {
	if h.conf.URL != "" {
		return strings.TrimSuffix(h.conf.URL, "/")
	}
	prefix := ""
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		full, rest := u.EscapedPath(), r.URL.EscapedPath()
		if strings.HasSuffix(full, rest) {
			prefix = strings.TrimSuffix(full[:len(full)-len(rest)], "/")
		}
	}
	return hostURL(r) + prefix
}

// v3 describes the API version served, as Keystone's version documents.
func (h *Handler) v3(r *http.Request) map[string]any {
	return map[string]any{
		"id":      "v3.14",
		"status":  "stable",
		"updated": "2020-04-07T00:00:00Z",
		"links":   []map[string]string{{"rel": "self", "href": h.baseURL(r) + "/v3/"}},
		"media-types": []map[string]string{{
			"base": "application/json",
			"type": "application/vnd.openstack.identity-v3+json",
		}},
	}
}

// versions answers GET / with the versions served, 300 as Keystone.
func (h *Handler) versions(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusMultipleChoices, map[string]any{
		"versions": map[string]any{"values": []any{h.v3(r)}},
	})
	return nil
}

// version answers GET /v3, which keystoneauth reads to discover the API.
func (h *Handler) version(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"version": h.v3(r)})
	return nil
}
