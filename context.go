package cinder

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// RequestContext is Cinder's RequestContext: who asks and on whose behalf. It
// travels in every RPC message as the _context_* keys.
type RequestContext struct {
	UserID          string   `json:"user_id"`
	ProjectID       string   `json:"project_id"`
	IsAdmin         bool     `json:"is_admin"`
	Roles           []string `json:"roles"`
	RequestID       string   `json:"request_id"`
	GlobalRequestID string   `json:"global_request_id,omitempty"`
	AuthToken       string   `json:"auth_token,omitempty"`
	ReadDeleted     string   `json:"read_deleted"`
	RemoteAddress   string   `json:"remote_address,omitempty"`
	Timestamp       string   `json:"timestamp"`
}

// NewRequestID returns an id of Cinder's form, req-<uuid4>.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("req-%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:])
}

// AdminContext is the context services use for their own work, as
// cinder.context.get_admin_context.
func AdminContext() *RequestContext {
	return &RequestContext{
		IsAdmin:     true,
		Roles:       []string{"admin"},
		RequestID:   NewRequestID(),
		ReadDeleted: "no",
		Timestamp:   time.Now().UTC().Format(TimeLayout),
	}
}

type ctxKey struct{}

// WithRequestContext returns ctx carrying rc.
func WithRequestContext(ctx context.Context, rc *RequestContext) context.Context {
	return context.WithValue(ctx, ctxKey{}, rc)
}

// FromContext returns the RequestContext carried by ctx, or an admin context
// when there is none.
func FromContext(ctx context.Context) *RequestContext {
	if rc, ok := ctx.Value(ctxKey{}).(*RequestContext); ok {
		return rc
	}
	return AdminContext()
}
