// Package msgpackscan measures a MessagePack value without decoding it,
// checking what it declares against the bytes present. The SDK and the
// emulator scan untrusted MessagePack with it before they decode it,
// because the msgpack library trusts the lengths a value declares
// (v5.4.1):
//   - a str, bin or ext longer than the bytes left makes the decoder grow
//     its buffer by a megabyte or more before the read fails, and a
//     pooled decoder keeps that buffer, so each such 14-byte record made
//     the next one cost more (4.5 GB of heap after 35 records in the SDK's
//     ParseCompletion; its fuzz target found it);
//   - an array or map header makes room for up to a million elements;
//   - Skip and Decode recurse once per level of nesting.
//
// After [Len] accepts a value, every length and count it declares fits in
// the bytes present and it nests at most [MaxDepth] levels deep, so
// decoding it allocates in proportion to its size.
package msgpackscan

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxDepth bounds the nesting of arrays and maps, as encoding/json bounds
// JSON's (10,000 levels).
const MaxDepth = 10000

// Errors of [Len].
var (
	ErrTruncated = errors.New("a MessagePack value is longer than the bytes present")
	ErrDepth     = fmt.Errorf("MessagePack nested deeper than %d levels", MaxDepth)
	ErrCode      = errors.New("0xc1 is not a MessagePack code")
)

// Len returns the length in bytes of the MessagePack value at the start
// of b, after checking that every length and count it declares fits in b
// and that it nests at most [MaxDepth] levels deep.
func Len(b []byte) (int, error) {
	// open holds, per enclosing array or map, the values it still holds;
	// the first levels stay in inline.
	var inline [16]int
	open := inline[:0]
	pos := 0
	for {
		if pos >= len(b) {
			return 0, ErrTruncated
		}
		size, count, err := head(b[pos:])
		if err != nil {
			return 0, err
		}
		if size > len(b)-pos || count > len(b)-pos-size { // every element takes a byte
			return 0, ErrTruncated
		}
		pos += size
		if count > 0 {
			if len(open) == MaxDepth {
				return 0, ErrDepth
			}
			open = append(open, count)
			continue
		}
		// A value ended: close every container it completes.
		for {
			if len(open) == 0 {
				return pos, nil
			}
			if open[len(open)-1]--; open[len(open)-1] > 0 {
				break
			}
			open = open[:len(open)-1]
		}
	}
}

// head reads the head of the value at the start of b (not empty):
// size is the bytes of the head and of its data (a string's, a number's),
// count the values that follow it as its elements (an array's, twice a
// map's entries).
func head(b []byte) (size, count int, err error) {
	c := b[0]
	switch {
	case c <= 0x7f, c >= 0xe0: // positive and negative fixint
		return 1, 0, nil
	case c <= 0x8f: // fixmap
		return 1, 2 * int(c&0x0f), nil
	case c <= 0x9f: // fixarray
		return 1, int(c & 0x0f), nil
	case c <= 0xbf: // fixstr
		return 1 + int(c&0x1f), 0, nil
	}
	// n reads the big-endian length of k bytes after the code; a length
	// beyond b is refused here, so that no sum below overflows an int.
	n := func(k int) (int, error) {
		if len(b) < 1+k {
			return 0, ErrTruncated
		}
		var l uint64
		switch k {
		case 1:
			l = uint64(b[1])
		case 2:
			l = uint64(binary.BigEndian.Uint16(b[1:]))
		default:
			l = uint64(binary.BigEndian.Uint32(b[1:]))
		}
		if l > uint64(len(b)) {
			return 0, ErrTruncated
		}
		return int(l), nil
	}
	var k, extra int // length bytes; bytes after them besides the data (an ext's type)
	switch c {
	case 0xc0, 0xc2, 0xc3: // nil, false, true
		return 1, 0, nil
	case 0xc1:
		return 0, 0, ErrCode
	case 0xcc, 0xd0: // uint 8, int 8
		return 2, 0, nil
	case 0xcd, 0xd1:
		return 3, 0, nil
	case 0xca, 0xce, 0xd2: // float 32, uint 32, int 32
		return 5, 0, nil
	case 0xcb, 0xcf, 0xd3:
		return 9, 0, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: type and data
		return 2 + 1<<(c-0xd4), 0, nil
	case 0xc4, 0xd9: // bin 8, str 8
		k = 1
	case 0xc5, 0xda:
		k = 2
	case 0xc6, 0xdb:
		k = 4
	case 0xc7: // ext 8
		k, extra = 1, 1
	case 0xc8:
		k, extra = 2, 1
	case 0xc9:
		k, extra = 4, 1
	case 0xdc, 0xde: // array 16, map 16
		k = 2
	case 0xdd, 0xdf: // array 32, map 32
		k = 4
	}
	l, err := n(k)
	if err != nil {
		return 0, 0, err
	}
	switch c {
	case 0xdc, 0xdd:
		return 1 + k, l, nil
	case 0xde, 0xdf:
		return 1 + k, 2 * l, nil
	}
	return 1 + k + extra + l, 0, nil
}
