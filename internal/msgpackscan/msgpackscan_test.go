package msgpackscan

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// skipLen is the msgpack library's reading of the value at the start of
// b: the bytes its Skip consumes.
func skipLen(b []byte) (int, error) {
	r := bytes.NewReader(b)
	d := msgpack.NewDecoder(r)
	if err := d.Skip(); err != nil {
		return 0, err
	}
	return len(b) - r.Len(), nil
}

// TestLenMeasuresWhatTheLibraryEncodes: for values of every kind
// the library encodes, Len gives the encoding's length, and every
// cut of it is refused.
func TestLenMeasuresWhatTheLibraryEncodes(t *testing.T) {
	long := strings.Repeat("x", 70000)
	values := []any{
		nil, true, false, 0, 1, -1, -33, 127, 128, 255, 256, 65536, math.MaxInt64, math.MinInt64, uint64(math.MaxUint64),
		float32(1.5), 2.5, "", "a", strings.Repeat("y", 31), strings.Repeat("y", 32), strings.Repeat("y", 256), long,
		[]byte{}, []byte{1, 2, 3}, bytes.Repeat([]byte{7}, 300), bytes.Repeat([]byte{7}, 70000),
		[]any{}, []any{1, "a", nil}, make([]int, 16), make([]int, 70000),
		map[string]any{}, map[string]any{"a": 1, "b": []any{map[string]any{"c": nil}}},
		map[int]string{1: "a", 2: "b", 3: "c", 4: "d", 5: "e", 6: "f", 7: "g", 8: "h", 9: "i", 10: "j", 11: "k", 12: "l", 13: "m", 14: "n", 15: "o", 16: "p"},
		time.Unix(1, 0), time.Unix(1<<40, 5), time.Unix(1<<35, 0).UTC(),
		[]any{[]any{[]any{[]any{}}}, []any{}},
	}
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := Len(b); err != nil || n != len(b) {
			t.Errorf("%T %.40v (%x…): %d, %v; want %d", v, v, b[:min(len(b), 8)], n, err, len(b))
		}
		if n, err := Len(append(b, 0xc0)); err != nil || n != len(b) {
			t.Errorf("%T with a value after it: %d, %v", v, n, err)
		}
		for _, cut := range []int{0, 1, len(b) / 2, len(b) - 1} {
			if cut >= len(b) {
				continue
			}
			if _, err := Len(b[:cut]); err == nil {
				t.Errorf("%T cut at %d of %d bytes accepted", v, cut, len(b))
			}
		}
	}
	// Every extension size.
	for _, head := range [][]byte{{0xd4, 1}, {0xd5, 1}, {0xd6, 1}, {0xd7, 1}, {0xd8, 1}, {0xc7, 3, 1}, {0xc8, 0, 3, 1}, {0xc9, 0, 0, 0, 3, 1}} {
		size := map[byte]int{0xd4: 1, 0xd5: 2, 0xd6: 4, 0xd7: 8, 0xd8: 16}[head[0]]
		if size == 0 {
			size = 3
		}
		b := append(append([]byte{}, head...), make([]byte, size)...)
		want, err := skipLen(b)
		if err != nil {
			t.Fatalf("%x: the library refuses it: %v", b, err)
		}
		if n, err := Len(b); err != nil || n != want {
			t.Errorf("ext %x: %d, %v; want %d", head, n, err, want)
		}
	}
}

// TestLenRefusesWhatCannotFit: declared lengths and counts beyond
// the bytes present, the unused code and nesting past the bound are
// refused, each without allocating for what is declared.
func TestLenRefusesWhatCannotFit(t *testing.T) {
	for _, b := range [][]byte{
		{}, {0xc1}, {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, {0xc6, 0xdb, 0xdb, 0xdb, 0xdb}, {0xc9, 0xff, 0xff, 0xff, 0xff, 1},
		{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0}, {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xc0, 0xc0}, {0xde, 0x00, 0x02, 0xc0, 0xc0, 0xc0},
		{0x92, 0x01}, {0x81, 0x01}, {0xda, 0x00}, {0xcb, 0, 0}, {0xd8, 1, 2},
		[]byte("\r\x95\x03*\xdb\xdb\xdb\xc3\xdb00000")[1:], // what the SDK's FuzzParseCompletion found
	} {
		if n, err := Len(b); err == nil {
			t.Errorf("%x accepted as %d bytes", b, n)
		}
	}
	deep := bytes.Repeat([]byte{0x91}, MaxDepth)
	if n, err := Len(append(deep, 0xc0)); err != nil || n != len(deep)+1 {
		t.Errorf("%d levels: %d, %v", MaxDepth, n, err)
	}
	if _, err := Len(append(append(deep, 0x91), 0xc0)); !errors.Is(err, ErrDepth) {
		t.Errorf("%d levels: %v", MaxDepth+1, err)
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = Len([]byte{0x93, 0xdb, 0, 0, 0, 1, 'a', 0x80, 0xc0}) }); a != 0 {
		t.Errorf("a shallow value costs %.0f allocations", a)
	}
}

// FuzzLen holds Len to the msgpack library's Skip: what
// Len measures, Skip reads to the same end; what Skip reads within
// the nesting bound, Len measures the same.
func FuzzLen(f *testing.F) {
	for _, v := range []any{nil, 1, "a", []any{1, map[string]any{"b": []byte{2}}}, time.Unix(1, 2)} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xdb, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xc7, 1, 1, 0, 0xc0})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := Len(b)
		if err == nil {
			if n <= 0 || n > len(b) {
				t.Fatalf("%x: length %d", b, n)
			}
			if m, err := skipLen(b[:n]); err != nil || m != n {
				t.Fatalf("%x: Len %d, Skip %d, %v", b, n, m, err)
			}
			return
		}
		if len(b) > 64<<10 {
			return // Skip's reading of a large refusal costs more than it tells
		}
		if m, serr := skipLen(b); serr == nil && !errors.Is(err, ErrDepth) {
			t.Fatalf("%x: Skip reads %d bytes, Len refuses: %v", b, m, err)
		}
	})
}
