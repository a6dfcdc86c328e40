package volume

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/rpc"
)

// Attacher is what attachments need of the cinder-volume managers
// (*manager.Client), as Cinder's volume rpcapi.
type Attacher interface {
	// AttachmentUpdate connects v to connector for attachment id and
	// answers the connection info, keys in Cinder's order.
	AttachmentUpdate(ctx context.Context, v *cinder.Volume, connector map[string]any, id string) (json.RawMessage, error)
	// AttachmentDelete withdraws the connection of attachment id of v.
	AttachmentDelete(ctx context.Context, v *cinder.Volume, id string) error
	// AttachVolume records v attached as req says and answers the attachment.
	AttachVolume(ctx context.Context, v *cinder.Volume, req cinder.Attach) (*cinder.Attachment, error)
	// DetachVolume ends attachment id of v, or its only one when id is "".
	DetachVolume(ctx context.Context, v *cinder.Volume, id string) error
}

// AttachmentRequest is a validated attachment create.
type AttachmentRequest struct {
	VolumeID     string
	InstanceUUID string         // "" for none
	Connector    map[string]any // empty: only reserve the volume
	Mode         string         // rw, ro, or "null" when not asked (before 3.54 too)
}

// GetAttachment returns attachment id if the caller may see it: one of a
// volume of its own project, or any for an admin. (Cinder 21 shows any
// attachment to anyone who has its id; here another project's is not found.)
func (a *API) GetAttachment(ctx context.Context, id string) (*cinder.Attachment, error) {
	att, err := a.store.GetAttachment(ctx, id)
	if err != nil {
		return nil, err
	}
	_, err = a.Get(ctx, att.VolumeID)
	if cinder.IsNotFound(err) {
		return nil, cinder.AttachmentNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	return att, nil
}

// inError reports whether a volume's status is one of error, as Cinder's
// "error" in volume.status.
func inError(v *cinder.Volume) bool { return strings.Contains(v.Status, "error") }

// orStr joins statuses as Cinder's build_or_str: "a or b".
func orStr(statuses []string) string { return strings.Join(statuses, " or ") }

// CreateAttachment reserves volume req.VolumeID for req.InstanceUUID as
// volume/api.py attachment_create: in one transaction the volume (not in
// error; available, or in-use too when multiattach) goes reserved and a
// reserved attachment is written; an instance already attached to a volume
// in-use or reserved may reserve it again (a live migration). With a
// connector the volume's backend then connects it (attachment_update),
// which makes both attaching. It returns the attachment as reserved, with
// its connection info and mode, as Cinder answers. A backend failure
// leaves the reservation, as Cinder: deleting the attachment undoes it.
func (a *API) CreateAttachment(ctx context.Context, req AttachmentRequest) (*cinder.Attachment, error) {
	v, err := a.Get(ctx, req.VolumeID)
	if err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	if inError(v) {
		return nil, cinder.InvalidVolume("Volume attachments can not be created if the volume is in an error state. The Volume %s currently has a status of: %s ", v.ID, v.Status)
	}
	att := &cinder.Attachment{VolumeID: v.ID, InstanceUUID: req.InstanceUUID, AttachStatus: cinder.AttachReserved}
	if v, err = a.store.CreateAttachment(ctx, att, func(v *cinder.Volume, live []*cinder.Attachment) error {
		expected := []string{cinder.StatusAvailable, "downloading"}
		if v.Multiattach {
			expected = []string{cinder.StatusAvailable, cinder.StatusInUse, "downloading"}
		}
		if slices.Contains(expected, v.Status) {
			v.Status = cinder.StatusReserved
			return nil
		}
		if req.InstanceUUID != "" && (v.Status == cinder.StatusInUse || v.Status == cinder.StatusReserved) &&
			slices.ContainsFunc(live, func(l *cinder.Attachment) bool { return l.InstanceUUID == req.InstanceUUID }) {
			return nil
		}
		return cinder.InvalidVolume("Volume %s status must be %s to reserve, but the current status is %s.", v.ID, orStr(expected), v.Status)
	}); err != nil {
		return nil, err
	}
	if len(req.Connector) > 0 {
		info, err := a.backends.AttachmentUpdate(ctx, v, req.Connector, att.ID)
		if err != nil {
			return nil, attachmentFailure(ctx, err, "Unable to create attachment for volume (%s).", "Unable to create attachment for volume.")
		}
		att.ConnectionInfo = info
	}
	att.AttachMode = req.Mode
	if v.Readonly() { // the deprecated flag overrides the mode asked, as Cinder
		att.AttachMode = "ro"
	}
	return att, a.saveConnection(ctx, att.ID, att.ConnectionInfo, att.AttachMode)
}

// saveConnection writes attachment id's connection info and, unless "",
// its mode: what the API itself sets once the backend answered.
func (a *API) saveConnection(ctx context.Context, id string, info json.RawMessage, mode string) error {
	_, _, err := a.store.UpdateAttachment(ctx, id, func(att *cinder.Attachment, _ *cinder.Volume) error {
		att.ConnectionInfo = info
		if mode != "" {
			att.AttachMode = mode
		}
		return nil
	})
	return err
}

// attachmentFailure is the answer to a backend's failure to connect a
// volume for an attachment: its refusal of the volume (InvalidVolume) as it
// is, an unreachable message bus as unreachable says, any other failure a
// 500 with withMessage filled with its message when it is Cinder's, else
// bare, as Cinder's attachments controller.
func attachmentFailure(ctx context.Context, err error, withMessage, bare string) error {
	var ce *cinder.Error
	switch {
	case errors.As(err, &ce) && ce.Class == "InvalidVolume":
		return ce
	case errors.Is(err, rpc.ErrUnreachable):
		return unreachable(err, "Could not reach cinder-volume")
	}
	logFailure(ctx, "connect a volume for an attachment", err)
	if errors.As(err, &ce) {
		return cinder.Errorf("HTTPInternalServerError", 500, withMessage, ce.Message)
	}
	return cinder.Errorf("HTTPInternalServerError", 500, "%s", bare)
}

// UpdateAttachment connects attachment id's volume to connector as
// volume/api.py attachment_update: the volume must not be in error, and a
// volume that is not multiattach may have no other connected attachment
// (one per host); its backend then connects it, which makes the
// attachment and volume attaching. It returns the attachment as it was
// with its new connection info, as Cinder answers. (Cinder 21 answers
// these refusals 500; they are 400 here, as attachment create's.)
func (a *API) UpdateAttachment(ctx context.Context, id string, connector map[string]any) (*cinder.Attachment, error) {
	att, err := a.GetAttachment(ctx, id)
	if err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	v, err := a.store.GetVolume(ctx, att.VolumeID)
	if err != nil {
		return nil, err
	}
	if inError(v) {
		return nil, cinder.InvalidVolume("Volume attachments can not be updated if the volume is in an error state. The Volume %s currently has a status of: %s ", v.ID, v.Status)
	}
	live, err := a.store.ListAttachments(ctx, db.AttachmentFilter{VolumeID: v.ID})
	if err != nil {
		return nil, err
	}
	if len(live) > 1 && !v.Multiattach && slices.ContainsFunc(live, func(l *cinder.Attachment) bool { return l.ConnectionInfo != nil }) {
		return nil, cinder.InvalidVolume("duplicate connectors detected on volume %s", v.ID)
	}
	info, err := a.backends.AttachmentUpdate(ctx, v, connector, att.ID)
	if err != nil {
		return nil, attachmentFailure(ctx, err, "Unable to update attachment.(%s).", "Unable to update the attachment.")
	}
	att.ConnectionInfo = info
	return att, a.saveConnection(ctx, att.ID, info, "")
}

// CompleteAttachment is os-complete (3.44): attachment id is attached and
// its volume in-use and attached, whatever they were, as Cinder.
func (a *API) CompleteAttachment(ctx context.Context, id string) error {
	att, err := a.GetAttachment(ctx, id)
	if err != nil {
		return err
	}
	_, _, err = a.store.UpdateAttachment(context.WithoutCancel(ctx), att.ID, func(att *cinder.Attachment, v *cinder.Volume) error {
		att.AttachStatus = cinder.AttachAttached
		v.Status, v.AttachStatus = cinder.StatusInUse, cinder.AttachAttached
		return nil
	})
	return err
}

// DeleteAttachment ends attachment id as volume/api.py attachment_delete:
// unless it is only reserved its volume's backend withdraws the connection
// (attachment_delete), then the attachment is deleted and the volume takes
// its statuses from the attachments left (available once none is). It
// returns the volume's attachments left. When the backend fails the
// attachment stays.
func (a *API) DeleteAttachment(ctx context.Context, id string) ([]*cinder.Attachment, error) {
	att, err := a.GetAttachment(ctx, id)
	if err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	v, err := a.store.GetVolume(ctx, att.VolumeID)
	if err != nil {
		return nil, err
	}
	if att.AttachStatus != cinder.AttachReserved {
		if err := a.backends.AttachmentDelete(ctx, v, att.ID); err != nil {
			return nil, unreachable(err, "Could not ask cinder-volume to delete attachment %s", att.ID)
		}
	}
	if _, err := a.store.DetachAttachment(ctx, v.ID, att.ID); err != nil {
		return nil, err
	}
	return a.store.ListAttachments(ctx, db.AttachmentFilter{VolumeID: v.ID})
}

// errUnchanged is what a conditional update returns to change nothing
// without failing.
var errUnchanged = errors.New("nothing to change")

// updateAttached applies fn to volume id, seeing its live attachments, as
// one conditional update; fn returning errUnchanged leaves it as it is.
func (a *API) updateAttached(ctx context.Context, id string, fn func(v *cinder.Volume, live []*cinder.Attachment) error) error {
	v, err := a.Get(ctx, id)
	if err != nil {
		return err
	}
	_, err = a.store.UpdateVolumeAttachments(context.WithoutCancel(ctx), v.ID, fn)
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// Reserve is os-reserve: an available volume (in-use too when
// multiattach) goes attaching.
func (a *API) Reserve(ctx context.Context, id string) error {
	return a.updateAttached(ctx, id, func(v *cinder.Volume, _ []*cinder.Attachment) error {
		expected := []string{cinder.StatusAvailable}
		if v.Multiattach {
			expected = append(expected, cinder.StatusInUse)
		}
		if !slices.Contains(expected, v.Status) {
			return cinder.InvalidVolume("Volume status must be %s to reserve, but the status is %s.", orStr(expected), v.Status)
		}
		v.Status = cinder.StatusAttaching
		return nil
	})
}

// Unreserve is os-unreserve: an attaching volume goes back to in-use when
// it has attachments not detached, else available; any other is left as
// it is, without error.
func (a *API) Unreserve(ctx context.Context, id string) error {
	return a.updateAttached(ctx, id, unreserve)
}

// unreserve is Unreserve's conditional update of v.
func unreserve(v *cinder.Volume, live []*cinder.Attachment) error {
	if v.Status != cinder.StatusAttaching {
		return errUnchanged
	}
	v.Status = cinder.StatusAvailable
	if slices.ContainsFunc(live, func(l *cinder.Attachment) bool { return l.AttachStatus != cinder.AttachDetached }) {
		v.Status = cinder.StatusInUse
	}
	return nil
}

// BeginDetaching is os-begin_detaching: an in-use, attached volume goes
// detaching. A volume a migration holds is left as it is, without error,
// as Cinder hides the detach from the migration's user.
func (a *API) BeginDetaching(ctx context.Context, id string) error {
	return a.updateAttached(ctx, id, func(v *cinder.Volume, _ []*cinder.Attachment) error {
		if !slices.Contains(deletableMigration, v.MigrationStatus) {
			return errUnchanged
		}
		if v.Status != cinder.StatusInUse || v.AttachStatus != cinder.AttachAttached {
			return cinder.InvalidVolume("Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.")
		}
		v.Status = cinder.StatusDetaching
		return nil
	})
}

// RollDetaching is os-roll_detaching: a detaching volume goes back to
// in-use; any other is left as it is, without error.
func (a *API) RollDetaching(ctx context.Context, id string) error {
	return a.updateAttached(ctx, id, func(v *cinder.Volume, _ []*cinder.Attachment) error {
		if v.Status != cinder.StatusDetaching {
			return errUnchanged
		}
		v.Status = cinder.StatusInUse
		return nil
	})
}

// Attach is os-attach: volume id's backend records it attached as req
// says (attach_volume), in-use. It is refused in maintenance, and in a
// mode but ro when the volume is readonly.
func (a *API) Attach(ctx context.Context, id string, req cinder.Attach) error {
	v, err := a.Get(ctx, id)
	if err != nil {
		return err
	}
	if v.Status == cinder.StatusMaintenance {
		return cinder.InvalidVolume("The volume cannot be attached in maintenance mode.")
	}
	if v.Readonly() && req.Mode != "ro" {
		return cinder.InvalidVolumeAttachMode(req.Mode, v.ID)
	}
	if err := onBackend(v); err != nil {
		return err
	}
	if _, err := a.backends.AttachVolume(context.WithoutCancel(ctx), v, req); err != nil {
		return unreachable(err, "Could not ask cinder-volume to attach volume %s", v.ID)
	}
	return nil
}

// Detach is os-detach: volume id's backend ends its attachment
// attachmentID, or its only one when "" (detach_volume). It is refused in
// maintenance, and when the attachment is not the volume's.
func (a *API) Detach(ctx context.Context, id, attachmentID string) error {
	v, err := a.Get(ctx, id)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if err := a.deletionAllowed(ctx, v, attachmentID); err != nil {
		return err
	}
	if v.Status == cinder.StatusMaintenance {
		return cinder.InvalidVolume("The volume cannot be detached in maintenance mode.")
	}
	if err := onBackend(v); err != nil {
		return err
	}
	if err := a.backends.DetachVolume(ctx, v, attachmentID); err != nil {
		return unreachable(err, "Could not ask cinder-volume to detach volume %s", v.ID)
	}
	return nil
}

// deletionAllowed fails unless the caller may end attachment attachmentID
// of v ("": its only one), as Cinder's attachment_deletion_allowed: one it
// cannot name (none such, or several and none named) is refused with
// ConflictNovaUsingAttachment (409), one of another volume with
// InvalidInput. Cinder then asks Nova whether an instance still uses an
// attachment connected to it; this cloud has no Nova, which Cinder treats
// as the instance being gone: the attachment may end.
func (a *API) deletionAllowed(ctx context.Context, v *cinder.Volume, attachmentID string) error {
	var att *cinder.Attachment
	if attachmentID == "" {
		live, err := a.store.ListAttachments(ctx, db.AttachmentFilter{VolumeID: v.ID})
		switch {
		case err != nil:
			return err
		case len(live) == 0:
			return nil
		case len(live) == 1:
			att = live[0]
		}
	} else {
		var err error
		if att, err = a.store.GetAttachment(ctx, attachmentID); err != nil && !cinder.IsNotFound(err) {
			return err
		}
	}
	if att == nil {
		return cinder.Errorf("ConflictNovaUsingAttachment", 409, "Detach volume from instance %s using the Compute API", "")
	}
	if att.VolumeID != v.ID {
		return cinder.InvalidInput("Mismatched volume and attachment")
	}
	return nil
}

// ForceDetach is os-force_detach (admin): volume id's connection to
// connector is terminated as os-terminate_connection does, then its
// attachment attachmentID ends as os-detach does.
func (a *API) ForceDetach(ctx context.Context, id string, connector map[string]any, attachmentID string) error {
	if err := a.TerminateConnection(ctx, id, connector); err != nil {
		return err
	}
	return a.Detach(ctx, id, attachmentID)
}

// attached reports whether volume id has attachments (not deleted), of
// any status.
func (a *API) attached(ctx context.Context, id string) (bool, error) {
	live, err := a.store.ListAttachments(ctx, db.AttachmentFilter{VolumeID: id, Limit: 1})
	return len(live) > 0, err
}

// onBackend fails with InvalidVolume unless v is on a backend, which an
// action asking it of its backend needs.
func onBackend(v *cinder.Volume) error {
	if v.Host == "" {
		return cinder.InvalidVolume("Volume %s is not on a backend yet (status %s).", v.ID, v.Status)
	}
	return nil
}
