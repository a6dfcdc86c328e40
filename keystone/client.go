package keystone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/cinder-go/cinder/conf"
)

// errInvalid marks a token Keystone refused: the request is answered 401.
var errInvalid = errors.New("invalid token")

// minTokenLife is how long before its expiry the service token is renewed,
// keystoneauth's MIN_TOKEN_LIFE_SECONDS.
const minTokenLife = 120 * time.Second

// maxBody bounds what is read of a Keystone answer.
const maxBody = 1 << 20

// client calls Keystone's v3 API, authenticated as the service user.
type client struct {
	base string // Keystone's v3 endpoint, ".../v3"
	http *http.Client
	cfg  conf.Keystone
	now  func() time.Time

	mu      sync.Mutex // held while logging in, so one login at a time
	svc     string     // the service token, "" until logged in
	expires time.Time  // svc's expires_at
}

// validate asks Keystone for tok's body, logging in again once if Keystone
// refuses the service token (401), as keystoneauth's session does.
func (c *client) validate(ctx context.Context, tok string, allowExpired bool) (*token, error) {
	svc, err := c.serviceToken(ctx)
	if err != nil {
		return nil, err
	}
	resp, body, err := c.get(ctx, svc, tok, allowExpired)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		c.invalidate(svc)
		if svc, err = c.serviceToken(ctx); err != nil {
			return nil, err
		}
		if resp, body, err = c.get(ctx, svc, tok, allowExpired); err != nil {
			return nil, err
		}
	}
	switch status := resp.StatusCode; status {
	case http.StatusOK:
		var b struct{ Token *token }
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, fmt.Errorf("%w: token body: %w", errInvalid, err)
		}
		if b.Token == nil || b.Token.User.ID == "" || b.Token.ExpiresAt.IsZero() {
			return nil, fmt.Errorf("%w: token body lacks its user or expiry", errInvalid)
		}
		return b.Token, nil
	case http.StatusNotFound:
		return nil, fmt.Errorf("%w: keystone answered %d", errInvalid, status)
	case http.StatusUnauthorized:
		return nil, errors.New("validate token: keystone refuses the service token")
	}
	return nil, fmt.Errorf("validate token: keystone answered %d: %.200s", resp.StatusCode, body)
}

// get is GET /v3/auth/tokens for tok with the service token svc.
func (c *client) get(ctx context.Context, svc, tok string, allowExpired bool) (*http.Response, []byte, error) {
	u := c.base + "/auth/tokens?nocatalog"
	if allowExpired {
		u += "&allow_expired=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("validate token: %w", err)
	}
	req.Header.Set("X-Auth-Token", svc)
	req.Header.Set("X-Subject-Token", tok)
	req.Header.Set("Accept", "application/json")
	resp, body, err := c.do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("validate token: %w", err)
	}
	return resp, body, nil
}

// serviceToken returns the service token, logging in first when there is
// none or it is about to expire.
func (c *client) serviceToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.svc != "" && c.now().Add(minTokenLife).Before(c.expires) {
		return c.svc, nil
	}
	tok, expires, err := c.login(ctx)
	if err != nil {
		return "", err
	}
	c.svc, c.expires = tok, expires
	return tok, nil
}

// invalidate forgets the service token svc if it is still the current one.
func (c *client) invalidate(svc string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.svc == svc {
		c.svc = ""
	}
}

// login is password authentication as the service user: POST
// /v3/auth/tokens, the token in X-Subject-Token.
func (c *client) login(ctx context.Context) (string, time.Time, error) {
	type ref struct {
		Name string `json:"name"`
	}
	var auth struct {
		Auth struct {
			Identity struct {
				Methods  []string `json:"methods"`
				Password struct {
					User struct {
						Name     string `json:"name"`
						Password string `json:"password"`
						Domain   ref    `json:"domain"`
					} `json:"user"`
				} `json:"password"`
			} `json:"identity"`
			Scope struct {
				Project struct {
					Name   string `json:"name"`
					Domain ref    `json:"domain"`
				} `json:"project"`
			} `json:"scope"`
		} `json:"auth"`
	}
	id := &auth.Auth.Identity
	id.Methods = []string{"password"}
	id.Password.User.Name = c.cfg.Username
	id.Password.User.Password = c.cfg.Password
	id.Password.User.Domain.Name = c.cfg.UserDomainName
	p := &auth.Auth.Scope.Project
	p.Name = c.cfg.ProjectName
	p.Domain.Name = c.cfg.ProjectDomainName
	b, err := json.Marshal(&auth)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("log in to keystone: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/auth/tokens?nocatalog", bytes.NewReader(b))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("log in to keystone: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, body, err := c.do(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("log in to keystone: %w", err)
	}
	tok := resp.Header.Get("X-Subject-Token")
	if resp.StatusCode != http.StatusCreated || tok == "" {
		return "", time.Time{}, fmt.Errorf("log in to keystone as %q: keystone answered %d: %.200s", c.cfg.Username, resp.StatusCode, body)
	}
	var t struct {
		Token struct {
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"token"`
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return "", time.Time{}, fmt.Errorf("log in to keystone: token body: %w", err)
	}
	return tok, t.Token.ExpiresAt, nil
}

// do sends req and reads the answer's body, which it closes.
func (c *client) do(req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = resp.Body.Close() }() // read to its end or limit: nothing to lose
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	return resp, body, nil
}
