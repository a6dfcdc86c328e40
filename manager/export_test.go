package manager

import "time"

// SetProgressInterval sets how often m's migration copies log progress and
// check for a take-over, so that tests need not wait the default.
func (m *Manager) SetProgressInterval(d time.Duration) { m.progressInterval = d }
