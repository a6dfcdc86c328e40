package api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
)

// maxBodySize is oslo.middleware's max_request_body_size default.
const maxBodySize = 114688

type requestIDKey struct{}

// withRequestID gives every request an id, req-<uuid>, answered in
// X-Openstack-Request-Id (a client-sent id is not echoed, as Cinder).
// A request then runs to its end even when its client goes away, as under
// Cinder's WSGI server: cancelling a query midway makes pgx close its
// PostgreSQL connection, which the next requests pay to open again.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := cinder.NewRequestID()
		w.Header().Set("X-Openstack-Request-Id", id)
		ctx := context.WithoutCancel(r.Context())
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, requestIDKey{}, id)))
	})
}

// requestID returns the id withRequestID gave r.
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// statusWriter records the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// logRequests logs each request once answered.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		slog.Info("api request", "method", r.Method, "url", r.URL.RequestURI(), "status", sw.status,
			"duration", time.Since(start), "request_id", requestID(r), "remote", r.RemoteAddr)
	})
}

// recoverPanics turns a handler's panic into a 500 fault, and logs it.
func recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				slog.Error("api handler panicked", "method", r.Method, "url", r.URL.RequestURI(),
					"request_id", requestID(r), "panic", p, "stack", string(debug.Stack()))
				writeFault(w, r, newFault(http.StatusInternalServerError, serverErrorMessage))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses bodies larger than maxBodySize with 413, as oslo's
// sizelimit middleware: at once when Content-Length says so, else on reading.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBodySize {
			writeFault(w, r, bodyTooLarge())
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodySize)
		next.ServeHTTP(w, r)
	})
}

func bodyTooLarge() *fault {
	return newFault(http.StatusRequestEntityTooLarge, "Request is too large. Larger than max_request_body_size (%d).", maxBodySize)
}

// authenticate puts the caller's cinder.RequestContext into the request
// context: with auth_strategy noauth as Cinder's NoAuthMiddleware, otherwise
// from the identity headers keystonemiddleware sets. A project id in the URL
// must be the caller's.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rc *cinder.RequestContext
		if noauth := s.cfg.AuthStrategy != conf.AuthKeystone; noauth {
			if r.Header.Get("X-Auth-Token") == "" {
				fakeToken(w, r)
				return
			}
			rc = noauthContext(r, s.cfg.AuthStrategy == conf.AuthNoAuthRoles)
		} else {
			rc = keystoneContext(r)
			if rc.UserID == "" {
				writeFault(w, r, newFault(http.StatusUnauthorized, "Authentication required: no X-User-Id header."))
				return
			}
		}
		if p := mux.Vars(r)["project_id"]; p != "" && p != rc.ProjectID {
			writeFault(w, r, newFault(http.StatusBadRequest, "Malformed request url"))
			return
		}
		next.ServeHTTP(w, r.WithContext(cinder.WithRequestContext(r.Context(), rc)))
	})
}

// fakeToken answers a tokenless request as NoAuthMiddleware does: 204 with
// a token user:project to use.
func fakeToken(w http.ResponseWriter, r *http.Request) {
	user := headerOr(r, "X-Auth-User", "admin")
	project := headerOr(r, "X-Auth-Project-Id", "admin")
	w.Header().Set("X-Auth-Token", user+":"+project)
	w.Header().Set("X-Server-Management-Url", strings.TrimRight(baseURL(r)+r.URL.Path, "/"))
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusNoContent)
}

// noauthContext is NoAuthMiddleware's context: token user:project (project
// defaults to user), always admin; withRoles honours X-Roles instead
// (admin ⇒ member ⇒ reader), as noauth_roles.
func noauthContext(r *http.Request, withRoles bool) *cinder.RequestContext {
	user, project, _ := strings.Cut(r.Header.Get("X-Auth-Token"), ":")
	if project == "" {
		project = user
	}
	roles := splitRoles(r.Header.Get("X-Roles"))
	if withRoles {
		return newRequestContext(r, user, project, hasAdmin(roles), roles)
	}
	if len(roles) == 0 {
		roles = []string{"admin"}
	}
	return newRequestContext(r, user, project, true, roles)
}

// hasAdmin reports whether roles hold admin (context_is_admin).
func hasAdmin(roles []string) bool {
	return slices.ContainsFunc(roles, func(role string) bool { return strings.EqualFold(role, "admin") })
}

// keystoneContext is CinderKeystoneContext's: the identity headers of
// keystonemiddleware; admin when the roles hold admin.
func keystoneContext(r *http.Request) *cinder.RequestContext {
	user := headerOr(r, "X-User-Id", r.Header.Get("X-User"))
	project := headerOr(r, "X-Project-Id", r.Header.Get("X-Tenant-Id"))
	roles := splitRoles(r.Header.Get("X-Roles"))
	return newRequestContext(r, user, project, hasAdmin(roles), roles)
}

func newRequestContext(r *http.Request, user, project string, admin bool, roles []string) *cinder.RequestContext {
	remote, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		remote = r.RemoteAddr
	}
	return &cinder.RequestContext{
		UserID:          user,
		ProjectID:       project,
		IsAdmin:         admin,
		Roles:           roles,
		RequestID:       requestID(r),
		GlobalRequestID: globalRequestID(r),
		AuthToken:       r.Header.Get("X-Auth-Token"),
		ReadDeleted:     "no",
		RemoteAddress:   remote,
		Timestamp:       time.Now().UTC().Format(cinder.TimeLayout),
	}
}

// requestIDForm is the form of a request id, req-<uuid>.
var requestIDForm = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// globalRequestID is the caller's X-Openstack-Request-Id when well formed,
// as oslo's request_id middleware takes it for global_request_id.
func globalRequestID(r *http.Request) string {
	if id := r.Header.Get("X-Openstack-Request-Id"); requestIDForm.MatchString(id) {
		return id
	}
	return ""
}

func splitRoles(header string) []string {
	var roles []string
	for _, role := range strings.Split(header, ",") {
		if role = strings.TrimSpace(role); role != "" {
			roles = append(roles, role)
		}
	}
	return roles
}

func headerOr(r *http.Request, name, def string) string {
	if v := r.Header.Get(name); v != "" {
		return v
	}
	return def
}

// authorize fails with 403 unless Cinder's policy rule allows the caller
// to act in its own project (a resource of another project is not found
// before any rule is asked).
func (s *server) authorize(r *http.Request, rule string) error {
	return s.policy.Authorize(cinder.FromContext(r.Context()), rule, nil)
}

// baseURL is scheme://host of the request, as the client sees it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme, _, _ = strings.Cut(p, ",")
		scheme = strings.TrimSpace(scheme)
	}
	return scheme + "://" + r.Host
}
