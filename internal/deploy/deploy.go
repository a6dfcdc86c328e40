// Package deploy writes the cinder.conf of a test or benchmark deployment
// and speaks the volume API to it, for tests/ and bench/.
package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
)

// Conf is a deployment's cinder.conf: host hostA, the API on
// 127.0.0.1:Port without authentication, and Backends enabled in order.
type Conf struct {
	StatePath       string    // state_path
	Transport       string    // transport_url
	Exchange        string    // control_exchange
	Port            int       // osapi_volume_listen_port
	Default         string    // more [DEFAULT] lines
	Database        string    // [database] connection; no [database] section when empty
	DatabaseOptions string    // more [database] lines, with Database
	Backends        []Backend // the backend sections, enabled_backends in this order
}

// Backend is one backend section.
type Backend struct {
	Name    string // the section name, also its volume_backend_name
	Options string // the section's other lines
}

// Write writes c to the file path.
func (c Conf) Write(path string) error {
	names := make([]string, len(c.Backends))
	for i, be := range c.Backends {
		names[i] = be.Name
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[DEFAULT]\nhost = hostA\nstate_path = %s\ntransport_url = %s\ncontrol_exchange = %s\n", c.StatePath, c.Transport, c.Exchange)
	fmt.Fprintf(&b, "osapi_volume_listen = 127.0.0.1\nosapi_volume_listen_port = %d\nauth_strategy = noauth\n", c.Port)
	fmt.Fprintf(&b, "enabled_backends = %s\n", strings.Join(names, ","))
	lines(&b, c.Default)
	if c.Database != "" {
		fmt.Fprintf(&b, "\n[database]\nconnection = %s\n", c.Database)
		lines(&b, c.DatabaseOptions)
	}
	for _, be := range c.Backends {
		fmt.Fprintf(&b, "\n[%s]\nvolume_backend_name = %s\n", be.Name, be.Name)
		lines(&b, be.Options)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// lines writes s to b, ending it with a newline if it lacks one.
func lines(b *strings.Builder, s string) {
	b.WriteString(s)
	if s != "" && !strings.HasSuffix(s, "\n") {
		b.WriteByte('\n')
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}

// Request sends method url through client with the noauth token
// (user:project) at microversion 3.64, body as JSON unless nil, and returns
// the answer's status and bytes.
func Request(ctx context.Context, client *http.Client, token, method, url string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("%s %s: encode body: %w", method, url, err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("OpenStack-API-Version", "volume 3.64")
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }() // read-only: nothing to lose
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read answer: %w", method, url, err)
	}
	return resp.StatusCode, raw, nil
}
