package manager

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// attachmentArgs are the arguments of attachment_update and
// attachment_delete: the volume (vref), of which only the id is read, the
// attachment's id and, for an update, the connector.
type attachmentArgs struct {
	Vref         *idArg         `json:"vref"`
	AttachmentID string         `json:"attachment_id"`
	Connector    map[string]any `json:"connector"`
}

// loadAttachment reads the volume and attachment a call names: the volume
// must be on this backend and the attachment its.
func (m *Manager) loadAttachment(ctx context.Context, method string, raw json.RawMessage) (*cinder.Attachment, *cinder.Volume, attachmentArgs, error) {
	var a attachmentArgs
	if err := decode(method, raw, &a); err != nil {
		return nil, nil, a, err
	}
	var va volumeArgs
	if a.Vref != nil {
		va.VolumeID = a.Vref.ID
	}
	v, err := m.load(ctx, va)
	if err != nil {
		return nil, nil, a, err
	}
	att, err := m.store.GetAttachment(ctx, a.AttachmentID)
	if err == nil && att.VolumeID != v.ID {
		err = cinder.InvalidInput("%s: attachment %s is not of volume %s", method, att.ID, v.ID)
	}
	return att, v, a, err
}

// attachmentUpdate (call: vref, connector, attachment_id) connects a volume
// to a connector for an attachment, as manager.py attachment_update: the
// attachment records the connector, its host and mountpoint and the mode
// (the attachment's own unless "null", else the connector's, else rw), and
// it and the volume become attaching. It answers the connection info.
func (m *Manager) attachmentUpdate(ctx context.Context, raw json.RawMessage) (any, error) {
	att, v, a, err := m.loadAttachment(ctx, "attachment_update", raw)
	if err != nil {
		return nil, err
	}
	connector := a.Connector
	if connector == nil {
		connector = map[string]any{}
	}
	mode, ok := connector["mode"]
	if !ok {
		mode = "rw"
	}
	if att.AttachMode != "null" {
		mode = orNone(att.AttachMode)
		connector["mode"] = mode
	}
	info, err := m.connect(ctx, v, att.ID, connector)
	if err != nil {
		return nil, err
	}
	mountpoint, ok := connector["mountpoint"]
	if !ok {
		mountpoint = "na"
	}
	_, _, err = m.store.UpdateAttachment(ctx, att.ID, func(att *cinder.Attachment, v *cinder.Volume) error {
		t := time.Now()
		att.AttachStatus, att.Connector, att.AttachTime = cinder.AttachAttaching, connector, &t
		att.AttachedHost, att.Mountpoint, att.AttachMode = text(connector["host"]), text(mountpoint), text(mode)
		v.Status, v.AttachStatus = cinder.StatusAttaching, cinder.AttachAttaching
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record attachment %s of volume %s: %w", att.ID, v.ID, err)
	}
	slog.Info("attachment_update completed successfully", "volume_id", v.ID, "attachment_id", att.ID, "host", m.host)
	return info, nil
}

// text is v when it is a string, else "" (JSON null, or a value no string
// column can hold).
func text(v any) string {
	s, _ := v.(string)
	return s
}

// connect asks the driver to expose v to connector for attachment id, and
// returns the connection info as Cinder's _connection_create makes it:
// the driver's data, Cinder's connection options (qos_specs, access_mode,
// encrypted, cacheable) unless the driver set them, driver_volume_type and
// attachment_id, in that order.
func (m *Manager) connect(ctx context.Context, v *cinder.Volume, id string, connector map[string]any) (json.RawMessage, error) {
	ci, err := m.drv.InitializeConnection(ctx, v, connector)
	if err != nil {
		slog.Error("failed to initialize connection", "volume_id", v.ID, "attachment_id", id, "host", m.host, "err", err)
		return nil, cinder.VolumeBackendAPIException("Driver initialize connection failed (error: %v).", err)
	}
	cacheable := false
	if v.VolumeTypeID != "" {
		t, err := m.store.GetVolumeType(ctx, v.VolumeTypeID)
		if err != nil && !cinder.IsNotFound(err) {
			return nil, err
		}
		cacheable = t != nil && t.ExtraSpecs["cacheable"] == "<is> True"
	}
	qos, err := m.qosSpecs(ctx, v)
	if err != nil {
		return nil, err
	}
	var o orderedObject
	for _, k := range sortedKeys(ci.Data) {
		o.add(k, ci.Data[k])
	}
	o.add("qos_specs", qos)
	o.add("access_mode", v.AccessMode())
	if _, ok := ci.Data["encrypted"]; !ok {
		o.add("encrypted", false)
	}
	if _, ok := ci.Data["cacheable"]; !ok {
		o.add("cacheable", cacheable)
	}
	o.add("driver_volume_type", ci.DriverVolumeType)
	o.add("attachment_id", id)
	return o.encode()
}

// sortedKeys are m's keys in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// orderedObject is a JSON object whose keys keep the order they are added
// in, as a Python dict.
type orderedObject struct {
	keys   []string
	values []any
}

func (o *orderedObject) add(k string, v any) {
	o.keys = append(o.keys, k)
	o.values = append(o.values, v)
}

// encode writes o as JSON.
func (o *orderedObject) encode() (json.RawMessage, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteString(", ")
		}
		key, err := json.Marshal(k)
		if err != nil {
			return nil, fmt.Errorf("encode connection info key %q: %w", k, err)
		}
		value, err := json.Marshal(o.values[i])
		if err != nil {
			return nil, fmt.Errorf("encode connection info %s: %w", k, err)
		}
		b.Write(key)
		b.WriteString(": ")
		b.Write(value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// attachmentDelete (call: attachment_id, vref) withdraws an attachment's
// connection, as manager.py attachment_delete: an attachment made without a
// connector never reached the driver and is skipped. The caller then
// deletes the attachment.
func (m *Manager) attachmentDelete(ctx context.Context, raw json.RawMessage) (any, error) {
	att, v, _, err := m.loadAttachment(ctx, "attachment_delete", raw)
	if err != nil {
		return nil, err
	}
	if att.Connector == nil {
		slog.Debug("no connector for attachment; skipping the backend's terminate_connection", "attachment_id", att.ID)
		return nil, nil
	}
	if err := m.drv.TerminateConnection(ctx, v, att.Connector); err != nil {
		slog.Error("failed to terminate connection", "volume_id", v.ID, "attachment_id", att.ID, "host", m.host, "err", err)
		return nil, cinder.VolumeBackendAPIException("Terminate volume connection failed: %v", err)
	}
	slog.Info("terminated the connection of an attachment", "volume_id", v.ID, "attachment_id", att.ID, "host", m.host)
	return nil, nil
}

// attachVolume (call: volume_id, instance_uuid, host_name, mountpoint, mode,
// volume) records a volume attached, as manager.py attach_volume: an
// instance (or host) already attached to it only makes it in-use again;
// otherwise a volume in-use, not multiattach and not migrating, is
// refused, and a new attachment becomes attached and the volume in-use;
// a readonly volume's in a mode but ro ends error_attaching, refused.
// It answers the attachment.
func (m *Manager) attachVolume(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		volumeArgs
		InstanceUUID string `json:"instance_uuid"`
		HostName     string `json:"host_name"`
		Mountpoint   string `json:"mountpoint"`
		Mode         string `json:"mode"`
	}
	if err := decode("attach_volume", raw, &a); err != nil {
		return nil, err
	}
	v, err := m.load(ctx, a.volumeArgs)
	if err != nil {
		return nil, err
	}
	host := sanitizeHostname(a.HostName)
	live, err := m.store.ListAttachments(ctx, db.AttachmentFilter{VolumeID: v.ID})
	if err != nil {
		return nil, err
	}
	for _, l := range live {
		if l.AttachStatus != cinder.AttachDetached && (a.InstanceUUID != "" && l.InstanceUUID == a.InstanceUUID ||
			a.InstanceUUID == "" && l.AttachedHost == host) {
			m.setStatus(ctx, v.ID, cinder.StatusInUse)
			return l, nil
		}
	}
	att := &cinder.Attachment{VolumeID: v.ID, AttachStatus: cinder.AttachAttaching}
	if _, err := m.store.CreateAttachment(ctx, att, func(v *cinder.Volume, _ []*cinder.Attachment) error {
		if v.Status == cinder.StatusInUse && !v.Multiattach && v.MigrationStatus == "" {
			return cinder.InvalidVolume("volume is already attached and multiple attachments are not enabled")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if _, err := uuid.Parse(a.InstanceUUID); a.InstanceUUID != "" && err != nil {
		m.setAttachStatus(ctx, att.ID, cinder.AttachErrorAttaching)
		return nil, cinder.Errorf("InvalidUUID", 400, "Expected a UUID but received %s.", a.InstanceUUID)
	}
	if v.Readonly() && a.Mode != "ro" {
		m.setAttachStatus(ctx, att.ID, cinder.AttachErrorAttaching)
		return nil, cinder.InvalidVolumeAttachMode(a.Mode, v.ID)
	}
	att, _, err = m.store.UpdateAttachment(ctx, att.ID, func(att *cinder.Attachment, v *cinder.Volume) error {
		t := time.Now()
		att.Mountpoint, att.AttachStatus, att.InstanceUUID = a.Mountpoint, cinder.AttachAttached, a.InstanceUUID
		att.AttachedHost, att.AttachTime, att.AttachMode = host, &t, a.Mode
		v.Status, v.AttachStatus = cinder.StatusInUse, cinder.AttachAttached
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record attachment of volume %s: %w", v.ID, err)
	}
	slog.Info("attached volume", "volume_id", v.ID, "attachment_id", att.ID, "instance_uuid", a.InstanceUUID,
		"host_name", host, "mountpoint", a.Mountpoint, "host", m.host)
	return att, nil
}

// setAttachStatus sets attachment id's attach_status, logging a failure.
func (m *Manager) setAttachStatus(ctx context.Context, id, status string) {
	if _, _, err := m.store.UpdateAttachment(ctx, id, func(a *cinder.Attachment, _ *cinder.Volume) error {
		a.AttachStatus = status
		return nil
	}); err != nil {
		slog.Error("failed to set attachment status", "attachment_id", id, "host", m.host, "status", status, "err", err)
	}
}

// sanitizeHostname is Cinder's sanitize_hostname: Latin-1 only, spaces and
// underscores as dashes, no other character than letters, digits, dots and
// dashes, lower case, no leading or trailing dot or dash.
func sanitizeHostname(h string) string {
	var b strings.Builder
	for _, r := range h {
		switch {
		case r > unicode.MaxLatin1:
		case r == ' ' || r == '_':
			b.WriteByte('-')
		case r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return strings.Trim(strings.ToLower(b.String()), ".-")
}

// detachVolume (call: volume_id, attachment_id, volume) ends an attachment
// of a volume, as manager.py detach_volume: without attachment_id the
// volume's only one (several are refused, none leaves the volume
// available); an attachment already gone only settles the volume's
// statuses. The volume then takes its statuses from the attachments left.
func (m *Manager) detachVolume(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		volumeArgs
		AttachmentID string `json:"attachment_id"`
	}
	if err := decode("detach_volume", raw, &a); err != nil {
		return nil, err
	}
	v, err := m.load(ctx, a.volumeArgs)
	if err != nil {
		return nil, err
	}
	id := a.AttachmentID
	if id == "" {
		live, err := m.store.ListAttachments(ctx, db.AttachmentFilter{VolumeID: v.ID})
		switch {
		case err != nil:
			return nil, err
		case len(live) > 1:
			return nil, cinder.InvalidVolume("Detach volume failed: More than one attachment, but no attachment_id provided.")
		case len(live) == 0:
			slog.Info("volume detach called, but volume not attached", "volume_id", v.ID, "host", m.host)
			_, err := m.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
				v.Status, v.AttachStatus = cinder.StatusAvailable, cinder.AttachDetached
				return nil
			})
			return nil, err
		}
		id = live[0].ID
	}
	if _, err := m.store.DetachAttachment(ctx, v.ID, id); err != nil {
		return nil, fmt.Errorf("detach volume %s: %w", v.ID, err)
	}
	slog.Info("detached volume", "volume_id", v.ID, "attachment_id", id, "host", m.host)
	return nil, nil
}
