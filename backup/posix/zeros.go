package posix

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"hash"
	"io"
	"sync"
)

// zeroUnit is the unit of the canonical zero encodings: they depend on
// nothing but the length encoded.
const zeroUnit = 1 << 20

// md5Step is the step of the md5 table of zeros: a sha block, so that the
// md5 of a run of zero blocks needs no hashing once the table is built.
const md5Step = 32 << 10

// zeros is a source of zero bytes.
var zeros = make([]byte, zeroUnit)

// isZero reports whether b holds only zeros; bytes.Equal is the runtime's
// vectorised memequal.
func isZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// writeZeroBytes writes n zero bytes to w.
func writeZeroBytes(w io.Writer, n int64) error {
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := w.Write(zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// cache memoises a function of a length; the lengths asked for are few
// (a sha block, a zero unit and the tails of runs), so it never grows large.
type cache[T any] struct {
	mu sync.Mutex
	m  map[int64]T
	f  func(int64) T
}

func (c *cache[T]) get(n int64) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[n]
	if !ok {
		if c.m == nil {
			c.m = make(map[int64]T)
		}
		v = c.f(n)
		c.m[n] = v
	}
	return v
}

// zeroSHA is the sha256 of n zero bytes: what a hole's block records.
var zeroSHA = cache[[32]byte]{f: func(n int64) [32]byte {
	h := sha256.New()
	_ = writeZeroBytes(h, n)
	return [32]byte(h.Sum(nil))
}}

// md5Zeros gives the md5 of n zero bytes from the md5 states after each
// md5Step of zeros, computed once up to the longest length asked for (at
// most zeroObjectMax, 2048 states): a zero object's md5 then costs at most
// md5Step bytes of hashing.
var md5Zeros = &zeroMD5{}

type zeroMD5 struct {
	mu     sync.Mutex
	states [][]byte // states[i] is the marshalled md5 state after i steps of zeros
	h      hash.Hash
}

// sum returns the hex md5 of n zero bytes.
func (z *zeroMD5) sum(n int64) string {
	z.mu.Lock()
	if z.h == nil {
		z.h = md5.New()
		z.states = [][]byte{z.marshal()}
	}
	for int64(len(z.states)-1) < n/md5Step {
		z.h.Write(zeros[:md5Step])
		z.states = append(z.states, z.marshal())
	}
	state := z.states[n/md5Step]
	z.mu.Unlock()
	h := md5.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		panic(err) // a state marshalled by the same package always unmarshals
	}
	h.Write(zeros[:n%md5Step])
	return hex.EncodeToString(h.Sum(nil))
}

func (z *zeroMD5) marshal() []byte {
	b, err := z.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(err) // crypto/md5 always marshals
	}
	return b
}
