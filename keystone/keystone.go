// Package keystone authenticates API requests against Keystone as
// keystonemiddleware's auth_token does in front of Cinder
// (auth_strategy = keystone): it validates each request's X-Auth-Token with
// Keystone and hands the token's identity to the next handler in headers.
package keystone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/cinder-go/cinder/conf"
)

// Defaults for the zero values of conf.Keystone's fields.
const (
	DefaultTokenCacheTime = 300 * time.Second
	DefaultTimeout        = 10 * time.Second
)

// Messages of the middleware's error answers, keystonemiddleware's own.
const (
	UnauthorizedMessage = "The request you have made requires authentication."
	UnavailableMessage  = "The Keystone service is temporarily unavailable."
)

// Middleware is the auth_token filter: an http.Handler in front of the API.
type Middleware struct {
	// Fail writes the middleware's own error answers (401 and 503); it
	// defaults to WriteFault. Set it before serving to use cinder-api's
	// fault writer. A 401's WWW-Authenticate header is already set.
	Fail func(w http.ResponseWriter, r *http.Request, status int, message string)

	next       http.Handler
	ks         *client
	cache      *cache
	flights    singleflight.Group
	now        func() time.Time
	cacheTime  time.Duration
	roles      []string
	authHeader string
}

// New returns the middleware that passes authenticated requests to next;
// Wrap puts other handlers behind the same validation.
func New(cfg conf.Keystone, next http.Handler) (*Middleware, error) {
	if cfg.AuthURL == "" {
		return nil, errors.New("keystone: auth_url is not set")
	}
	base, err := url.Parse(strings.TrimRight(cfg.AuthURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("keystone: auth_url: %w", err)
	}
	if !strings.HasSuffix(base.Path, "/v3") {
		base.Path += "/v3"
	}
	uri := cfg.WWWAuthenticateURI
	if uri == "" {
		uri = cfg.AuthURL
	}
	if cfg.ServiceTokenRoles == nil {
		cfg.ServiceTokenRoles = []string{"service"}
	}
	if cfg.TokenCacheTime == 0 {
		cfg.TokenCacheTime = DefaultTokenCacheTime
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	m := &Middleware{
		Fail:       WriteFault,
		next:       next,
		cache:      newCache(defaultCacheSize),
		now:        time.Now,
		cacheTime:  cfg.TokenCacheTime,
		roles:      cfg.ServiceTokenRoles,
		authHeader: fmt.Sprintf("Keystone uri=%q", uri),
	}
	m.ks = &client{
		base: base.String(),
		http: &http.Client{Timeout: cfg.Timeout},
		cfg:  cfg,
		now:  func() time.Time { return m.now() },
	}
	return m, nil
}

// ServeHTTP serves r for the handler given to New.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.serve(w, r, m.next) }

// Wrap returns next behind m, sharing its token cache and service token.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(w, r, next) })
}

// serve strips client-sent identity headers, validates the request's
// token and, if Keystone confirms it, calls next with the token's identity
// in headers; otherwise it answers 401, or 503 when Keystone cannot answer.
func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	r = r.Clone(r.Context())
	for _, h := range identityHeaders {
		r.Header.Del(h)
	}
	tok := strings.TrimSpace(r.Header.Get("X-Auth-Token"))
	if tok == "" {
		tok = strings.TrimSpace(r.Header.Get("X-Storage-Token"))
	}
	if tok == "" {
		m.reject(w, r, errors.New("no token"))
		return
	}
	// Keystone's calls outlive a client that goes away: their answer may
	// be shared with other requests, and each call has its own timeout.
	ctx := context.WithoutCancel(r.Context())

	var svc *token
	allowExpired := false
	if st := strings.TrimSpace(r.Header.Get("X-Service-Token")); st != "" {
		var err error
		if svc, err = m.validate(ctx, st, false); err != nil {
			m.fail(w, r, fmt.Errorf("service token: %w", err))
			return
		}
		allowExpired = slices.ContainsFunc(svc.Roles, func(n named) bool {
			return slices.Contains(m.roles, n.Name)
		})
	}
	user, err := m.validate(ctx, tok, allowExpired)
	if err != nil {
		m.fail(w, r, err)
		return
	}
	user.setUserHeaders(r.Header)
	if svc != nil {
		svc.setHeaders(r.Header, "-Service")
		r.Header.Set("X-Service-Identity-Status", "Confirmed")
	}
	next.ServeHTTP(&authWriter{ResponseWriter: w, header: m.authHeader}, r)
}

// validate returns the token's body from the cache or Keystone, refusing
// an expired token unless allowExpired.
func (m *Middleware) validate(ctx context.Context, tok string, allowExpired bool) (*token, error) {
	t, err := m.lookup(ctx, tok, allowExpired)
	if err != nil {
		return nil, err
	}
	if !allowExpired && t.ExpiresAt.Before(m.now()) {
		return nil, fmt.Errorf("%w: expired at %s", errInvalid, t.ExpiresAt)
	}
	return t, nil
}

// lookup returns the cached answer for tok or asks Keystone, once for all
// the requests that carry the same token at the same time.
func (m *Middleware) lookup(ctx context.Context, tok string, allowExpired bool) (*token, error) {
	key := cacheKey(tok)
	if t := m.cache.get(key, m.now()); t != nil {
		return t, nil
	}
	flight := key
	if allowExpired {
		flight += "+expired"
	}
	v, err, _ := m.flights.Do(flight, func() (any, error) {
		// A flight that just ended may have filled the cache.
		if t := m.cache.get(key, m.now()); t != nil {
			return t, nil
		}
		t, err := m.ks.validate(ctx, tok, allowExpired)
		if err == nil && m.cacheTime > 0 {
			m.cache.put(key, t, m.now().Add(m.cacheTime))
		}
		return t, err
	})
	if err != nil {
		return nil, err
	}
	return v.(*token), nil
}

// fail answers 401 for a token Keystone refused and 503 for any other error.
func (m *Middleware) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errInvalid) {
		m.reject(w, r, err)
		return
	}
	slog.ErrorContext(r.Context(), "keystone: unable to validate token", "err", err)
	m.Fail(w, r, http.StatusServiceUnavailable, UnavailableMessage)
}

// reject answers 401 with where to get a token.
func (m *Middleware) reject(w http.ResponseWriter, r *http.Request, err error) {
	slog.InfoContext(r.Context(), "keystone: rejecting request", "err", err)
	w.Header().Set("WWW-Authenticate", m.authHeader)
	m.Fail(w, r, http.StatusUnauthorized, UnauthorizedMessage)
}

// WriteFault writes keystonemiddleware's JSON error body,
// {"error": {"code": 401, "title": "Unauthorized", "message": "…"}}.
func WriteFault(w http.ResponseWriter, r *http.Request, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	err := json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code":    status,
		"title":   http.StatusText(status),
		"message": message,
	}})
	if err != nil {
		slog.DebugContext(r.Context(), "keystone: writing fault", "err", err)
	}
}

// authWriter adds WWW-Authenticate to the next handler's 401 answers, as
// keystonemiddleware's process_response does.
type authWriter struct {
	http.ResponseWriter
	header string
}

func (w *authWriter) WriteHeader(status int) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", w.header)
	}
	w.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *authWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
