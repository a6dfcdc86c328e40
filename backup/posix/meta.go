package posix

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// metadata is <prefix>_metadata, as _write_metadata writes it: fields in
// the order of its sort_keys. extra_metadata, which the posix driver never
// sets, is ignored when read.
type metadata struct {
	BackupDescription *string                 `json:"backup_description"`
	BackupID          string                  `json:"backup_id"`
	BackupName        *string                 `json:"backup_name"`
	CreatedAt         string                  `json:"created_at"`
	Objects           []map[string]objectMeta `json:"objects"`
	ParentID          *string                 `json:"parent_id"`
	Version           string                  `json:"version"`
	VolumeID          string                  `json:"volume_id"`
	VolumeMeta        *string                 `json:"volume_meta"`
}

// objectMeta is an object's entry in the metadata; md5 is of the
// uncompressed bytes (_backup_chunk).
type objectMeta struct {
	Compression string `json:"compression"`
	Length      int64  `json:"length"`
	MD5         string `json:"md5"`
	Offset      int64  `json:"offset"`
}

// object is an object's entry, with its name.
type object struct {
	name string
	objectMeta
}

// objects returns md's objects in order, each entry's single key its name.
func (md *metadata) objects() ([]object, error) {
	objs := make([]object, 0, len(md.Objects))
	for _, m := range md.Objects {
		if len(m) != 1 {
			return nil, fmt.Errorf("metadata object entry has %d names, not 1", len(m))
		}
		for name, meta := range m {
			objs = append(objs, object{name, meta})
		}
	}
	return objs, nil
}

// nullable maps "" to JSON null, as Cinder stores an unset display name.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// pyTime formats t as Python's str() of an aware UTC datetime, the form
// Cinder records created_at in.
func pyTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 != 0 {
		return t.Format("2006-01-02 15:04:05.000000-07:00")
	}
	return t.Format("2006-01-02 15:04:05-07:00")
}

// readMetadata reads and decodes a backup's metadata file.
func readMetadata(path string) (*metadata, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var md metadata
	if err := json.Unmarshal(b, &md); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	if md.Version != formatVersion {
		return nil, fmt.Errorf("%s: no support to restore backup version %q", path, md.Version)
	}
	return &md, nil
}

// shaHeader is the sha256file's fields other than the list.
type shaHeader struct {
	BackupDescription *string `json:"backup_description"`
	BackupID          string  `json:"backup_id"`
	BackupName        *string `json:"backup_name"`
	ChunkSize         int     `json:"chunk_size"`
	CreatedAt         string  `json:"created_at"`
	Version           string  `json:"version"`
	VolumeID          string  `json:"volume_id"`
}

// shaWriter writes a sha256file as _write_sha256file does, in sorted key
// order with an indent of 2, streaming the list rather than holding it.
type shaWriter struct {
	w      *bufio.Writer
	hdr    shaHeader
	fields int // fields written
	n      int // sha256s written
}

// newSHAWriter starts a sha256file with hdr's fields, writing to w.
func newSHAWriter(w io.Writer, hdr shaHeader) *shaWriter {
	s := &shaWriter{w: bufio.NewWriterSize(w, 64<<10), hdr: hdr}
	s.str("{")
	s.field("backup_description", hdr.BackupDescription)
	s.field("backup_id", hdr.BackupID)
	s.field("backup_name", hdr.BackupName)
	s.field("chunk_size", hdr.ChunkSize)
	s.field("created_at", hdr.CreatedAt)
	s.str(",\n  \"sha256s\": [")
	return s
}

// str writes s; a bufio.Writer keeps its first error for close's Flush.
func (s *shaWriter) str(str string) { _, _ = s.w.WriteString(str) }

// field writes a key and its value, after a comma unless it is the first.
func (s *shaWriter) field(key string, v any) {
	if s.fields > 0 {
		s.str(",")
	}
	s.fields++
	b, _ := json.Marshal(v) // strings, numbers and nulls always marshal
	fmt.Fprintf(s.w, "\n  %q: %s", key, b)
}

// addHex appends the next block's sha256 given as its 64 lowercase hex
// digits, as hexdigest gives it: an unchanged block's entry is copied from
// the parent's list as it is, neither decoded nor encoded again.
func (s *shaWriter) addHex(h []byte) error {
	sep := ",\n    \""
	if s.n == 0 {
		sep = sep[1:]
	}
	s.n++
	_, _ = s.w.WriteString(sep) // a bufio.Writer keeps its first error
	_, _ = s.w.Write(h)
	return s.w.WriteByte('"')
}

// close ends the list and the document and flushes.
func (s *shaWriter) close() error {
	if s.n > 0 {
		s.str("\n  ")
	}
	s.str("]")
	s.field("version", s.hdr.Version)
	s.field("volume_id", s.hdr.VolumeID)
	s.str("\n}")
	return s.w.Flush()
}

// shaReader streams the sha256s of a sha256file without holding the list.
type shaReader struct {
	f         *os.File
	r         *bufio.Reader
	chunkSize int
	n         int  // hashes read
	end       bool // the list's closing bracket was read
	buf       [66]byte
	hex       [64]byte // nextHex's answer
}

// openSHAFile opens a sha256file and positions it at its first sha256,
// having found chunk_size wherever it is in the document.
func openSHAFile(path string) (*shaReader, error) {
	s, err := scanSHAFile(path, 0)
	if err == nil && s.chunkSize == 0 { // chunk_size follows the list
		_ = s.f.Close()
		var size int
		if size, err = chunkSizeAfterList(path); err == nil {
			s, err = scanSHAFile(path, size)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if s.chunkSize <= 0 {
		_ = s.f.Close()
		return nil, fmt.Errorf("read %s: chunk_size %d is invalid", path, s.chunkSize)
	}
	return s, nil
}

// scanSHAFile opens path and decodes its fields up to the list.
func scanSHAFile(path string, chunkSize int) (*shaReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s := &shaReader{f: f, chunkSize: chunkSize}
	d := json.NewDecoder(f)
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		_ = f.Close()
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	for d.More() {
		key, err := d.Token()
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		switch key {
		case "sha256s":
			s.r = bufio.NewReaderSize(io.MultiReader(d.Buffered(), f), 64<<10)
			if err := s.listStart(); err != nil {
				_ = f.Close()
				return nil, err
			}
			return s, nil
		case "chunk_size":
			err = d.Decode(&s.chunkSize)
		default:
			err = d.Decode(&json.RawMessage{})
		}
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("field %v: %w", key, err)
		}
	}
	_ = f.Close()
	return nil, errors.New("no sha256s list")
}

// chunkSizeAfterList finds chunk_size in a sha256file that has it after the
// list, decoding the list token by token rather than holding it.
func chunkSizeAfterList(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	d := json.NewDecoder(f)
	depth := 0
	for {
		t, err := d.Token()
		if err != nil {
			return 0, fmt.Errorf("no chunk_size: %w", err)
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		case "chunk_size":
			if depth == 1 {
				var n int
				return n, d.Decode(&n)
			}
		}
	}
}

// skipSpace reads past JSON white space and returns the next byte.
func (s *shaReader) skipSpace() (byte, error) {
	for {
		c, err := s.r.ReadByte()
		if err != nil || (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
			return c, err
		}
	}
}

// listStart reads past the colon after the key, which the JSON decoder may
// have left, and the list's opening bracket.
func (s *shaReader) listStart() error {
	c, err := s.skipSpace()
	if err == nil && c == ':' {
		c, err = s.skipSpace()
	}
	if err == nil && c != '[' {
		err = fmt.Errorf("sha256s is not a list: found %q", c)
	}
	return err
}

// next returns the next sha256; ok is false at the end of the list.
func (s *shaReader) next() (sum [32]byte, ok bool, err error) {
	if s.end {
		return sum, false, nil
	}
	c, err := s.skipSpace()
	if err == nil && s.n > 0 && c == ',' {
		c, err = s.skipSpace()
	}
	switch {
	case err != nil:
		return sum, false, fmt.Errorf("read %s: sha256 %d: %w", s.f.Name(), s.n, err)
	case c == ']':
		s.end = true
		return sum, false, nil
	case c != '"':
		return sum, false, fmt.Errorf("read %s: sha256 %d: found %q", s.f.Name(), s.n, c)
	}
	b := s.buf[:65]
	if _, err := io.ReadFull(s.r, b); err != nil || b[64] != '"' {
		return sum, false, fmt.Errorf("read %s: sha256 %d is not 64 hex digits in quotes", s.f.Name(), s.n)
	}
	if _, err := hex.Decode(sum[:], b[:64]); err != nil {
		return sum, false, fmt.Errorf("read %s: sha256 %d: %w", s.f.Name(), s.n, err)
	}
	s.n++
	return sum, true, nil
}

// nextHex returns the next sha256 as 64 lowercase hex digits, valid until
// the next call; ok is false at the end of the list. Entries as Cinder
// writes them (", newline, spaces, quoted lowercase hex") are taken from
// the read buffer without decoding; anything else goes through next,
// which checks it and reads any JSON white space.
func (s *shaReader) nextHex() (h []byte, ok bool, err error) {
	if !s.end {
		if b, _ := s.r.Peek(80); len(b) > 0 {
			i := 0
			if s.n > 0 && b[0] == ',' {
				i++
			}
			for i < len(b) && (b[i] == '\n' || b[i] == ' ') {
				i++
			}
			if i+66 <= len(b) && b[i] == '"' && b[i+65] == '"' && isLowerHex(b[i+1:i+65]) {
				copy(s.hex[:], b[i+1:i+65])
				_, _ = s.r.Discard(i + 66) // peeked: cannot fail
				s.n++
				return s.hex[:], true, nil
			}
		}
	}
	sum, ok, err := s.next()
	if !ok {
		return nil, ok, err
	}
	hex.Encode(s.hex[:], sum[:])
	return s.hex[:], true, nil
}

// isLowerHex reports whether b holds only the digits hexdigest writes.
func isLowerHex(b []byte) bool {
	for _, c := range b {
		if lowerHex[c] == 0 {
			return false
		}
	}
	return true
}

var lowerHex = func() (t [256]byte) {
	for _, c := range "0123456789abcdef" {
		t[c] = 1
	}
	return t
}()

func (s *shaReader) close() { _ = s.f.Close() } // read-only: nothing to lose
