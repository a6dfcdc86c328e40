package identity

import (
	"container/list"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// token is an issued token: who, scoped to what, with which roles.
type token struct {
	id       string
	methods  []string
	user     *user
	project  *project // nil: unscoped
	roles    []*role  // on project, implied ones included
	issued   time.Time
	expires  time.Time
	auditIDs []string // this token's, then its chain's if rescoped
}

// randomID returns n random bytes in URL-safe base64.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokens keeps issued tokens in memory, so that a restart forgets them
// all. It holds at most limit: once full, the oldest is forgotten.
type tokens struct {
	mu    sync.Mutex
	limit int
	byID  map[string]*list.Element
	order list.List // of *token, oldest first
}

func newTokens(limit int) *tokens {
	return &tokens{limit: limit, byID: map[string]*list.Element{}}
}

// add keeps t, first forgetting the oldest tokens while they have expired
// or there are too many.
func (s *tokens) add(t *token, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := s.order.Front(); e != nil && (len(s.byID) >= s.limit || !now.Before(e.Value.(*token).expires)); e = s.order.Front() {
		s.drop(e)
	}
	s.byID[t.id] = s.order.PushBack(t)
}

// get returns the token id if it is known and unexpired at now, else nil.
func (s *tokens) get(id string, now time.Time) *token {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID[id]
	if e == nil {
		return nil
	}
	t := e.Value.(*token)
	if !now.Before(t.expires) {
		s.drop(e)
		return nil
	}
	return t
}

// revoke forgets the token id, reporting whether it was known.
func (s *tokens) revoke(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID[id]
	if e != nil {
		s.drop(e)
	}
	return e != nil
}

func (s *tokens) drop(e *list.Element) {
	delete(s.byID, s.order.Remove(e).(*token).id)
}
