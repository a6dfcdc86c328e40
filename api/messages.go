package api

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
)

// messages answers nothing below microversion 3.3, as Cinder: the resource
// does not exist there.
func messagesAvailable(r *http.Request) error { return since(r, mvMessages) }

// messageView is Cinder's view of a user message.
func messageView(r *http.Request, m *cinder.Message) object {
	o := object{
		{"id", m.ID},
		{"event_id", m.EventID},
		{"user_message", m.UserMessage},
		{"message_level", m.Level},
		{"created_at", m.CreatedAt.UTC().Format(cinder.TimeLayout)},
		{"guaranteed_until", m.ExpiresAt.UTC().Format(cinder.TimeLayout)},
		{"request_id", m.RequestID},
		{"links", links(r, "messages", m.ID)},
	}
	if m.ResourceType != "" {
		o = append(o, member{"resource_type", m.ResourceType})
	}
	if m.ResourceUUID != "" {
		o = append(o, member{"resource_uuid", m.ResourceUUID})
	}
	return o
}

// getMessage returns message id if the caller may see it and rule allows.
func (s *server) getMessage(r *http.Request, rule string) (*cinder.Message, error) {
	if err := messagesAvailable(r); err != nil {
		return nil, err
	}
	if err := s.authorize(r, rule); err != nil {
		return nil, err
	}
	id := mux.Vars(r)["id"]
	m, err := s.store.GetMessage(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if rc := cinder.FromContext(r.Context()); !rc.IsAdmin && m.ProjectID != rc.ProjectID {
		return nil, cinder.MessageNotFound(id)
	}
	return m, nil
}

// listMessages answers GET /messages: the caller's project's messages (an
// admin's too: Cinder scopes messages by project for everyone).
func (s *server) listMessages(r *http.Request) (reply, error) {
	if err := messagesAvailable(r); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "message:get_all"); err != nil {
		return reply{}, err
	}
	ms, err := s.store.ListMessages(r.Context(), cinder.FromContext(r.Context()).ProjectID)
	if err != nil {
		return reply{}, err
	}
	items := make([]object, 0, len(ms))
	for _, m := range ms {
		items = append(items, messageView(r, m))
	}
	return reply{http.StatusOK, object{{"messages", items}}}, nil
}

// showMessage answers GET /messages/{id}.
func (s *server) showMessage(r *http.Request) (reply, error) {
	m, err := s.getMessage(r, "message:get")
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"message", messageView(r, m)}}}, nil
}

// deleteMessage answers DELETE /messages/{id} with 204.
func (s *server) deleteMessage(r *http.Request) (reply, error) {
	m, err := s.getMessage(r, "message:delete")
	if err != nil {
		return reply{}, err
	}
	if err := s.store.DeleteMessage(r.Context(), m.ID); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusNoContent}, nil
}
