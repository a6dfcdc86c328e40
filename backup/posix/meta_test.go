package posix

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nextHex gives the sha256s of a sha256file as lowercase hex, taken as
// they are from a list as Cinder writes it and through the decoder from
// any other: upper case, other white space, entries split across reads.
func TestSHAReaderNextHex(t *testing.T) {
	var sums []string
	for i := range 3000 { // more than one read buffer
		s := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		sums = append(sums, hex.EncodeToString(s[:]))
	}
	lists := map[string]string{
		"cinder":              `"` + strings.Join(sums, "\",\n    \"") + "\"\n  ",
		"compact":             `"` + strings.Join(sums, `","`) + `"`,
		"tabs and upper case": "\t\"" + strings.ToUpper(strings.Join(sums, "\" ,\r\n\t\"")) + "\"\t",
	}
	for name, list := range lists {
		path := filepath.Join(t.TempDir(), "sha256file")
		doc := "{\n  \"chunk_size\": 32768,\n  \"sha256s\": [\n    " + list + "],\n  \"version\": \"1.0.0\"\n}"
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := openSHAFile(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := 0; ; i++ {
			h, ok, err := s.nextHex()
			if err != nil {
				t.Fatalf("%s: entry %d: %v", name, i, err)
			}
			if !ok {
				if i != len(sums) {
					t.Errorf("%s: %d entries, want %d", name, i, len(sums))
				}
				break
			}
			if i >= len(sums) || string(h) != sums[i] {
				t.Fatalf("%s: entry %d is %q", name, i, h)
			}
		}
		s.close()
	}
	path := filepath.Join(t.TempDir(), "sha256file")
	bad := "{\"chunk_size\": 32768, \"sha256s\": [\"" + sums[0] + "\", \"" + strings.Repeat("g", 64) + "\"]}"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := openSHAFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if _, ok, err := s.nextHex(); !ok || err != nil {
		t.Fatalf("first entry: %v %v", ok, err)
	}
	if _, _, err := s.nextHex(); err == nil {
		t.Error("an entry that is not hex was taken")
	}
}
