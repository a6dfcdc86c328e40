package keystone

import (
	"crypto/sha256"
	"sync"
	"time"
)

// defaultCacheSize bounds the cache: past it, an arbitrary entry makes room.
const defaultCacheSize = 10000

// cacheKey is the SHA-256 of a token, so that the cache holds no token
// itself (keystonemiddleware's key is the same hash).
func cacheKey(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return string(sum[:])
}

// cache holds Keystone's answers for valid tokens until they go stale.
type cache struct {
	mu      sync.Mutex
	max     int
	entries map[string]entry
}

type entry struct {
	tok   *token
	stale time.Time
}

func newCache(maxEntries int) *cache {
	return &cache{max: maxEntries, entries: make(map[string]entry)}
}

// get returns the token cached under key, nil if none or stale at now.
func (c *cache) get(key string, now time.Time) *token {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil
	}
	if !now.Before(e.stale) {
		delete(c.entries, key)
		return nil
	}
	return e.tok
}

// put caches t under key until stale, evicting an entry if the cache is full.
func (c *cache) put(key string, t *token, stale time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		for k := range c.entries { // map order is random: a random victim
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = entry{tok: t, stale: stale}
}
