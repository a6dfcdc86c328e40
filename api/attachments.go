package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/volume"
)

// Microversions of attachments.
const (
	mvAttachments        = 27 // /attachments
	mvAttachmentComplete = 44 // os-complete
	mvAttachmentMode     = 54 // mode in a create
)

// attachmentsAvailable answers nothing below microversion 3.27, as Cinder:
// the resource does not exist there.
func attachmentsAvailable(r *http.Request) error {
	if !ver(r).atLeast(mvAttachments) {
		return newFault(http.StatusNotFound, "The resource could not be found.")
	}
	return nil
}

// attachmentSummary is Cinder's summary view of an attachment
// (cinder/api/v3/views/attachments.py).
func attachmentSummary(a *cinder.Attachment) object {
	return object{{"id", a.ID}, {"status", a.AttachStatus}, {"instance", orNull(a.InstanceUUID)}, {"volume_id", a.VolumeID}}
}

// attachmentDetail is Cinder's detailed view of an attachment: times are
// "" when unset, as its view writes them.
func attachmentDetail(a *cinder.Attachment) object {
	timeOrEmpty := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(cinder.TimeLayout)
	}
	var info any
	if a.ConnectionInfo != nil {
		info = a.ConnectionInfo
	}
	return append(attachmentSummary(a), member{"attached_at", timeOrEmpty(a.AttachTime)},
		member{"detached_at", timeOrEmpty(a.DetachTime)}, member{"attach_mode", orNull(a.AttachMode)},
		member{"connection_info", info})
}

// attachmentViews are the views of atts, detailed or not.
func attachmentViews(atts []*cinder.Attachment, detailed bool) []object {
	view := attachmentSummary
	if detailed {
		view = attachmentDetail
	}
	out := make([]object, len(atts))
	for i, a := range atts {
		out[i] = view(a)
	}
	return out
}

func (s *server) listAttachments(r *http.Request) (reply, error) { return s.attachmentList(r, false) }
func (s *server) listAttachmentsDetail(r *http.Request) (reply, error) {
	return s.attachmentList(r, true)
}

// attachmentList answers GET /attachments and /attachments/detail: the
// attachments of the caller's project's volumes (all_tenants for admins),
// paged, sorted and filtered. Cinder asks no policy here.
func (s *server) attachmentList(r *http.Request, detailed bool) (reply, error) {
	if err := attachmentsAvailable(r); err != nil {
		return reply{}, err
	}
	f, err := s.attachmentFilter(r)
	if err != nil {
		return reply{}, err
	}
	atts := []*cinder.Attachment{}
	if f.Limit > 0 {
		if atts, err = s.store.ListAttachments(r.Context(), f); err != nil {
			return reply{}, err
		}
	}
	return reply{http.StatusOK, object{{"attachments", attachmentViews(atts, detailed)}}}, nil
}

// attachmentFilterOptions are the filters a non-admin may use before 3.31
// (AttachmentsController.allowed_filters).
var attachmentFilterOptions = []string{"volume_id", "status", "instance_id", "attach_status"}

// attachmentFilter reads the list parameters of an attachment list as
// Cinder's: instance_id is instance_uuid; filters naming no column of
// volume_attachment (status among them) select nothing, like filters too.
func (s *server) attachmentFilter(r *http.Request) (db.AttachmentFilter, error) {
	var f db.AttachmentFilter
	p, err := pageOf(r)
	if err != nil {
		return f, err
	}
	f.Marker, f.Offset, f.SortKey, f.SortDescending, f.Limit = p.marker, p.offset, p.sortKey, p.descending, p.limit
	if f.ProjectID, err = listProject(r); err != nil {
		return f, err
	}
	filters, err := s.listFilters(r, "attachment", attachmentFilterOptions, nil)
	if err != nil {
		return f, err
	}
	popFilters(filters)
	if id, ok := filters["instance_id"]; ok {
		delete(filters, "instance_id")
		filters["instance_uuid"] = id
	}
	err = matchFilters(&f.Match, filters, false, nil, true)
	f.Nothing = f.Nothing || len(f.Like) > 0 // Cinder's attachment filters have no like
	return f, err
}

// showAttachment answers GET /attachments/{id}; Cinder asks no policy.
func (s *server) showAttachment(r *http.Request) (reply, error) {
	if err := attachmentsAvailable(r); err != nil {
		return reply{}, err
	}
	a, err := s.vol.GetAttachment(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"attachment", attachmentDetail(a)}}}, nil
}

// createAttachment answers POST /attachments {"attachment": {volume_uuid,
// instance_uuid, connector, mode (3.54)}}: 200 with the attachment.
func (s *server) createAttachment(r *http.Request) (reply, error) {
	if err := attachmentsAvailable(r); err != nil {
		return reply{}, err
	}
	req, err := parseAttachmentCreate(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume:attachment_create"); err != nil {
		return reply{}, err
	}
	a, err := s.vol.CreateAttachment(r.Context(), req)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"attachment", attachmentDetail(a)}}}, nil
}

// parseAttachmentCreate validates an attachment create as Cinder's schemas.
func parseAttachmentCreate(r *http.Request) (volume.AttachmentRequest, error) {
	req := volume.AttachmentRequest{Mode: "null"}
	body, err := readMember(r, "attachment")
	if err != nil {
		return req, err
	}
	allowed := []string{"instance_uuid", "connector", "volume_uuid"}
	if ver(r).atLeast(mvAttachmentMode) {
		allowed = append(allowed, "mode")
	}
	if err := body.only("attachment", allowed...); err != nil {
		return req, err
	}
	if err := body.required("attachment", "volume_uuid"); err != nil {
		return req, err
	}
	if req.VolumeID, err = uuidOf("volume_uuid", body["volume_uuid"], false); err != nil {
		return req, err
	}
	if raw, ok := body["instance_uuid"]; ok {
		if req.InstanceUUID, err = uuidOf("instance_uuid", raw, false); err != nil {
			return req, err
		}
	}
	if raw, ok := body["connector"]; ok && kind(raw) != "null" {
		if req.Connector, err = connectorOf(raw); err != nil {
			return req, err
		}
	}
	if raw, ok := body["mode"]; ok {
		if req.Mode, err = modeOf(raw); err != nil {
			return req, err
		}
	}
	return req, nil
}

// connectorOf decodes raw, a connector, as a JSON object.
func connectorOf(raw json.RawMessage) (map[string]any, error) {
	var c map[string]any
	if kind(raw) != "object" || json.Unmarshal(raw, &c) != nil {
		return nil, invalidField("connector", raw, "%s is not of type 'object'", pyRepr(raw))
	}
	return c, nil
}

// modeOf decodes an attach mode: rw or ro.
func modeOf(raw json.RawMessage) (string, error) {
	mode, err := stringOf("mode", raw, false, 0)
	if err == nil && mode != "rw" && mode != "ro" {
		err = invalidField("mode", raw, "%s is not one of ['rw', 'ro']", pyRepr(raw))
	}
	return mode, err
}

// updateAttachment answers PUT /attachments/{id} {"attachment":
// {"connector": {…}}}: 200 with the attachment and its connection info.
func (s *server) updateAttachment(r *http.Request) (reply, error) {
	if err := attachmentsAvailable(r); err != nil {
		return reply{}, err
	}
	body, err := readMember(r, "attachment")
	if err != nil {
		return reply{}, err
	}
	if err := body.only("attachment", "connector"); err != nil {
		return reply{}, err
	}
	if err := body.required("attachment", "connector"); err != nil {
		return reply{}, err
	}
	conn, err := connectorOf(body["connector"])
	if err != nil {
		return reply{}, err
	}
	if len(conn) == 0 {
		return reply{}, invalidField("connector", body["connector"], "{} does not have enough properties")
	}
	if err := s.authorize(r, "volume:attachment_update"); err != nil {
		return reply{}, err
	}
	a, err := s.vol.UpdateAttachment(r.Context(), mux.Vars(r)["id"], conn)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"attachment", attachmentDetail(a)}}}, nil
}

// deleteAttachment answers DELETE /attachments/{id}: 200 with the
// volume's attachments left.
func (s *server) deleteAttachment(r *http.Request) (reply, error) {
	if err := attachmentsAvailable(r); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume:attachment_delete"); err != nil {
		return reply{}, err
	}
	left, err := s.vol.DeleteAttachment(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"attachments", attachmentViews(left, false)}}}, nil
}

// attachmentAction answers POST /attachments/{id}/action: os-complete
// (3.44), 204.
func (s *server) attachmentAction(r *http.Request) (reply, error) {
	if err := attachmentsAvailable(r); err != nil {
		return reply{}, err
	}
	name, _, err := actionOf(r)
	if err != nil {
		return reply{}, err
	}
	if name != "os-complete" {
		return reply{}, noSuchAction(name)
	}
	if !ver(r).atLeast(mvAttachmentComplete) {
		return reply{}, newFault(http.StatusNotFound, "The resource could not be found.")
	}
	if err := s.authorize(r, "volume:attachment_complete"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusNoContent}, s.vol.CompleteAttachment(r.Context(), mux.Vars(r)["id"])
}

// attach is os-attach {"instance_uuid" or "host_name", "mountpoint",
// "mode"}: 202 once the volume's backend recorded it attached.
func (s *server) attach(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	const name = "os-attach"
	args, err := actionArgs(name, raw, "instance_uuid", "mountpoint", "host_name", "mode")
	if err != nil {
		return reply{}, err
	}
	if err := args.required(name, "mountpoint"); err != nil {
		return reply{}, err
	}
	if _, ok := args["instance_uuid"]; !ok {
		if _, ok := args["host_name"]; !ok {
			return reply{}, invalidField(name, raw, "%s is not valid under any of the given schemas", pyRepr(raw))
		}
	}
	req := cinder.Attach{Mode: "rw"}
	if raw, ok := args["instance_uuid"]; ok {
		if req.InstanceUUID, err = uuidOf("instance_uuid", raw, false); err != nil {
			return reply{}, err
		}
	}
	if req.Mountpoint, err = stringOf("mountpoint", args["mountpoint"], false, maxNameLen); err != nil {
		return reply{}, err
	}
	if req.Mountpoint == "" {
		return reply{}, invalidField("mountpoint", args["mountpoint"], "'' is too short")
	}
	if raw, ok := args["host_name"]; ok {
		if req.HostName, err = stringOf("host_name", raw, false, maxNameLen); err != nil {
			return reply{}, err
		}
	}
	if raw, ok := args["mode"]; ok {
		if req.Mode, err = modeOf(raw); err != nil {
			return reply{}, err
		}
	}
	if err := s.authorize(r, "volume_extension:volume_actions:attach"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.Attach(r.Context(), id, req)
}

// detach is os-detach {"attachment_id": uuid or null}, or null: 202 once
// the volume's backend ended the attachment.
func (s *server) detach(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	const name = "os-detach"
	attachment := ""
	if kind(raw) != "null" {
		args, err := actionArgs(name, raw, "attachment_id")
		if err != nil {
			return reply{}, err
		}
		if raw, ok := args["attachment_id"]; ok {
			if attachment, err = uuidOf("attachment_id", raw, true); err != nil {
				return reply{}, err
			}
		}
	}
	if err := s.authorize(r, "volume_extension:volume_actions:detach"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.Detach(r.Context(), id, attachment)
}

// statusAction is an action that only moves a volume's status, whatever
// its arguments (Cinder reads none): os-reserve, os-unreserve,
// os-begin_detaching and os-roll_detaching answer 202 once rule allowed
// change.
func (s *server) statusAction(rule string, change func(ctx context.Context, id string) error) action {
	return func(r *http.Request, id string, _ json.RawMessage) (reply, error) {
		if err := s.authorize(r, rule); err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusAccepted}, change(r.Context(), id)
	}
}

// forceDetach is os-force_detach (admin) {"connector", "attachment_id"}:
// the connection is terminated and the attachment ended, 202.
func (s *server) forceDetach(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	const name = "os-force_detach"
	args, err := actionArgs(name, raw, "connector", "attachment_id")
	if err != nil {
		return reply{}, err
	}
	var conn map[string]any
	if c, ok := args["connector"]; ok {
		switch kind(c) {
		case "null", "string": // a string names no connector this Cinder's drivers read
		case "object":
			if conn, err = connectorOf(c); err != nil {
				return reply{}, err
			}
		default:
			return reply{}, invalidField("connector", c, "%s is not of type 'string', 'object', 'null'", pyRepr(c))
		}
	}
	attachment := ""
	if raw, ok := args["attachment_id"]; ok {
		if attachment, err = stringOf("attachment_id", raw, true, 0); err != nil {
			return reply{}, err
		}
	}
	if _, err := s.vol.Get(r.Context(), id); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume_extension:volume_admin_actions:force_detach"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.ForceDetach(r.Context(), id, conn, attachment)
}
