package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/cinder-go/cinder"
)

// freezeHost (call, no arguments) is the backend's part of freeze_host: its
// drivers keep no control plane of their own to put in read-only mode (the
// base driver's freeze_backend), so the manager disables its service with
// reason "frozen" and answers true, as Cinder's.
func (m *Manager) freezeHost(ctx context.Context, _ json.RawMessage) (any, error) {
	if err := m.setServiceDisabled(ctx, true, "frozen"); err != nil {
		return nil, err
	}
	slog.Info("set backend status to frozen", "host", m.host)
	return true, nil
}

// thawHost (call, no arguments) undoes freezeHost: the service is enabled
// again, its reason cleared; it answers true.
func (m *Manager) thawHost(ctx context.Context, _ json.RawMessage) (any, error) {
	if err := m.setServiceDisabled(ctx, false, ""); err != nil {
		return nil, err
	}
	slog.Info("thawed backend", "host", m.host)
	return true, nil
}

// setServiceDisabled sets the disabled flag and reason of the backend's service.
func (m *Manager) setServiceDisabled(ctx context.Context, disabled bool, reason string) error {
	svc, err := m.store.GetService(ctx, m.host, cinder.BinaryVolume)
	if err == nil {
		_, err = m.store.UpdateService(ctx, svc.ID, func(s *cinder.Service) error {
			s.Disabled, s.DisabledReason = disabled, reason
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("set service of backend %s disabled=%t: %w", m.host, disabled, err)
	}
	return nil
}

// FreezeHost calls freeze_host on backend host (host@backend).
func (c *Client) FreezeHost(ctx context.Context, host string) error {
	return c.call(ctx, host, "freeze_host", map[string]any{}, nil)
}

// ThawHost calls thaw_host on backend host; a backend answering false
// could not thaw and stays frozen.
func (c *Client) ThawHost(ctx context.Context, host string) error {
	var ok bool
	if err := c.call(ctx, host, "thaw_host", map[string]any{}, &ok); err != nil {
		return err
	}
	if !ok {
		return cinder.VolumeBackendAPIException("Backend reported error during thaw_host operation.")
	}
	return nil
}
